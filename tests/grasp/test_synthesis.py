"""Teacher synthesis: grasps land on the instructed part, in force closure, without penetration;
bad requests fail with a clear message."""

import numpy as np
import pytest

from ifgrasp.errors import InputError, UnknownPartError
from ifgrasp.grasp.synthesis.synthesize import SynthesisConfig, synthesize
from ifgrasp.hand import LeapHandModel
from ifgrasp.sim.objects import make_object


@pytest.fixture(scope="module")
def hand():
    return LeapHandModel(n_surface_points=300)


@pytest.fixture(scope="module")
def box_grasps(hand):
    cfg = SynthesisConfig(batch=6).replace(refine={"steps": 80})
    return synthesize(hand, make_object("box", 0), "body", (), cfg, seed=0)


def test_refined_grasps_touch_without_penetrating(box_grasps):
    assert box_grasps.frame == "object" and len(box_grasps) == 6
    assert np.median(box_grasps.extras["max_penetration_m"]) <= 0.003
    assert (box_grasps.extras["num_contacts"] > 0).mean() >= 0.5
    assert np.median(box_grasps.extras["energy_fc"]) < 1.0  # unit pushes nearly balance


def test_fingers_do_not_overlap_their_neighbours(box_grasps):
    """Finger targets at the hand's own finger pitch and a real self-penetration weight: no grasp
    asks a finger to sit inside the next one (22 mm targets gave up to 23 mm overlaps here)."""
    assert box_grasps.extras["energy_spen"].max() <= 0.002


def test_synthesis_is_deterministic_per_seed(hand):
    cfg = SynthesisConfig(batch=2).replace(refine={"steps": 5})
    a = synthesize(hand, make_object("box", 0), "body", (), cfg, seed=3)
    b = synthesize(hand, make_object("box", 0), "body", (), cfg, seed=3)
    np.testing.assert_allclose(a.wrist_pos_m, b.wrist_pos_m)
    np.testing.assert_allclose(a.joints_rad, b.joints_rad)


def test_handle_grasps_target_the_handle(hand):
    """Every grasp's thumb target and finger targets are on the instructed part: the contacts the
    refinement pulls together are the handle's, so most grasps touch it."""
    cfg = SynthesisConfig(batch=4).replace(refine={"steps": 40})
    g = synthesize(hand, make_object("mug", 1), "handle", (), cfg, seed=0)
    assert (g.extras["part_share"] > 0).mean() >= 0.5


def test_unknown_part_names_the_known_ones(hand):
    with pytest.raises(UnknownPartError, match="body, handle"):
        synthesize(hand, make_object("mug", 0), "blade", ())


def test_avoiding_the_target_is_refused(hand):
    with pytest.raises(InputError, match="both the target and a part to avoid"):
        synthesize(hand, make_object("knife", 0), "handle", ("handle",))


def test_annealing_method_runs_and_lowers_the_energy(hand):
    """DexGraspNet's annealing is kept as the reference method (slow; not the default)."""
    cfg = SynthesisConfig(batch=3, method="annealing").replace(annealing={"steps": 30})
    start = synthesize(hand, make_object("box", 0), "body", (), cfg.replace(annealing={"steps": 1}), seed=0)
    end = synthesize(hand, make_object("box", 0), "body", (), cfg, seed=0)
    assert end.extras["energy_total"].mean() < start.extras["energy_total"].mean()


def test_exact_sdf_in_the_loop_works_too(hand):
    """sdf_grid_spacing_m = 0 queries the exact field every step (slower, no grid)."""
    cfg = SynthesisConfig(batch=2, sdf_grid_spacing_m=0.0).replace(refine={"steps": 5})
    g = synthesize(hand, make_object("box", 0), "body", (), cfg, seed=0)
    assert len(g) == 2 and np.isfinite(g.wrist_pos_m).all()


def test_the_wrap_term_puts_more_of_the_hand_on_the_object(hand):
    """Pulling the palmar points that are already near the surface onto it turns four-pad pinches into
    wrapping grasps (held-out drill bodies: more contacts and more 6-direction holds)."""
    from ifgrasp.grasp.synthesis.refine import RefineConfig

    def with_wrap(weight):
        weights = {**RefineConfig().weights.model_dump(), "wrap": weight}  # the teacher's weights otherwise
        return SynthesisConfig(batch=8).replace(refine={"steps": 80, "weights": weights})

    obj = make_object("bottle", 0)
    a = synthesize(hand, obj, "body", (), with_wrap(0.0), seed=0)
    b = synthesize(hand, obj, "body", (), with_wrap(10.0), seed=0)
    assert (a.extras["energy_wrap"] == 0).all()  # off: not computed
    assert b.extras["num_contacts"].mean() > a.extras["num_contacts"].mean() + 1
    assert np.median(b.extras["max_penetration_m"]) <= 0.003  # touching, not pushing in


def test_the_wrap_term_pulls_the_hand_only_onto_the_instructed_part(hand):
    """A hand wrapped around a mug's body is pulled onto it when the body is asked for, and not when
    the handle is: wrapping must not drag a handle grasp onto the body."""
    import torch

    from ifgrasp.geometry import matrix_to_rot6d
    from ifgrasp.grasp.synthesis.energy import EnergyWeights, HandState, compute_energy
    from ifgrasp.grasp.synthesis.synthesize import build_problem

    mug = make_object("mug", 0)
    # uniform pair draws: grasps centred on the body's centre of mass may lay a finger across the
    # handle's root, which the handle's wrap term rightly counts
    cfg = SynthesisConfig(batch=4).replace(refine={"steps": 40}, antipodal={"com_sigma_m": 0.0})
    body_grasps = synthesize(hand, mug, "body", (), cfg, seed=0)
    state = HandState(
        torch.as_tensor(body_grasps.wrist_pos_m, dtype=torch.float32),
        torch.as_tensor(matrix_to_rot6d(body_grasps.wrist_rot), dtype=torch.float32),
        torch.as_tensor(body_grasps.joints_rad, dtype=torch.float32),
        torch.zeros(len(body_grasps), 4, dtype=torch.int64),
    )
    weights = EnergyWeights(wrap=1.0, wrap_margin_m=0.02)

    def wrap_energy(part):
        problem, _, _ = build_problem(mug, part, (), cfg, np.random.default_rng(0))
        return compute_energy(hand, problem, state, weights)["wrap"]

    on_body, on_handle = wrap_energy("body"), wrap_energy("handle")
    assert (on_body > 0).any()
    assert on_handle.sum() < 0.2 * on_body.sum()


def test_pairs_drawn_near_the_centre_of_mass_hold_the_grasp_there(hand):
    """With ``com_sigma_m`` more of the grasps (the centre between thumb and finger targets) sit near the
    object's centre of mass: a heavy spray bottle is not only pinched at its narrow top."""
    from ifgrasp.grasp.object_sdf import ObjectSDF
    from ifgrasp.grasp.synthesis.antipodal import AntipodalConfig, antipodal_targets

    obj = make_object("spray_bottle", 0)
    sdf = ObjectSDF.from_trimesh(obj.mesh, obj.name)

    def share_near_com(sigma):
        cfg = AntipodalConfig(com_sigma_m=sigma)
        *_, targets = antipodal_targets(hand, obj, sdf, "body", 64, np.random.default_rng(1), cfg)
        grasp_centre = (targets[:, 0] + targets[:, 1:].mean(1)).numpy() / 2
        return (np.linalg.norm(grasp_centre - obj.mesh.center_mass, axis=-1) < 0.05).mean()

    assert share_near_com(AntipodalConfig().com_sigma_m) >= 2 * share_near_com(0.0) + 0.05
