"""Judge v2 (issue 21): exact penetration against an analytic depth, the sampled v1 measure missing
a corner overlap, hand self-collision, rotation from the pose before closing, and the hand's strength
taken from the LEAP driver's settings."""

import mujoco
import numpy as np
import pytest
import yaml
from scipy.spatial.transform import Rotation

from ifgrasp.errors import ConfigError
from ifgrasp.grasp.metrics import contact_stats
from ifgrasp.grasp.object_sdf import ObjectSDF
from ifgrasp.grasp.validate import ValidationConfig, _Batch, validate
from ifgrasp.hand import LeapHandModel
from ifgrasp.hand.joints import JOINT_NAMES, OPEN_JOINTS_RAD, PREGRASP_JOINTS_RAD
from ifgrasp.hand.strength import XC330_STALL_POINTS, finger_strength, kp_nm_per_rad
from ifgrasp.paths import CONFIG_DIR
from ifgrasp.sim.objects import make_object
from ifgrasp.types import GraspBatch

FAST = ValidationConfig(lift_s=0.6, shake_s_per_axis=0.3, gravity_test_s=0.5, max_copies=16)


def _hand_box_corners(batch: _Batch) -> np.ndarray:
    """(K, 3) world corners of every collision box of copy 0's hand."""
    m, d = batch.model, batch.data
    geoms = np.flatnonzero((batch.geom_hand_copy == 0) & (m.geom_contype > 0))
    assert np.all(m.geom_type[geoms] == mujoco.mjtGeom.mjGEOM_BOX)
    signs = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T  # (8, 3)
    local = signs[None] * m.geom_size[geoms][:, None]  # (G, 8, 3)
    R = d.geom_xmat[geoms].reshape(-1, 3, 3)
    return (np.einsum("gij,gkj->gki", R, local) + d.geom_xpos[geoms][:, None]).reshape(-1, 3)


def _corner_poke(depth_m: float):
    """A box object and a grasp whose hand pokes one box corner ``depth_m`` into the middle of the
    object's top face, every other corner above it; returns (object, grasp)."""
    obj = make_object("box", 0)
    top = obj.mesh.vertices[:, 2].max()
    centre = obj.mesh.vertices[:, :2].mean(0)
    R = Rotation.from_rotvec([2.3, 0.4, 0.5]).as_matrix()  # a generic tilt: one corner lowest
    q = PREGRASP_JOINTS_RAD
    batch = _Batch(obj, 1, FAST, table=False)
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, [0.0, 0.0, 0.5]
    batch.place(T[None], q[None])
    corners = _hand_box_corners(batch)
    order = np.argsort(corners[:, 2])
    low, second = corners[order[0]], corners[order[1]]
    assert second[2] - low[2] > depth_m + 0.002  # only this corner will be below the top face
    T[:3, 3] += np.r_[centre - low[:2], top - depth_m - low[2]]
    return obj, GraspBatch(T[None, :3, 3], R[None], q[None], frame="object")


def test_exact_penetration_of_a_corner_matches_the_analytic_depth_and_the_sampled_measure_misses_it():
    depth = 0.003
    obj, g = _corner_poke(depth)
    batch = _Batch(obj, 1, FAST, table=False)
    batch.place(g.T_frame_wrist, g.joints_rad)
    pen, self_pen = batch.penetrations()
    assert pen[0] == pytest.approx(depth, abs=1e-4)
    # the old measure: ~400 hand surface samples vs the object SDF and object samples vs the hand
    hand = LeapHandModel(n_surface_points=400)
    sdf = ObjectSDF.from_trimesh(obj.mesh)
    points, _, _ = obj.sample_surface(384, np.random.default_rng(0))
    old = contact_stats(hand, sdf, obj.face_part, 0, g, points).max_penetration_m
    assert old[0] < depth / 3


def test_validate_reports_the_exact_penetration_at_the_grasp():
    obj, g = _corner_poke(0.003)
    r = validate(obj, g, FAST, six_dir=False)
    assert r.penetration_stages_m.shape == (1, 3) and r.self_penetration_stages_m.shape == (1, 2)
    assert r.penetration_stages_m[0, 1] == pytest.approx(0.003, abs=1e-4)  # the grasp stage
    assert r.penetration_m[0] >= 0.003 - 1e-4
    v1 = validate(obj, g, ValidationConfig.v1(lift_s=0.6), six_dir=False)
    assert np.isnan(v1.penetration_m).all()  # v1 does not measure it


def _q(**joints):
    q = OPEN_JOINTS_RAD.copy()
    for name, value in joints.items():
        q[JOINT_NAMES.index(name)] = value
    return q


def test_self_collision_counts_fingers_inside_each_other_not_adjacent_links():
    obj = make_object("box", 0)
    batch = _Batch(obj, 3, FAST, table=False)
    T = np.tile(np.eye(4), (3, 1, 1))
    T[:, 2, 3] = 0.5  # far above the object
    crossed = _q(index_mcp_side=0.6, middle_mcp_side=-0.5)  # index swung into the middle finger
    # index bent hard at the MCP: its proximal box sinks 2.3 mm into the palm box through the two-axis
    # MCP joint (hinged, not colliding, on the real hand)
    curled = _q(index_mcp_side=-0.71, index_mcp_flex=2.15, index_pip=0.73, index_dip=-0.09)
    batch.place(T, np.stack([OPEN_JOINTS_RAD, curled, crossed]))
    _, self_pen = batch.penetrations()
    assert self_pen[0] == 0.0 and self_pen[1] == 0.0
    assert self_pen[2] > 0.001
    # independent reference: MuJoCo's distance between the two proximal/medial boxes of copy 2
    m, d = batch.model, batch.data
    deepest = 0.0
    for a in ("index_proximal", "index_medial"):
        for b in ("middle_proximal", "middle_medial"):
            for ga in np.flatnonzero((m.geom_bodyid == m.body(f"h2_{a}").id) & (m.geom_contype > 0)):
                for gb in np.flatnonzero((m.geom_bodyid == m.body(f"h2_{b}").id) & (m.geom_contype > 0)):
                    deepest = max(deepest, -mujoco.mj_geomDistance(m, d, ga, gb, 0.01, None))
    assert self_pen[2] == pytest.approx(deepest, abs=1e-4)


def test_motion_is_measured_as_translation_and_rotation_in_the_hand():
    obj = make_object("box", 0)
    batch = _Batch(obj, 1, FAST, table=False)
    batch.place(np.eye(4)[None], OPEN_JOINTS_RAD[None])
    before = batch.object_pose_in_hand()
    quat = Rotation.from_rotvec([0, 0, np.radians(15)]).as_quat(scalar_first=True)
    batch.data.qpos[batch.obj_qpos[0] + np.arange(7)] = [0.01, 0.0, 0.0, *quat]
    mujoco.mj_kinematics(batch.model, batch.data)
    trans, rot = batch.motion_from(before)
    assert trans[0] == pytest.approx(0.01, abs=1e-9) and np.degrees(rot[0]) == pytest.approx(15.0, abs=1e-6)


def _drivers_yaml(tmp_path, current_ma: int):
    data = yaml.safe_load((CONFIG_DIR / "drivers.yaml").read_text())
    data["hand"]["leap"]["current_limit_ma"] = current_ma
    data["hand"]["leap"]["current_hard_max_ma"] = max(current_ma, 550)
    path = tmp_path / f"drivers_{current_ma}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_the_drivers_current_limit_sets_the_simulated_finger_torque(tmp_path):
    obj = make_object("box", 0)
    limits = []
    for current in (350, 550):
        cfg = ValidationConfig(drivers_config=_drivers_yaml(tmp_path, current))
        batch = _Batch(obj, 1, cfg, table=False)
        limits.append(batch.model.actuator_forcerange[batch.act[0], 1])
    # the datasheet's stall points (N m per A, through the origin) at the two currents
    i, t = np.array(XC330_STALL_POINTS).T
    k = (i * t).sum() / (i * i).sum()
    np.testing.assert_allclose(limits[0], k * 0.350, rtol=1e-9)
    np.testing.assert_allclose(limits[1], k * 0.550, rtol=1e-9)
    assert 0.17 < limits[0].min() < 0.19 and 0.27 < limits[1].min() < 0.29  # issue 21: about 0.18-0.29 N m


def test_gains_and_friction_come_from_the_driver():
    from ifgrasp.hand.strength import driver_leap_config

    leap = driver_leap_config()
    cfg = ValidationConfig()
    # 600/128 mA per pulse, 4096/(2 pi) pulses per rad, ~0.514 N m per A
    assert cfg.joint_kp == pytest.approx(kp_nm_per_rad(leap.kp)) and 1.4 < cfg.joint_kp < 1.7
    s = finger_strength(leap)
    assert cfg.side_gain_scale == leap.side_gain_scale and s.kp_nm_per_rad.min() == pytest.approx(0.75 * cfg.joint_kp)
    batch = _Batch(make_object("box", 0), 1, cfg, table=False)
    m = batch.model
    hand_geoms = np.flatnonzero(batch.geom_hand_copy == 0)
    assert np.all(m.geom_friction[hand_geoms, 0] == pytest.approx(0.6)) and np.all(m.geom_priority[hand_geoms] == 1)
    v1 = ValidationConfig.v1()
    assert v1.joint_force_limit_nm == 0.95 and v1.friction == 1.0 and v1.judge == "v1" and cfg.judge == "v2"


def test_a_current_limit_above_the_motors_rating_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"2000 mA exceeds the XC330-M288-T's rating of 1800 mA"):
        ValidationConfig(drivers_config=_drivers_yaml(tmp_path, 2000))


def test_the_palm_stays_on_its_target_while_the_fingers_close():
    """The weld holds the palm's own frame: with MjSpec's default weld data (v1) the palm turned about a
    point 1 m away and drifted 2 mm closing in air, 1-1.5 cm closing on an object on the table, and
    that drift read as the object moving in the hand."""
    from ifgrasp.grasp.validate import _close
    from ifgrasp.hand.joints import CLOSING_MASK

    drift = {}
    for name, cfg in (("v2", FAST), ("v1", ValidationConfig.v1())):
        batch = _Batch(make_object("box", 0), 1, cfg, table=False)
        T = np.eye(4)
        T[2, 3] = 0.5
        q0, q1 = OPEN_JOINTS_RAD[None], (PREGRASP_JOINTS_RAD + 0.3 * CLOSING_MASK)[None]
        batch.place(T[None], q0)
        _close(batch, q0, q1, cfg)
        drift[name] = np.linalg.norm(batch.data.xpos[batch.hand_body] - batch.data.mocap_pos[batch.mocap_id])
    assert drift["v2"] < 1e-4 and drift["v1"] > 1e-3


@pytest.mark.slow
def test_settled_fingers_touch_the_object_without_entering_it():
    """Settling (ifgrasp.grasp.settle) closes each finger until it stops on the object held still: the
    optimiser's millimetre overlaps are gone by MuJoCo's own exact measure, fingers still touch."""
    from ifgrasp.grasp.settle import settle
    from ifgrasp.grasp.synthesis.synthesize import SynthesisConfig, synthesize
    from ifgrasp.hand.joints import pregrasp

    obj = make_object("mug", 0)
    g = synthesize(LeapHandModel(n_surface_points=300), obj, "handle", (),
                   SynthesisConfig(batch=8).replace(refine={"steps": 80}), seed=1)
    s = settle(obj, g)
    batch = _Batch(obj, len(g), FAST, table=True, fixed_object=True)
    batch.place(g.T_frame_wrist, pregrasp(g.joints_rad))
    clear_at_pregrasp = batch.finger_penetrations().max(1) < 1e-4  # settling starts from the pre-grasp
    batch.place(g.T_frame_wrist, g.joints_rad)
    before = batch.finger_penetrations().max(1)
    batch.place(s.T_frame_wrist, s.joints_rad)
    after = batch.finger_penetrations().max(1)
    assert clear_at_pregrasp.sum() >= 4
    assert before[clear_at_pregrasp].max() > 0.001  # the optimiser's fingers overlap the mug
    assert np.all(after[clear_at_pregrasp] <= 0.0005 + 1e-6)
    np.testing.assert_array_equal(s.wrist_pos_m, g.wrist_pos_m)  # the wrist is not moved
    # the fingers are closed onto it: a millimetre further in, most grasps touch with >= 2 links
    batch.place(s.T_frame_wrist, s.joints_rad + 0.02 * (s.joints_rad != g.joints_rad))
    assert np.mean(batch.links_touching_object() >= 2) >= 0.5
    # pressing at the real hand's 0.24 N m (550 mA), the near-rigid contacts keep the fingers on the surface;
    # MuJoCo's soft default contacts (v1) let them sink ~1 mm, which read as penetration
    ok = np.flatnonzero(clear_at_pregrasp)
    stiff = validate(obj, s.select(ok), FAST, six_dir=False).penetration_stages_m[:, 2]
    soft = validate(obj, s.select(ok), FAST.replace(contact_solref=None), six_dir=False).penetration_stages_m[:, 2]
    assert np.median(stiff) < 0.0003 < 0.0006 < np.median(soft)


@pytest.mark.slow
def test_grip_margin_is_friction_times_the_squeeze_over_the_weight_and_grows_with_the_current(tmp_path):
    """The grip margin (friction x the hand's normal force on the object after the squeeze / its weight)
    is MuJoCo's own contact forces (``mj_contactForce``), 0 for a hand that misses, and scales with the
    driver's current limit when the squeeze saturates it (less than in proportion: the free cylinder
    gives way to the stronger squeeze; measured x1.18 median for x1.57 the current)."""
    from ifgrasp.grasp.synthesis.synthesize import SynthesisConfig, synthesize
    from ifgrasp.grasp.validate import _close, _targets

    obj = make_object("cylinder", 0)
    g = synthesize(LeapHandModel(n_surface_points=300), obj, "body", (),
                   SynthesisConfig(batch=8).replace(refine={"steps": 80}), seed=0)
    cfg = FAST
    batch = _Batch(obj, len(g), cfg, table=True)
    pre, squeeze = _targets(g, cfg)
    batch.place(g.T_frame_wrist, pre)
    _close(batch, pre, squeeze, cfg)
    reference = np.zeros(len(g))
    f6 = np.zeros(6)
    for i in range(batch.data.ncon):
        c = batch.data.contact[i]
        copies = batch.geom_hand_copy[c.geom], batch.geom_obj_copy[c.geom]
        hand_copy = max(copies[0])
        if hand_copy >= 0 and hand_copy == max(copies[1]):  # hand of copy k on object of copy k
            mujoco.mj_contactForce(batch.model, batch.data, i, f6)
            reference[hand_copy] += f6[0]
    np.testing.assert_allclose(batch.grip_force_n(), reference, rtol=1e-9, atol=1e-12)
    assert (reference > 0.5).sum() >= 4  # most of them press on the cylinder

    far = GraspBatch(g.wrist_pos_m[:1] + [0.0, 0.3, 0.3], g.wrist_rot[:1], g.joints_rad[:1], frame="object")
    assert validate(obj, far, cfg, six_dir=False).grip_margin[0] == 0.0

    margins = []
    for current in (350, 550):
        strong = ValidationConfig(drivers_config=_drivers_yaml(tmp_path, current), squeeze_rad=0.4,
                                  lift_s=0.3, max_copies=16)
        margins.append(validate(obj, g, strong, six_dir=False).grip_margin)
    pressing = margins[0] > 0.5
    assert pressing.sum() >= 4
    assert 1.08 < np.median(margins[1][pressing] / margins[0][pressing]) < 550 / 350 * 1.05


@pytest.mark.slow
def test_the_thumb_heavy_squeeze_shoves_the_object_less_than_an_equal_one():
    """Closing on a box standing free on the table, the default squeeze (fingers half as far past
    the grasp as the thumb) shoves it less than all four squeezing equally (v1's): the thumb no
    longer loses to three fingers. Measured on held-out grasps: shove 0.61 -> 0.30 cm median
    (docs/experiments.md)."""
    from ifgrasp.grasp.synthesis.synthesize import SynthesisConfig, synthesize

    obj = make_object("box", 0)
    g = synthesize(LeapHandModel(n_surface_points=300), obj, "body", (),
                   SynthesisConfig(batch=8).replace(refine={"steps": 80}), seed=0)
    shove = {name: validate(obj, g, FAST.replace(squeeze_finger_share=share), six_dir=False).shove_m
             for name, share in (("default", FAST.squeeze_finger_share), ("equal", (1.0, 1.0, 1.0, 1.0)))}
    assert np.median(shove["default"]) < 0.7 * np.median(shove["equal"])


@pytest.mark.slow
def test_thumb_force_share_is_the_thumbs_part_of_the_contact_force_and_zero_when_the_thumb_misses():
    """The thumb's share of the hand's normal force after the squeeze matches MuJoCo's own contact
    forces of the thumb's links (``mj_contactForce``), and is 0 when the thumb is pulled back from a grasp
    whose fingers still press: fingers pushing the object against nothing, the failure of lying handles."""
    from ifgrasp.grasp.synthesis.synthesize import SynthesisConfig, synthesize
    from ifgrasp.grasp.validate import _close, _targets
    from ifgrasp.hand.joints import FINGERS, JOINT_FINGER, LOWER_RAD

    obj = make_object("cylinder", 0)
    g = synthesize(LeapHandModel(n_surface_points=300), obj, "body", (),
                   SynthesisConfig(batch=8).replace(refine={"steps": 80}), seed=0)
    cfg = FAST
    batch = _Batch(obj, len(g), cfg, table=True)
    pre, squeeze = _targets(g, cfg)
    batch.place(g.T_frame_wrist, pre)
    _close(batch, pre, squeeze, cfg)
    total, thumb = np.zeros(len(g)), np.zeros(len(g))
    f6 = np.zeros(6)
    for i in range(batch.data.ncon):
        c = batch.data.contact[i]
        hand_copy, obj_copy = max(batch.geom_hand_copy[c.geom]), max(batch.geom_obj_copy[c.geom])
        if hand_copy >= 0 and hand_copy == obj_copy:
            mujoco.mj_contactForce(batch.model, batch.data, i, f6)
            hand_geom = c.geom[0] if batch.geom_hand_copy[c.geom[0]] >= 0 else c.geom[1]
            link = mujoco.mj_id2name(batch.model, mujoco.mjtObj.mjOBJ_BODY, batch.model.geom_bodyid[hand_geom])
            total[hand_copy] += f6[0]
            thumb[hand_copy] += f6[0] if "_thumb_" in link else 0.0
    reference = np.where(total > 0, thumb / np.maximum(total, 1e-12), 0.0)
    np.testing.assert_allclose(batch.finger_force_share(FINGERS.index("thumb")), reference, atol=1e-9)
    result = validate(obj, g, cfg, six_dir=False)
    assert np.median(result.thumb_force_share) > 0.2  # synthesised pinches oppose the thumb to the fingers

    thumb_back = g.joints_rad.copy()
    thumb_joints = JOINT_FINGER == FINGERS.index("thumb")
    thumb_back[:, thumb_joints] = LOWER_RAD[thumb_joints]  # the thumb wide open, the fingers as they were
    opened = GraspBatch(g.wrist_pos_m, g.wrist_rot, thumb_back, frame="object")
    missed = validate(obj, opened, cfg, six_dir=False)
    fingers_press = missed.grip_margin > 0
    assert fingers_press.sum() >= 4
    assert np.all(missed.thumb_force_share[fingers_press] == 0.0)
