"""The learned grasp score: it learns the teacher's success labels, ranks with them, and loads safely."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ifgrasp.errors import ModelError
from ifgrasp.grasp.diffusion.critic import CriticConfig, GraspCritic, load_critic, roc_auc, save_critic, train_critic
from ifgrasp.grasp.diffusion.generator import GraspGenerator
from ifgrasp.grasp.diffusion.train import ModelConfig, TrainConfig, load_checkpoint, train
from ifgrasp.grasp.diffusion.views import ViewConfig, render_object_views
from ifgrasp.hand.joints import PREGRASP_JOINTS_RAD


def _write_shard(folder, seed: int, n: int = 40):
    """Grasps whose lift label is decided by the wrist height: low wrists (near the box) lift."""
    rng = np.random.default_rng(seed)
    pos = rng.normal(scale=0.03, size=(n, 3)) + [0, 0, 0.12]
    lift = pos[:, 2] < 0.12
    arrays = {
        "wrist_pos_m": pos.astype(np.float32),
        "wrist_rot": np.tile(np.eye(3, dtype=np.float32), (n, 1, 1)),
        "joints_rad": np.tile(PREGRASP_JOINTS_RAD.astype(np.float32), (n, 1)),
        "lift": lift, "shake": lift, "six_dir": lift, "label": lift.astype(np.float32),
        "max_penetration_m": np.zeros(n, np.float32), "exact_penetration_m": np.zeros(n, np.float32),
        "self_penetration_m": np.zeros(n, np.float32), "part_share": np.ones(n, np.float32),
        "num_contacts": np.full(n, 5.0, np.float32), "part_force_share": np.ones(n, np.float32),
        "synthesis_s": np.float32(1.0), "validation_s": np.float32(1.0),
    }
    meta = {"category": "box", "object_seed": seed, "part": "body", "avoid": [], "round": 0, "split": "train"}
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
                       steps=300, batch_size=64, dropout=0.0, holdout_seed=1)
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
