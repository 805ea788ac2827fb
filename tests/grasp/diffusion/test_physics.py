"""Physics terms, refinement and the generator's self-collision guarantee, checked against MuJoCo's
own distance between the hand's collision geoms and against brute-force geometry."""

import mujoco
import numpy as np
import pytest
import torch

from ifgrasp.grasp.diffusion.generator import GraspGenerator
from ifgrasp.grasp.diffusion.physics import ObservedCloud, PhysicsConfig, PhysicsTerms
from ifgrasp.grasp.diffusion.policy import GraspDiffusion
from ifgrasp.hand import JOINT_NAMES, LeapHandModel
from ifgrasp.hand.author_urdf import URDF_PATH


@pytest.fixture(scope="module")
def terms():
    return PhysicsTerms(LeapHandModel(n_surface_points=300), PhysicsConfig(refine_steps=8))


def _mujoco_self_penetration(joints: np.ndarray, pair_names) -> np.ndarray:
    """Deepest penetration (B,) between the collision geoms of the named link pairs, by MuJoCo."""
    m = mujoco.MjModel.from_xml_path(str(URDF_PATH))
    d = mujoco.MjData(m)
    adr = [m.jnt_qposadr[m.joint(n).id] for n in JOINT_NAMES]
    geoms: dict[str, list[int]] = {}
    for g in range(m.ngeom):
        if m.geom_contype[g]:
            geoms.setdefault(m.body(m.geom_bodyid[g]).name, []).append(g)
    out = []
    for q in joints:
        d.qpos[adr] = q
        mujoco.mj_forward(m, d)
        depth = 0.0
        for pair in pair_names:
            a, b = pair.split("|")
            for ga in geoms[a]:
                for gb in geoms[b]:
                    depth = max(depth, -mujoco.mj_geomDistance(m, d, ga, gb, 0.01, np.zeros(6)))
        out.append(depth)
    return np.array(out)


def _mug_like_cloud(seed=0):
    rng = np.random.default_rng(seed)
    pts = rng.normal(scale=0.03, size=(600, 3)) + [0.0, 0.0, 0.6]
    return pts.astype(np.float32), pts[:, 0] > 0.02


def test_terms_match_brute_force(terms):
    g = torch.Generator().manual_seed(0)
    B = 4
    pos = torch.randn(B, 3, generator=g) * 0.02 + torch.tensor([0.0, 0.0, 0.6])
    rot = torch.linalg.qr(torch.randn(B, 3, 3, generator=g))[0]
    q = torch.rand(B, 16, generator=g) * 0.8
    pts, mask = _mug_like_cloud()
    obs = ObservedCloud.from_points(pts, mask, terms.cfg)
    m = terms.metrics(pos, rot, q, obs)
    tips = terms.hand.fingertips(pos, rot, q)
    part = torch.as_tensor(pts[mask])[:: max(1, mask.sum() // terms.cfg.part_points)]
    brute = torch.stack([torch.stack([(part - tips[b, f]).norm(dim=-1).min() for f in range(4)]).mean()
                         for b in range(B)])
    torch.testing.assert_close(m["tip_part_distance_m"], brute)
    sd = terms.hand.signed_distance(obs.cloud.expand(B, -1, -1), pos, rot, q)
    torch.testing.assert_close(m["cloud_penetration_m"], torch.relu(-sd).amax(-1))


def test_refinement_removes_self_collision_and_reduces_energy(terms):
    g = torch.Generator().manual_seed(1)
    B = 12
    q = terms.hand.lower + torch.rand(B, 16, generator=g) * (terms.hand.upper - terms.hand.lower)
    pos = torch.tensor([0.0, 0.0, 0.5]).expand(B, 3).clone()
    rot = torch.eye(3).expand(B, 3, 3).clone()
    pts, mask = _mug_like_cloud()
    obs = ObservedCloud.from_points(pts, mask, terms.cfg)
    before = terms.self_collision.max_depth(q)
    assert (before > 1e-3).sum() >= 6  # random joints collide
    pos2, q2, rejected = terms.refine(pos, rot, q, obs)
    after = _mujoco_self_penetration(q2.double().numpy(), terms.self_collision.pair_names)
    assert np.all(after[~rejected.numpy()] <= 1e-3 + 1e-6)
    assert rejected.float().mean() < 0.25
    assert terms.energy(pos2, rot, q2, obs).mean() < terms.energy(pos, rot, q, obs).mean()
    assert torch.all(q2 >= terms.hand.lower - 1e-6) and torch.all(q2 <= terms.hand.upper + 1e-6)


def test_generator_never_returns_self_colliding_grasps():
    """An untrained student outputs random joints: without the physics step some of its top grasps
    self-collide (MuJoCo's measure), with it none does."""
    torch.manual_seed(0)
    policy = GraspDiffusion(n_basis=32, width=32, depth=1)
    policy.grasp_std[9:] = 0.8  # joints spread like a real grasp set's
    pts, mask = _mug_like_cloud()
    off = PhysicsConfig(refine_steps=0, repair_steps=0, reject_self_m=1e9)
    plain = GraspGenerator(policy, backend="torch", steps=2, num_candidates=32, n_points=256, physics=off)
    top = plain.generate(pts, mask, k=8)
    names = plain.physics.self_collision.pair_names
    assert (_mujoco_self_penetration(top.joints_rad, names) > 1e-3).any()
    gen = GraspGenerator(policy, backend="torch", steps=2, num_candidates=32, n_points=256)
    top = gen.generate(pts, mask, k=8)
    assert 4 <= len(top) <= 8  # candidates over the limit are dropped, never returned
    assert np.all(_mujoco_self_penetration(top.joints_rad, names) <= 1e-3 + 1e-6)
    assert np.all(top.extras["self_penetration_m"] <= 1e-3)
    for key in ("cloud_penetration_m", "tip_part_distance_m", "refined"):
        assert key in gen.last.candidates.extras


def test_all_candidates_rejected_is_an_error_not_an_empty_result():
    from ifgrasp.errors import ModelError

    torch.manual_seed(0)
    policy = GraspDiffusion(n_basis=32, width=32, depth=1)
    pressed = torch.zeros(16)
    pressed[4], pressed[8] = 0.3, -0.3  # middle and ring swung into each other (> 1 cm deep)
    policy.grasp_mean[9:] = pressed
    policy.grasp_std[9:] = 1e-3
    pts, mask = _mug_like_cloud()
    cfg = PhysicsConfig(refine_steps=0, repair_steps=0)
    gen = GraspGenerator(policy, backend="torch", steps=1, num_candidates=8, n_points=256, physics=cfg)
    with pytest.raises(ModelError, match="self-collide"):
        gen.generate(pts, mask, k=4)


def test_the_repair_stops_once_every_candidate_is_admissible():
    """The repair's steps after the last candidate got under the limit change nothing a user sees
    (the same candidates are admissible, MuJoCo's measure) but cost most of the generate stage."""
    hand = LeapHandModel(n_surface_points=300)
    g = torch.Generator().manual_seed(1)
    B = 12
    q = hand.lower + torch.rand(B, 16, generator=g) * (hand.upper - hand.lower)
    pos, rot = torch.tensor([0.0, 0.0, 0.5]).expand(B, 3).clone(), torch.eye(3).expand(B, 3, 3).clone()
    pts, mask = _mug_like_cloud()

    def repair(every: int, rows):
        terms = PhysicsTerms(hand, PhysicsConfig(refine_steps=0, repair_steps=60, repair_check_every=every))
        calls = [0]
        energy = terms.self_collision.energy

        def counted(*a, **k):
            calls[0] += 1
            return energy(*a, **k)

        terms.self_collision.energy = counted
        _, q2, rejected = terms.refine(pos[rows], rot[rows], q[rows], ObservedCloud.from_points(pts, mask, terms.cfg))
        return calls[0], rejected.numpy(), q2

    n_all, rejected, _ = repair(0, slice(None))
    assert n_all == 60 and rejected.sum() < B // 2
    ok = np.flatnonzero(~rejected)  # the ones the full repair makes admissible (with one left over, it never stops)
    n_early, rej_early, q_early = repair(4, ok)
    assert n_early < 60 and not rej_early.any()
    pairs = PhysicsTerms(hand).self_collision.pair_names
    assert np.all(_mujoco_self_penetration(q_early.double().numpy(), pairs) <= 1e-3 + 1e-6)


def test_fill_repairs_only_when_too_few_candidates_are_admissible():
    """repair_scope "fill": with at least k candidates within 1 mm nothing is moved (the top-k are
    the best admissible ones as sampled); with fewer, the best over-limit ones are repaired, as "top"
    does. Either way no returned grasp self-penetrates more than 1 mm."""
    torch.manual_seed(0)
    policy = GraspDiffusion(n_basis=32, width=32, depth=1)
    policy.grasp_std[9:] = 0.1  # joints near the flat hand: about 3 in 4 samples within 1 mm
    pts, mask = _mug_like_cloud()
    gen = GraspGenerator(policy, backend="torch", steps=2, num_candidates=32, n_points=256,
                         physics=PhysicsConfig(repair_scope="fill"))
    gen.generate(pts, mask, k=8)
    ex = gen.last.candidates.extras
    admissible = int((ex["self_penetration_m"] <= 1e-3).sum())
    assert 8 <= admissible < 32 and not ex["refined"].any()
    top = gen.generate(pts, mask, k=32)
    ex = gen.last.candidates.extras
    assert ex["refined"].any() and len(top) > admissible
    assert np.all(top.extras["self_penetration_m"] <= 1e-3)
    gen.physics_cfg = PhysicsConfig(repair_scope="top")
    gen.generate(pts, mask, k=8)
    assert gen.last.candidates.extras["refined"].any()  # "top" repairs whatever k is
