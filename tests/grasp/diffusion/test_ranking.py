"""The ranking's measures (penetration, fingertips on / off the part, below the table, self-penetration)
against independent reference computations, and the one ONNX graph (sampler + critic + ranking) against
torch: same measures, same scores, same grasps returned."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from ifgrasp.errors import ModelError
from ifgrasp.grasp.diffusion.critic import GraspCritic
from ifgrasp.grasp.diffusion.distill import student_from_teacher
from ifgrasp.grasp.diffusion.export import export_onnx, max_abs_difference
from ifgrasp.grasp.diffusion.generator import GraspGenerator
from ifgrasp.grasp.diffusion.physics import PhysicsConfig
from ifgrasp.grasp.diffusion.policy import GRASP_DIM, GraspDiffusion
from ifgrasp.grasp.diffusion.ranking import RankingConfig, ranking_terms, score_terms, table_plane
from ifgrasp.hand import LeapHandModel
from ifgrasp.hand.self_collision import HandSelfCollision


@pytest.fixture(scope="module")
def hand():
    return LeapHandModel(n_surface_points=300)


def _cloud(n=600, seed=0):
    rng = np.random.default_rng(seed)
    pts = rng.normal(scale=0.03, size=(n, 3)) + [0.0, 0.0, 0.6]
    return pts.astype(np.float32), pts[:, 0] > 0.01


def _grasps(hand, B=24, seed=0):
    """Hands around the cloud, some through it, joints anywhere in their limits (many self-collide)."""
    g = torch.Generator().manual_seed(seed)
    q = hand.lower + torch.rand(B, 16, generator=g) * (hand.upper - hand.lower)
    pos = torch.tensor([0.0, 0.0, 0.6]) + 0.06 * torch.randn(B, 3, generator=g)
    rot = torch.linalg.qr(torch.randn(B, 3, 3, generator=g))[0]
    rot = rot * torch.linalg.det(rot)[:, None, None]  # proper rotations
    return pos, rot, q


def test_ranking_terms_match_independent_references(hand):
    pts, mask = _cloud()
    pos, rot, q = _grasps(hand)
    T = np.eye(4)
    T[:3, :3] = [[1, 0, 0], [0, -1, 0], [0, 0, -1]]  # camera looking down, 0.62 m above the table
    T[2, 3] = 0.62
    sc = HandSelfCollision(hand)
    P, M = torch.as_tensor(pts), torch.as_tensor(mask)
    terms = ranking_terms(hand, pos, rot, q, P, M.float(), torch.as_tensor(table_plane(T)), 128, sc)
    # references: signed distance of every probe to the union of boxes, cdist on the masked clouds,
    # base-frame heights of the surface points, the broad-phase self-collision (checked against MuJoCo)
    sd = hand.signed_distance(P[:: len(P) // 128][:128].expand(len(q), -1, -1), pos, rot, q)  # every 4th of 600
    np.testing.assert_allclose(terms["cloud_penetration_m"], torch.relu(-sd).amax(-1), atol=1e-6)
    assert (terms["cloud_penetration_m"] > 0.005).sum() >= 3  # the test has hands through the cloud
    tips = hand.fingertips(pos, rot, q)  # (float32 |a|^2 + |b|^2 - 2 a.b: micrometres off cdist, vs touch_m 2 cm)
    np.testing.assert_allclose(terms["tip_part_m"], torch.cdist(tips, P[M][None].expand(len(q), -1, -1)).amin(-1),
                               atol=2e-5)
    np.testing.assert_allclose(terms["tip_other_m"], torch.cdist(tips, P[~M][None].expand(len(q), -1, -1)).amin(-1),
                               atol=2e-5)
    z = hand.surface_points(pos, rot, q).numpy() @ T[2, :3] + T[2, 3]
    np.testing.assert_allclose(terms["below_table_m"], np.maximum(-z, 0).max(-1), atol=1e-6)
    assert (terms["below_table_m"] > 0).any()
    np.testing.assert_allclose(terms["self_penetration_m"], sc.max_depth_dense(q), atol=1e-7)
    assert (terms["self_penetration_m"] > 1e-3).sum() >= 3
    # the score: fingertips within touch_m of the part count for it, of another point against it
    cfg = RankingConfig()
    score, details = score_terms({k: v.numpy() for k, v in terms.items()}, cfg)
    on = (terms["tip_part_m"] < cfg.touch_m).float().mean(-1).numpy()
    np.testing.assert_allclose(details["fingertips_on_part"], on)
    expected = (-cfg.w_penetration * np.maximum(terms["cloud_penetration_m"].numpy() - cfg.penetration_tolerance_m, 0)
                - cfg.w_table * terms["below_table_m"].numpy() + cfg.w_part * on
                - cfg.w_off_part * details["fingertips_off_part"])
    np.testing.assert_allclose(score, expected, atol=1e-6)


def test_max_penetration_equals_the_signed_distance_of_the_deepest_point(hand):
    pts, _ = _cloud(seed=3)
    pos, rot, q = _grasps(hand, B=16, seed=3)
    P = torch.as_tensor(pts[:200])
    ref = torch.relu(-hand.signed_distance(P.expand(16, -1, -1), pos, rot, q)).amax(-1)
    np.testing.assert_allclose(hand.max_penetration(P, pos, rot, q), ref, atol=1e-7)
    assert (ref > 0).any() and (ref == 0).any()


def test_conditioning_once_for_all_samples_equals_per_sample_conditioning():
    torch.manual_seed(0)
    for sampler in ("ddim", "flow"):
        policy = GraspDiffusion(n_basis=32, width=32, depth=2, sampler=sampler).eval()
        cond, noise = torch.randn(1, 64), torch.randn(9, GRASP_DIM)
        with torch.no_grad():
            once = policy.sample_from_features(cond, noise, steps=3)
            each = policy.sample_from_features(cond.expand(9, -1), noise, steps=3)
        np.testing.assert_allclose(once, each, atol=1e-5)
    critic = GraspCritic(n_basis=32, width=16).eval()
    feats, vec = torch.randn(1, 64), torch.randn(9, GRASP_DIM)
    with torch.no_grad():
        np.testing.assert_allclose(critic.logits_from_features(feats, vec),
                                   critic.mlp(torch.cat([feats.expand(9, -1), (vec - critic.grasp_mean) / critic.grasp_std],
                                                        -1)).squeeze(-1), atol=1e-5)


@pytest.fixture(scope="module")
def flow_graph(tmp_path_factory):
    torch.manual_seed(0)
    policy = GraspDiffusion(n_basis=32, width=32, depth=1)
    policy.grasp_std[9:] = 0.6  # joints spread like a real grasp set's: some candidates self-collide
    flow = student_from_teacher(policy).eval()
    critic = GraspCritic(n_basis=32, width=16).eval()
    path = export_onnx(flow, tmp_path_factory.mktemp("graph") / "flow.onnx", steps=4, n_points=256, k=32,
                       critic=critic, ranking=True)
    return flow, critic, path


def test_one_graph_holds_sampler_critic_and_ranking_with_parity(flow_graph):
    flow, critic, path = flow_graph
    diffs = max_abs_difference(flow, path, steps=4, n_points=256, k=32, critic=critic, per_output=True)
    assert set(diffs) == {"wrist_pos", "rot6d", "joints", "lift_probability", "cloud_penetration_m", "tip_part_m",
                          "tip_other_m", "below_table_m", "self_penetration_m"}
    assert max(diffs.values()) < 1e-4, diffs
    # the graph reads N from its input: another cloud size than at export gives torch's values too
    diffs = max_abs_difference(flow, path, steps=4, n_points=600, k=32, critic=critic, per_output=True)
    assert max(diffs.values()) < 1e-4, diffs
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["points", "part_mask", "noise", "table_plane"]
    assert sess.get_modelmeta().custom_metadata_map["probe_points"] == "128"


@pytest.mark.parametrize("physics", ["raw", "repair"])
def test_onnx_one_graph_and_torch_return_the_same_ranked_grasps(flow_graph, physics):
    flow, critic, path = flow_graph
    cfg = PhysicsConfig(refine_steps=0, repair_steps=0, reject_self_m=1e9) if physics == "raw" else PhysicsConfig()
    pts, mask = _cloud(seed=1)
    T = np.eye(4)
    T[:3, :3] = [[1, 0, 0], [0, -1, 0], [0, 0, -1]]
    T[2, 3] = 0.62
    gens = [GraspGenerator(flow, backend=b, steps=4, num_candidates=32, n_points=256, onnx_path=path, critic=critic,
                           physics=cfg) for b in ("torch", "onnx")]
    assert all(g.ranking_in_graph and g.critic_in_graph for g in gens)
    outs = [g.generate(pts, mask, k=8, T_base_camera=T) for g in gens]
    a, b = (g.last.candidates.extras for g in gens)
    if physics == "raw":
        np.testing.assert_allclose(outs[0].scores, outs[1].scores, atol=1e-4)
        np.testing.assert_allclose(outs[0].joints_rad, outs[1].joints_rad, atol=1e-4)
        for key in ("self_penetration_m", "cloud_penetration_m", "tip_part_distance_m", "learned_lift_probability"):
            np.testing.assert_allclose(a[key], b[key], atol=1e-4)
    else:  # the same candidates repaired; the repair's stop (checked every few steps) may differ by a step
        np.testing.assert_array_equal(a["refined"], b["refined"])
        assert a["refined"].any()
        for out in outs:
            assert np.all(out.extras["self_penetration_m"] <= 1e-3)
        np.testing.assert_allclose(a["self_penetration_m"][~a["refined"]], b["self_penetration_m"][~b["refined"]],
                                   atol=1e-4)


def test_a_graph_ranking_on_other_probes_is_refused(flow_graph):
    flow, critic, path = flow_graph
    with pytest.raises(ModelError, match="ranks on 128 observed points"):
        GraspGenerator(flow, backend="onnx", steps=4, onnx_path=path, critic=critic,
                       ranking=RankingConfig(penetration_points=64))


def test_auto_runs_the_one_graph_on_a_cpu_and_torch_for_any_other_file(flow_graph, tmp_path):
    flow, critic, path = flow_graph
    assert GraspGenerator(flow, backend="auto", steps=4, onnx_path=path, critic=critic).backend == "onnx"
    assert GraspGenerator(flow, backend="auto", steps=4, critic=critic).backend == "torch"  # no file
    sampler_only = export_onnx(flow, tmp_path / "sampler.onnx", steps=4, n_points=256, k=32, critic=critic)
    gen = GraspGenerator(flow, backend="auto", steps=4, onnx_path=sampler_only, critic=critic)
    assert gen.backend == "torch" and "not the one graph" in gen.auto_note
    gen = GraspGenerator(flow, backend="auto", steps=2, onnx_path=path, critic=critic)  # file unrolls 4 steps
    assert gen.backend == "torch" and "unrolls 4" in gen.auto_note
    other = GraspCritic(n_basis=32, width=16).eval()  # the file holds another critic's weights
    assert GraspGenerator(flow, backend="auto", steps=4, onnx_path=path, critic=other).backend == "torch"


def test_a_several_head_critic_scores_in_the_one_graph_as_in_torch(flow_graph, tmp_path):
    """The refitted critic (several heads, the score their weighted mean) in the graph: onnxruntime's
    ``lift_probability`` equals the critic's own score of the returned candidates, and a file holding
    the same weights with other score weights is not taken for it."""
    flow, _, _ = flow_graph
    torch.manual_seed(3)
    critic = GraspCritic(n_basis=32, width=16, heads=("lift", "grip", "clear"), score_weights=(1.0, 0.5, 0.25)).eval()
    path = export_onnx(flow, tmp_path / "heads.onnx", steps=4, n_points=256, k=32, critic=critic, ranking=True)
    diffs = max_abs_difference(flow, path, steps=4, n_points=256, k=32, critic=critic, per_output=True)
    assert max(diffs.values()) < 1e-4, diffs
    _assert_the_graph_ranks_with_the_critics_own_score(flow, path, critic)
    with torch.no_grad():
        heads = torch.sigmoid(critic.head_logits(torch.randn(1, 64), torch.randn(5, GRASP_DIM)))
    assert heads.shape == (5, 3)
    reweighted = GraspCritic(n_basis=32, width=16, heads=("lift", "grip", "clear"), score_weights=(1.0, 0.0, 0.0))
    reweighted.load_state_dict(critic.state_dict())
    assert not GraspGenerator(flow, backend="onnx", steps=4, onnx_path=path, critic=reweighted.eval()).critic_in_graph


def test_a_point_critic_runs_in_the_one_graph_with_parity(flow_graph, tmp_path):
    """The point-encoder critic (its own encoder in the graph beside the sampler's BPS) exports too."""
    from ifgrasp.grasp.diffusion.critic import PointCritic

    flow, _, _ = flow_graph
    torch.manual_seed(4)
    critic = PointCritic(n_cloud=32, n_part=16, point_width=16, width=16, heads=("lift", "grip")).eval()
    path = export_onnx(flow, tmp_path / "points.onnx", steps=4, n_points=256, k=32, critic=critic, ranking=True)
    for n in (256, 600):  # part and cloud sizes read at run time
        diffs = max_abs_difference(flow, path, steps=4, n_points=n, k=32, critic=critic, per_output=True)
        assert max(diffs.values()) < 1e-4, diffs
    _assert_the_graph_ranks_with_the_critics_own_score(flow, path, critic)


def _assert_the_graph_ranks_with_the_critics_own_score(flow, path, critic) -> None:
    """The generator on the one graph ``path`` takes the critic in the graph, and the score it returns per
    candidate is the critic's own ``success_probability`` of that candidate (raw candidates, no physics)."""
    gen = GraspGenerator(flow, backend="onnx", steps=4, num_candidates=32, n_points=256, onnx_path=path,
                         critic=critic, physics=PhysicsConfig(refine_steps=0, repair_steps=0, reject_self_m=1e9))
    assert gen.critic_in_graph
    pts, mask = _cloud(seed=2)
    gen.generate(pts, mask, k=8)
    cand = gen.last.candidates
    own = critic.success_probability(gen.last_points, gen.last_mask, cand.wrist_pos_m, cand.wrist_rot, cand.joints_rad)
    np.testing.assert_allclose(cand.extras["learned_lift_probability"], own, atol=1e-5)
