"""The table scene: config validation, robot actuation, label tables, object poses, frames."""

import mujoco
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ifgrasp.errors import ConfigError, InputError, SimulationError, UnknownObjectError
from ifgrasp.hand.joints import JOINT_NAMES as LEAP_JOINT_NAMES
from ifgrasp.sim.frames import R_MJCAM_OPTICAL, look_at_T_base_camera
from ifgrasp.sim.scene import REALSENSE_CAMERA, build_scene, urdf_joint_names
from ifgrasp.sim.scene_config import DEFAULT_SCENE_YAML, SceneConfig
from ifgrasp.sim.stage import TABLE_GEOM
from ifgrasp.paths import URDF_DIR


def _cfg(objects=(), robot=True) -> SceneConfig:
    base = SceneConfig.default()
    return base.replace(objects=list(objects), robot={**base.robot.model_dump(), "enabled": robot})


@pytest.fixture(scope="module")
def robot_scene():
    return build_scene(_cfg(robot=True))


def test_default_yaml_loads_and_validates():
    cfg = SceneConfig.from_yaml(DEFAULT_SCENE_YAML)
    assert {o.category for o in cfg.objects} >= {"mug"}
    R = cfg.camera.T_base_camera[:3, :3]
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-6)
    with pytest.raises(ConfigError, match="off the table"):
        cfg.replace(objects=[{"category": "mug", "x_m": 2.0, "y_m": 0.0}])
    with pytest.raises(ConfigError, match="16 values"):
        cfg.replace(robot={**cfg.robot.model_dump(), "hand_joints_rad": [0.0] * 15})
    with pytest.raises(ConfigError, match="unit quaternion"):
        cfg.replace(camera={**cfg.camera.model_dump(), "quat_xyzw": [0.0, 0.0, 0.0, 2.0]})


def test_robot_has_7_arm_and_16_hand_position_actuators(robot_scene):
    s, m = robot_scene, robot_scene.model
    assert m.nu == 23
    assert s.arm_joint_names == tuple(urdf_joint_names(URDF_DIR / "xarm7.urdf"))
    assert s.hand_joint_names == LEAP_JOINT_NAMES
    names = s.arm_joint_names + s.hand_joint_names
    ids = np.concatenate([s.arm_actuator_ids, s.hand_actuator_ids])
    assert [m.joint(m.actuator_trnid[a, 0]).name for a in ids] == list(names)
    # ctrl ranges are the joint limits; gains are positive
    jids = m.actuator_trnid[ids, 0]
    np.testing.assert_allclose(m.actuator_ctrlrange[ids], m.jnt_range[jids])
    assert np.all(m.actuator_gainprm[ids, 0] > 0)


def test_robot_holds_a_commanded_pose(robot_scene):
    s = robot_scene
    s.reset()
    q_arm = np.array(s.cfg.robot.arm_joints_rad) + np.array([0.3, 0.2, -0.2, 0.25, 0.3, -0.2, 0.5])
    q_hand = np.full(16, 0.4)
    q_hand[12] = 0.8  # thumb cmc
    sent_arm = s.set_arm_joints(q_arm)
    sent_hand = s.set_hand_joints(q_hand)
    np.testing.assert_allclose(sent_arm, q_arm)  # inside limits: sent unchanged
    np.testing.assert_allclose(sent_hand, q_hand)
    s.step(int(2.0 / s.model.opt.timestep))
    assert np.abs(s.arm_joints() - q_arm).max() < 0.01
    assert np.abs(s.hand_joints() - q_hand).max() < 0.05
    assert np.abs(s.data.qvel[s.arm_dof_adr]).max() < 0.01
    s.reset()
    np.testing.assert_allclose(s.arm_joints(), s.cfg.robot.arm_joints_rad)
    assert s.data.time == 0.0


def test_targets_are_clipped_to_limits_and_shapes_checked(robot_scene):
    s = robot_scene
    sent = s.set_hand_joints(np.full(16, 10.0))
    np.testing.assert_allclose(sent, s.model.jnt_range[s.model.actuator_trnid[s.hand_actuator_ids, 0], 1])
    with pytest.raises(SimulationError, match=r"shape \(7,\)"):
        s.set_arm_joints(np.zeros(6))
    s.reset()


def test_label_tables_and_object_poses():
    placements = [
        {"category": "box", "seed": 0, "x_m": 0.40, "y_m": -0.2, "yaw_rad": 0.5},
        {"category": "mug", "seed": 0, "x_m": 0.50, "y_m": 0.1, "yaw_rad": -1.0},
    ]
    s = build_scene(_cfg(placements, robot=False))
    m = s.model
    assert s.geom_object[m.geom(TABLE_GEOM).id] == -1
    for i, name in enumerate(s.object_names):
        body = m.body(name).id
        geoms = np.nonzero(m.geom_bodyid == body)[0]
        assert np.all(s.geom_object[geoms] == i)
        part_names = [m.geom(g).name.split("/")[1] for g in geoms]
        assert [s.part_name(i, p) for p in s.geom_part[geoms]] == part_names
    assert np.count_nonzero(s.geom_object >= 0) == np.count_nonzero(np.isin(m.geom_bodyid, [m.body(n).id for n in s.object_names]))
    s.step(300)  # settle 0.6 s: objects stay where placed, upright
    for p, name, T in zip(placements, s.object_names, s.object_poses()):
        np.testing.assert_allclose(s.object_pose(name), T)
        assert np.linalg.norm(T[:2, 3] - [p["x_m"], p["y_m"]]) < 0.01
        assert abs(T[2, 3]) < 0.01 and T[2, 2] > 0.999
        yaw = np.arctan2(T[1, 0], T[0, 0])
        assert abs(np.angle(np.exp(1j * (yaw - p["yaw_rad"])))) < 0.02
    with pytest.raises(UnknownObjectError, match="known: "):
        s.object_pose("teapot_9999")
    with pytest.raises(SimulationError, match="no robot"):
        s.set_arm_joints(np.zeros(7))


def test_mujoco_camera_is_the_optical_frame_turned_about_x():
    s = build_scene(_cfg(robot=False))
    mujoco.mj_forward(s.model, s.data)
    R_mj = s.data.cam_xmat[s.model.camera(REALSENSE_CAMERA).id].reshape(3, 3)
    T = s.cfg.camera.T_base_camera
    np.testing.assert_allclose(R_mj, T[:3, :3] @ R_MJCAM_OPTICAL, atol=1e-6)
    np.testing.assert_allclose(s.data.cam_xpos[s.model.camera(REALSENSE_CAMERA).id], T[:3, 3], atol=1e-9)


coord = st.floats(-2.0, 2.0, allow_nan=False)


@given(st.tuples(coord, coord, st.floats(0.1, 2.0)), st.tuples(coord, coord, st.floats(-0.5, 0.0)))
def test_look_at_points_the_optical_axis_at_the_target_with_a_level_horizon(eye, target):
    eye, target = np.array(eye), np.array(target)
    direction = target - eye
    assume(np.linalg.norm(direction[:2]) > 1e-3)  # straight down is refused (next test)
    T = look_at_T_base_camera(eye, target)
    R = T[:3, :3]
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(R) > 0
    np.testing.assert_allclose(R[:, 2], direction / np.linalg.norm(direction), atol=1e-9)
    assert abs(R[2, 0]) < 1e-9  # image x axis is horizontal
    assert R[2, 1] <= 1e-9  # image y (down) never points up
    np.testing.assert_allclose(T[:3, 3], eye)


def test_look_at_straight_down_is_refused():
    with pytest.raises(InputError, match="parallel"):
        look_at_T_base_camera([0.5, 0.0, 1.0], [0.5, 0.0, 0.0])
