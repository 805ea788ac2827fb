"""The learned grasp score: it learns the teacher's success labels, ranks with them, and loads safely."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ifgrasp.errors import InputError, ModelError
from ifgrasp.grasp.diffusion.critic import CriticConfig, GraspCritic, load_critic, roc_auc, save_critic, train_critic
from ifgrasp.grasp.diffusion.generator import GraspGenerator
from ifgrasp.grasp.diffusion.train import ModelConfig, TrainConfig, load_checkpoint, train
from ifgrasp.grasp.diffusion.views import ViewConfig, render_object_views
from ifgrasp.hand.joints import PREGRASP_JOINTS_RAD


def _current_validation() -> str:
    """The validation digest of the project's teacher config: a shard carrying it has current labels."""
    from ifgrasp.grasp.dataset import DatasetConfig, validation_digest
    from ifgrasp.paths import CONFIG_DIR

    return validation_digest(DatasetConfig.from_yaml(CONFIG_DIR / "teacher_dataset.yaml"))


def _write_shard(folder, seed: int, n: int = 40, validation: str | None = None, flip: bool = False):
    """Grasps whose lift is decided by the wrist height: low wrists (near the box) lift (``flip``: the
    opposite). The other v2 results follow the height too: a low wrist grips harder, shoves less."""
    rng = np.random.default_rng(seed)
    pos = rng.normal(scale=0.03, size=(n, 3)) + [0, 0, 0.12]
    lift = (pos[:, 2] < 0.12) != flip
    arrays = {
        "wrist_pos_m": pos.astype(np.float32),
        "wrist_rot": np.tile(np.eye(3, dtype=np.float32), (n, 1, 1)),
        "joints_rad": np.tile(PREGRASP_JOINTS_RAD.astype(np.float32), (n, 1)),
        "lift": lift, "shake": lift, "six_dir": lift, "label": lift.astype(np.float32),
        "max_penetration_m": np.zeros(n, np.float32), "exact_penetration_m": np.zeros(n, np.float32),
        "penetration_stages_m": np.zeros((n, 3), np.float32),
        "self_penetration_m": np.zeros(n, np.float32), "part_share": np.ones(n, np.float32),
        "num_contacts": np.full(n, 5.0, np.float32), "part_force_share": np.ones(n, np.float32),
        "grip_margin": np.where(lift, 3.0, 0.5).astype(np.float32),
        "shove_m": np.where(lift, 0.001, 0.008).astype(np.float32),
        "lift_rotation_rad": np.where(lift, 0.05, 0.6).astype(np.float32),
        "synthesis_s": np.float32(1.0), "validation_s": np.float32(1.0),
    }
    meta = {"category": "box", "object_seed": seed, "part": "body", "avoid": [], "round": 0, "split": "train",
            "validation": validation or _current_validation(), "judge": "v2"}
    np.savez(folder / f"box_{seed:04d}_body_r00.npz", meta=json.dumps(meta), **arrays)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("critic_data")
    (root / "teacher").mkdir()
    (root / "views").mkdir()
    for seed in (0, 1):
        _write_shard(root / "teacher", seed)
        views = render_object_views("box", seed, ViewConfig(views_per_object=2, n_points=256),
                                    np.random.default_rng(seed))
        np.savez(root / "views" / f"box_{seed:04d}.npz", **views)
    return root


def test_critic_learns_the_labels_and_reports_a_holdout_auc(data, tmp_path):
    cfg = CriticConfig(dataset=str(data / "teacher"), views=str(data / "views"), n_basis=32, width=64,
                       steps=300, batch_size=64, dropout=0.0, holdout_seed=1, heads=("label",), score_weights=(1.0,),
                       balance_heads=("label",))  # the first release's critic
    summary = train_critic(cfg, tmp_path, progress=False)
    assert summary["pairs"] == 160 and summary["holdout_pairs"] == 80  # 2 objects x 40 grasps x 2 views
    assert summary["holdout_auc_lift"] > 0.8  # the height rule carries over to the unseen object
    critic = load_critic(tmp_path / "critic.pt")
    views = np.load(data / "views" / "box_0000.npz")
    T = views["T_camera_object"][0]
    low, high = np.array([[0, 0, 0.08]]), np.array([[0, 0, 0.16]])  # object frame
    pos = np.concatenate([low, high]) @ T[:3, :3].T + T[:3, 3]
    rot = np.tile(T[:3, :3], (2, 1, 1))
    q = np.tile(PREGRASP_JOINTS_RAD, (2, 1))
    p = critic.success_probability(views["points"][0], views["point_part"][0] == 0, pos, rot, q)
    assert p.shape == (2,) and p[0] > 0.5 > p[1]


def test_generator_adds_the_learned_term_to_its_ranking(data, tmp_path):
    student = TrainConfig(dataset=str(data / "teacher"), views=str(data / "views"), steps=5, batch_size=8,
                          model=ModelConfig(n_basis=32, width=32, depth=1, num_train_steps=20))
    train(student, tmp_path, progress=False)
    views = np.load(data / "views" / "box_0000.npz")
    pts, mask = views["points"][0], views["point_part"][0] == 0
    plain = GraspGenerator.from_checkpoint(tmp_path / "student.pt", backend="torch", steps=2, num_candidates=8,
                                           n_points=128)
    assert plain.critic is None  # no critic.pt beside the student yet
    plain.generate(pts, mask, k=8)
    save_critic(GraspCritic(n_basis=32, width=16), tmp_path / "critic.pt")
    ranked = GraspGenerator.from_checkpoint(tmp_path / "student.pt", backend="torch", steps=2, num_candidates=8,
                                            n_points=128)
    assert ranked.critic is not None  # picked up from beside the student ("auto")
    ranked.generate(pts, mask, k=8)
    cand = ranked.last.candidates
    p = cand.extras["learned_lift_probability"]
    assert p.shape == (8,) and ((p > 0) & (p < 1)).all()
    np.testing.assert_allclose(cand.scores - plain.last.candidates.scores, ranked.ranking.w_learned * p, atol=1e-6)


def test_load_critic_refuses_wrong_files(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_critic(tmp_path / "nope.pt")
    torch.save({"hand": "leap_hand_right/v1", "hyper": {}, "state_dict": {}}, tmp_path / "student.pt")
    with pytest.raises(ModelError, match="not an ifgrasp grasp critic"):
        load_critic(tmp_path / "student.pt")
    torch.save({"hand": "allegro", "kind": "critic", "hyper": {}, "state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ModelError, match="allegro"):
        load_critic(tmp_path / "other.pt")
    save_critic(GraspCritic(n_basis=8, width=8), tmp_path / "critic.pt")
    with pytest.raises(ModelError, match="not an ifgrasp student checkpoint"):
        load_checkpoint(tmp_path / "critic.pt")  # a critic is not a student


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=2, max_size=30))
def test_roc_auc_matches_pairwise_counting(rows):
    scores = np.array([r[0] for r in rows], float)
    labels = np.array([r[1] for r in rows])
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        assert np.isnan(roc_auc(scores, labels))
        return
    pairwise = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg))
    assert roc_auc(scores, labels) == pytest.approx(pairwise)


def _v2_config(data, **kw) -> CriticConfig:
    base = dict(dataset=str(data / "teacher"), views=str(data / "views"), n_basis=32, width=64, steps=300,
                batch_size=64, dropout=0.0, holdout_seed=None)
    return CriticConfig(**(base | kw))


def _low_and_high(critic, views):
    """The critic's score of a low (lifting) and a high (dropping) wrist on the first view of ``views``."""
    T = views["T_camera_object"][0]
    pos = np.array([[0, 0, 0.08], [0, 0, 0.16]]) @ T[:3, :3].T + T[:3, 3]
    rot, q = np.tile(T[:3, :3], (2, 1, 1)), np.tile(PREGRASP_JOINTS_RAD, (2, 1))
    return critic.success_probability(views["points"][0], views["point_part"][0] == 0, pos, rot, q)


def test_v2_critic_learns_only_from_shards_with_current_labels(data, tmp_path):
    """A shard whose labels come from other validation settings (not yet re-validated) is left out: here it
    holds twice the grasps with the opposite rule, so a critic that learned from it ranks backwards."""
    mixed = tmp_path / "mixed"
    (mixed / "teacher").mkdir(parents=True)
    (mixed / "views").symlink_to(data / "views")
    _write_shard(mixed / "teacher", 0)
    _write_shard(mixed / "teacher", 1, n=80, validation="0ld5e771n6", flip=True)
    summary = train_critic(_v2_config(mixed), tmp_path / "v2", progress=False)
    assert summary["shards"] == 1 and summary["grasps"] == 40
    views = np.load(data / "views" / "box_0000.npz")
    low, high = _low_and_high(load_critic(tmp_path / "v2" / "critic.pt"), views)
    assert low > 0.5 > high
    assert train_critic(_v2_config(mixed, labels="any"), tmp_path / "any", progress=False)["shards"] == 2
    low, high = _low_and_high(load_critic(tmp_path / "any" / "critic.pt"), views)
    assert low < high  # the stale shard's rule wins when every shard counts
    stale_only = tmp_path / "stale"
    (stale_only / "teacher").mkdir(parents=True)
    _write_shard(stale_only / "teacher", 0, validation="0ld5e771n6")
    with pytest.raises(InputError, match="revalidate"):
        train_critic(_v2_config(stale_only), tmp_path / "none", progress=False)


def test_heads_learn_their_targets_and_the_score_is_their_weighted_mean(data, tmp_path):
    cfg = _v2_config(data, heads=("lift", "grip", "shove", "turn", "clear"), score_weights=(1.0, 1.0, 0.0, 0.0, 0.0))
    train_critic(cfg, tmp_path, progress=False)
    critic = load_critic(tmp_path / "critic.pt")
    assert critic.heads == ("lift", "grip", "shove", "turn", "clear")
    views = np.load(data / "views" / "box_0000.npz")
    T = views["T_camera_object"][0]
    pos = np.array([[0, 0, 0.08], [0, 0, 0.16]]) @ T[:3, :3].T + T[:3, 3]  # low (lifts) and high (drops)
    rot, q = np.tile(T[:3, :3], (2, 1, 1)), np.tile(PREGRASP_JOINTS_RAD, (2, 1))
    feats, center = critic.encoder(torch.as_tensor(views["points"][0][None], dtype=torch.float32),
                                   torch.as_tensor(views["point_part"][0][None] == 0, dtype=torch.float32))
    from ifgrasp.grasp.diffusion.policy import GraspDiffusion

    vec = GraspDiffusion.to_vector(torch.as_tensor(pos, dtype=torch.float32) - center,
                                   torch.as_tensor(rot, dtype=torch.float32), torch.as_tensor(q, dtype=torch.float32))
    with torch.no_grad():
        p = torch.sigmoid(critic.head_logits(feats, vec)).numpy()
    assert (p[0, :4] > p[1, :4]).all()  # lift, grip, shove (less is better), turn: the low wrist wins each
    assert p[0, 4] > 0.5 and p[1, 4] > 0.5  # no grasp penetrates: clear
    score = critic.success_probability(views["points"][0], views["point_part"][0] == 0, pos, rot, q)
    np.testing.assert_allclose(score, (p[:, 0] + p[:, 1]) / 2, atol=1e-6)


def test_a_first_release_critic_file_loads_as_one_label_head(tmp_path):
    """Files saved before heads existed (hyper without heads, no score weights) keep their meaning."""
    old = GraspCritic(n_basis=8, width=8).eval()
    hyper = {k: v for k, v in old.hyper.items() if k not in ("heads", "score_weights")}
    torch.save({"hand": "leap_hand_right/v1", "kind": "critic", "hyper": hyper, "state_dict": old.state_dict()},
               tmp_path / "critic.pt")
    critic = load_critic(tmp_path / "critic.pt")
    assert critic.heads == ("label",)
    feats, vec = torch.randn(1, 16), torch.randn(5, 25)
    with torch.no_grad():
        np.testing.assert_allclose(critic.score_from_features(feats, vec),
                                   torch.sigmoid(old.logits_from_features(feats, vec)), atol=1e-7)
    bad = dict(old.hyper, heads=["lift", "grip"], score_weights=[1.0, 0.0])  # two heads, one-head weights
    torch.save({"hand": "leap_hand_right/v1", "kind": "critic", "hyper": bad, "state_dict": old.state_dict()},
               tmp_path / "bad.pt")
    with pytest.raises(ModelError, match="does not match"):
        load_critic(tmp_path / "bad.pt")


def test_unknown_heads_and_misfit_weights_are_named():
    with pytest.raises(ValueError, match="unknown critic head"):
        CriticConfig(heads=("lift", "grasp_quality"), score_weights=(1.0, 1.0))
    with pytest.raises(ValueError, match="one weight"):
        CriticConfig(heads=("lift", "grip"), score_weights=(1.0,))


def test_an_interrupted_fit_resumes_to_the_same_critic(data, tmp_path, monkeypatch):
    cfg = _v2_config(data, steps=60, checkpoint_every=20, dropout=0.2, holdout_seed=1)
    train_critic(cfg, tmp_path / "whole", progress=False)
    calls = {"n": 0, "stop": 60 + 45}  # the holdout fit's 60 steps, then 45 of the final fit
    real = GraspCritic.head_logits

    def counted(self, feats, vectors):
        if self.training:
            calls["n"] += 1
            if calls["n"] > calls["stop"]:
                raise KeyboardInterrupt
        return real(self, feats, vectors)

    monkeypatch.setattr(GraspCritic, "head_logits", counted)
    with pytest.raises(KeyboardInterrupt):
        train_critic(cfg, tmp_path / "cut", progress=False)
    calls.update(n=0, stop=10**9)
    resumed = train_critic(cfg, tmp_path / "cut", progress=False)
    assert calls["n"] == 20  # the holdout fit was done (state at 60), the final one went on from 40
    a, b = load_critic(tmp_path / "whole" / "critic.pt"), load_critic(tmp_path / "cut" / "critic.pt")
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(x, y, msg=name)
    assert resumed["holdout_auc_lift"] == pytest.approx(
        json.loads((tmp_path / "whole" / "critic_log.json").read_text())["summary"]["holdout_auc_lift"])


def test_ranking_quality_against_counting_by_hand(data, tmp_path):
    from ifgrasp.grasp.dataset import load_dataset
    from ifgrasp.grasp.diffusion.critic import ranking_quality

    train_critic(_v2_config(data), tmp_path, progress=False)
    critic = load_critic(tmp_path / "critic.pt")
    untrained = GraspCritic(n_basis=32, width=64).eval()
    report = ranking_quality({"fit": critic, "untrained": untrained}, data / "teacher", data / "views")
    overall = report["overall"]
    lift = load_dataset(data / "teacher")["lift"]
    assert overall["pairs"] == 160 and overall["lifted_pairs"] == 2 * lift.sum()  # every grasp seen in 2 views
    assert overall["groups"] == 4 and overall["base_rate"] == pytest.approx(lift.mean())
    assert overall["fit"]["auc_lift"] > 0.9 and overall["fit"]["precision_at_1"] == 1.0
    assert overall["fit"]["auc_v2"] == pytest.approx(overall["fit"]["auc_lift"])  # nothing penetrates here
    assert overall["fit"]["precision_at_8"] > overall["untrained"]["precision_at_8"]


def test_top_k_mean_shares_ties_instead_of_taking_the_first_index():
    from ifgrasp.grasp.diffusion.critic import top_k_mean

    labels = np.array([0, 0, 1, 1, 0, 1])
    assert top_k_mean(np.array([0.1, 0.2, 0.9, 0.8, 0.3, 0.7]), labels, 3) == 1.0
    assert top_k_mean(np.ones(6), labels, 1) == pytest.approx(0.5)  # all tied: the mean, whatever the order
    assert top_k_mean(np.array([1.0, 0.5, 0.5, 0.5, 0.0, 0.0]), np.array([0, 1, 1, 0, 1, 1]), 2) == pytest.approx(
        (0 + 2 / 3) / 2)
    assert top_k_mean(np.array([0.3, 0.2]), np.array([1, 0]), 8) == 0.5  # fewer than k: all of them


def test_point_subset_takes_the_even_subsets_build_pairs_takes():
    from ifgrasp.grasp.diffusion.encoding import PointSubset, even_indices

    for n in (7, 128, 1000, 2048):
        np.testing.assert_array_equal(even_indices(n, 64).numpy(), np.linspace(0, n - 1, 64).astype(int))
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(300, 3)).astype(np.float32)
    mask = pts[:, 0] > 0.5
    feats, center = PointSubset(16, 8)(torch.as_tensor(pts)[None], torch.as_tensor(mask)[None])
    f = feats.reshape(24, 4).numpy()
    np.testing.assert_allclose(center[0].numpy(), pts[mask].mean(0), atol=1e-6)
    rel = pts - pts[mask].mean(0)
    np.testing.assert_allclose(f[:16, :3], rel[np.linspace(0, 299, 16).astype(int)], atol=1e-6)
    np.testing.assert_allclose(f[16:, :3], rel[mask][np.linspace(0, mask.sum() - 1, 8).astype(int)], atol=1e-6)
    assert (f[:16, 3] == 0).all() and (f[16:, 3] == 1).all()


def test_point_critic_sees_points_in_the_wrist_frame_and_learns(data, tmp_path):
    from ifgrasp.geometry import matrix_to_rot6d
    from ifgrasp.grasp.diffusion.critic import PointCritic

    torch.manual_seed(0)
    critic = PointCritic(n_cloud=16, n_part=8, point_width=16, width=16, heads=("lift", "grip")).eval()
    feats = torch.randn(1, 24 * 4)
    R = torch.as_tensor(np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0], dtype=torch.float32)
    R = R * torch.linalg.det(R)
    t = torch.tensor([0.01, -0.02, 0.05])
    vec = torch.cat([t, torch.as_tensor(matrix_to_rot6d(R[None].numpy())[0]), torch.zeros(16)])[None]
    # the scene moved rigidly with the hand (p' = R p + t): seen from the wrist it is the same scene
    pts = feats.reshape(24, 4)
    moved = torch.cat([pts[:, :3] @ R.T + t, pts[:, 3:]], -1).reshape(1, -1)
    identity = torch.cat([torch.zeros(3), torch.tensor([1.0, 0, 0, 0, 1.0, 0]), torch.zeros(16)])[None]
    with torch.no_grad():
        torch.testing.assert_close(critic.pooled(moved, vec), critic.pooled(feats, identity), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(critic.pooled(feats, vec), critic.pooled(feats, identity), atol=1e-3)
    assert critic.head_logits(moved, vec).shape == (1, 2)
    summary = train_critic(_v2_config(data, encoder="points", n_cloud=32, n_part=16, point_width=32, holdout_seed=1),
                           tmp_path, progress=False)
    assert summary["holdout_auc_lift"] > 0.8
    loaded = load_critic(tmp_path / "critic.pt")
    assert isinstance(loaded, PointCritic)
    low, high = _low_and_high(loaded, np.load(data / "views" / "box_0000.npz"))
    assert low > high


def test_a_critic_refit_without_out_does_not_replace_the_shipped_critic(monkeypatch, tmp_path):
    """``ifgrasp train --critic`` writes to out/critic by default: the critic beside the student is the one
    the shipped ONNX graph was exported with, replaced only by copying a measured refit there."""
    from ifgrasp.grasp.diffusion import commands

    written = []
    monkeypatch.setattr(commands, "OUT_DIR", tmp_path / "out")
    monkeypatch.setattr(commands, "train_critic", lambda cfg, out: written.append(out) or {"steps": 0})
    commands.train_command(None, None, 1, critic=True)
    assert written == [tmp_path / "out" / "critic"]
    commands.train_command(None, tmp_path / "mine", 1, critic=True)
    assert written[-1] == tmp_path / "mine"
