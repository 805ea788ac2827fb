"""`ifgrasp train` on a tiny teacher dataset and one rendered view: pairs are built in the camera
frame, a checkpoint is written and loads into a working generator."""

import json

import numpy as np
import pytest

from ifgrasp.errors import InputError
from ifgrasp.grasp.diffusion.generator import GraspGenerator
from ifgrasp.grasp.diffusion.train import ModelConfig, TrainConfig, train
from ifgrasp.grasp.diffusion.views import ViewConfig, render_object_views
from ifgrasp.hand.joints import PREGRASP_JOINTS_RAD

TINY_MODEL = ModelConfig(n_basis=32, width=32, depth=1, num_train_steps=20)


def _write_shard(folder, n=6):
    rng = np.random.default_rng(0)
    arrays = {
        "wrist_pos_m": (rng.normal(scale=0.02, size=(n, 3)) + [0, 0, 0.15]).astype(np.float32),
        "wrist_rot": np.tile(np.eye(3, dtype=np.float32), (n, 1, 1)),
        "joints_rad": np.tile(PREGRASP_JOINTS_RAD.astype(np.float32), (n, 1)),
        "lift": np.ones(n, bool), "shake": np.ones(n, bool), "six_dir": np.ones(n, bool),
        "label": np.ones(n, np.float32), "max_penetration_m": np.zeros(n, np.float32),
        "exact_penetration_m": np.zeros(n, np.float32), "self_penetration_m": np.zeros(n, np.float32),
        "part_share": np.ones(n, np.float32), "num_contacts": np.full(n, 5.0, np.float32),
        "part_force_share": np.ones(n, np.float32),
        "synthesis_s": np.float32(1.0), "validation_s": np.float32(1.0),
    }
    meta = {"category": "box", "object_seed": 0, "part": "body", "avoid": [], "round": 0, "split": "train"}
    np.savez(folder / "box_0000_body_r00.npz", meta=json.dumps(meta), **arrays)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("student_data")
    (root / "teacher").mkdir()
    (root / "views").mkdir()
    _write_shard(root / "teacher")
    views = render_object_views("box", 0, ViewConfig(views_per_object=2, n_points=256), np.random.default_rng(0))
    np.savez(root / "views" / "box_0000.npz", **views)
    return root


def test_train_writes_a_loadable_model(tiny_data, tmp_path):
    cfg = TrainConfig(dataset=str(tiny_data / "teacher"), views=str(tiny_data / "views"), steps=20, batch_size=8,
                      checkpoint_every=10, model=TINY_MODEL)
    summary = train(cfg, tmp_path, progress=False)
    assert summary["pairs"] == 12  # 6 grasps x 2 views
    log = json.loads((tmp_path / "train_log.json").read_text())
    assert log["summary"]["steps"] == 20
    gen = GraspGenerator.from_checkpoint(tmp_path / "student.pt", backend="torch", steps=2, num_candidates=4,
                                         n_points=128)
    views = np.load(tiny_data / "views" / "box_0000.npz")
    grasps = gen.generate(views["points"][0], views["point_part"][0] == 0, k=2)
    assert len(grasps) == 2 and np.isfinite(grasps.wrist_pos_m).all()


def test_train_refuses_an_empty_dataset(tiny_data, tmp_path):
    (tmp_path / "empty").mkdir()
    cfg = TrainConfig(dataset=str(tmp_path / "empty"), views=str(tiny_data / "views"), steps=2, model=TINY_MODEL)
    with pytest.raises(InputError, match="empty"):
        train(cfg, tmp_path, progress=False)


def test_task_weights_give_every_task_the_same_total():
    from ifgrasp.grasp.diffusion.train import task_weights

    cats = np.array(["box"] * 90 + ["mug"] * 9 + ["mug"] * 1)
    parts = np.array(["body"] * 90 + ["body"] * 9 + ["handle"])
    w = task_weights(cats, parts)
    totals = [w[(cats == c) & (parts == p)].sum() for c, p in (("box", "body"), ("mug", "body"), ("mug", "handle"))]
    np.testing.assert_allclose(totals, 1.0)


def test_physics_loss_pulls_the_samples_out_of_self_collision(tiny_data, tmp_path):
    """Targets whose middle and ring fingers are pressed 18 mm into each other: the plain student
    learns the collision, the one trained with the physics loss (exact self-penetration on its
    predicted clean grasp) keeps its samples much shallower."""
    import torch

    from ifgrasp.grasp.diffusion.physics import PhysicsConfig
    from ifgrasp.hand import HandSelfCollision, LeapHandModel

    pressed = PREGRASP_JOINTS_RAD.astype(np.float32).copy()
    pressed[4], pressed[8] = 0.3, -0.3
    data = tmp_path / "teacher"
    data.mkdir()
    _write_shard(data)
    with np.load(data / "box_0000_body_r00.npz") as z:
        arrays = {k: z[k] for k in z.files}
    spread = np.random.default_rng(1).normal(scale=0.1, size=(6, 16)).astype(np.float32)
    arrays["joints_rad"] = pressed + spread  # varied, so the normaliser lets joints move
    np.savez(data / "box_0000_body_r00.npz", **arrays)
    sc = HandSelfCollision(LeapHandModel())
    depth = {}
    for w in (0.0, 1.0):
        out = tmp_path / f"w{w}"
        cfg = TrainConfig(dataset=str(data), views=str(tiny_data / "views"), steps=150, batch_size=16, lr=3e-3,
                          checkpoint_every=150, w_physics=w, model=TINY_MODEL)
        train(cfg, out, progress=False)
        gen = GraspGenerator.from_checkpoint(out / "student.pt", backend="torch", steps=4, num_candidates=16,
                                             n_points=128, physics=PhysicsConfig(refine_steps=0, repair_steps=0,
                                                                                 reject_self_m=1e9))
        views = np.load(tiny_data / "views" / "box_0000.npz")
        gen.generate(views["points"][0], views["point_part"][0] == 0, k=16)
        depth[w] = float(sc.max_depth(torch.as_tensor(gen.last.candidates.joints_rad, dtype=torch.float32)).mean())
    assert depth[0.0] > 0.005  # it learned the pressed fingers
    assert depth[1.0] < 0.5 * depth[0.0]


def test_training_resumes_from_its_state(tiny_data, tmp_path):
    cfg = TrainConfig(dataset=str(tiny_data / "teacher"), views=str(tiny_data / "views"), steps=20, batch_size=8,
                      checkpoint_every=10, model=TINY_MODEL)
    train(cfg, tmp_path, progress=False)
    first = (tmp_path / "student.pt").read_bytes()
    again = train(cfg, tmp_path, progress=False)
    assert again["resumed_from"] == 20 and (tmp_path / "student.pt").read_bytes() == first
    fresh = train(cfg.replace(resume=False), tmp_path / "fresh", progress=False)
    assert fresh["resumed_from"] == 0


def test_train_refuses_a_dataset_without_v2_labels_unless_told_to_use_v1(tiny_data, tmp_path):
    old = tmp_path / "v1"
    old.mkdir()
    with np.load(tiny_data / "teacher" / "box_0000_body_r00.npz") as z:
        arrays = {k: z[k] for k in z.files if k not in ("exact_penetration_m", "self_penetration_m")}
    np.savez(old / "box_0000_body_r00.npz", **arrays)
    cfg = TrainConfig(dataset=str(old), views=str(tiny_data / "views"), steps=2, model=TINY_MODEL)
    with pytest.raises(InputError, match="no judge-v2 labels: `ifgrasp revalidate"):
        train(cfg, tmp_path, progress=False)
    summary = train(cfg.replace(teacher_filter="v1"), tmp_path / "out", progress=False)
    assert summary is not None


def revalidated_shard(tiny_data, tmp_path, v2_lift):
    """A folder with the tiny box shard as ``ifgrasp revalidate`` leaves it: judge v2, its v1 labels kept
    as ``v1_*``, and v2's lifts ``v2_lift(v1 lifts)``."""
    from ifgrasp.grasp.evaluate import V1_FIELDS

    folder = tmp_path / "revalidated"
    folder.mkdir()
    with np.load(tiny_data / "teacher" / "box_0000_body_r00.npz") as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = {**json.loads(str(z["meta"])), "judge": "v2"}
    for name in V1_FIELDS:
        if name in arrays:
            arrays[f"v1_{name}"] = arrays[name].copy()
    arrays["lift"] = v2_lift(arrays["lift"])
    np.savez(folder / "box_0000_body_r00.npz", meta=json.dumps(meta), **arrays)
    return folder


def test_teacher_filter_v1_learns_from_the_v1_labels_a_revalidation_kept(tiny_data, tmp_path):
    """After ``ifgrasp revalidate`` a shard's own labels are v2 and its v1 labels live on as ``v1_*``:
    ``teacher_filter: v1`` trains on the grasps the v1 judge kept, not on v2 lifts with v1's gates."""
    revalidated = revalidated_shard(tiny_data, tmp_path, lambda v1_lift: np.zeros_like(v1_lift))  # v2 lifts none
    cfg = TrainConfig(dataset=str(revalidated), views=str(tiny_data / "views"), steps=2, model=TINY_MODEL)
    with pytest.raises(InputError, match="no \\(view, validated grasp\\) pair"):
        train(cfg, tmp_path / "v2", progress=False)
    summary = train(cfg.replace(teacher_filter="v1"), tmp_path / "v1", progress=False)
    assert summary["pairs"] > 0


def test_a_point_encoder_student_trains_saves_and_generates(tiny_data, tmp_path):
    model = ModelConfig(encoder="points", n_cloud=32, n_part=16, point_width=16, width=32, depth=1, num_train_steps=20)
    cfg = TrainConfig(dataset=str(tiny_data / "teacher"), views=str(tiny_data / "views"), steps=30, batch_size=8,
                      checkpoint_every=30, model=model)
    train(cfg, tmp_path, progress=False)
    gen = GraspGenerator.from_checkpoint(tmp_path / "student.pt", backend="torch", steps=2, num_candidates=4,
                                         n_points=128)
    assert gen.policy.hyper["encoder"] == "points" and gen.policy.denoiser.point_net is not None
    views = np.load(tiny_data / "views" / "box_0000.npz")
    grasps = gen.generate(views["points"][0], views["point_part"][0] == 0, k=2)
    assert len(grasps) == 2 and np.isfinite(grasps.wrist_pos_m).all()


def test_augmented_copies_multiply_the_training_pairs(tiny_data, tmp_path):
    from ifgrasp.grasp.diffusion.augment import AugmentConfig

    cfg = TrainConfig(dataset=str(tiny_data / "teacher"), views=str(tiny_data / "views"), steps=2, batch_size=8,
                      model=TINY_MODEL, augment=AugmentConfig(copies=3))
    assert train(cfg, tmp_path, progress=False)["pairs"] == 4 * 12


def two_tasks(lift_v2: np.ndarray, v1_lift: np.ndarray) -> dict:
    """12 grasps, box body then mug handle (6 each), passing every gate but the lifts: ``lift_v2`` (v2)
    and ``v1_lift`` (v1)."""
    n = 12
    return {"category": np.array(["box"] * 6 + ["mug"] * 6), "part": np.array(["body"] * 6 + ["handle"] * 6),
            "judge": np.full(n, "v2"), "lift": lift_v2, "v1_lift": v1_lift, "label": lift_v2.astype(np.float32),
            "v1_label": np.ones(n, np.float32), "exact_penetration_m": np.zeros(n), "self_penetration_m": np.zeros(n),
            "max_penetration_m": np.zeros(n), "part_share": np.ones(n), "num_contacts": np.full(n, 5),
            "part_force_share": np.ones(n), "v1_part_force_share": np.ones(n)}


def test_v2_else_v1_learns_v2_grasps_where_a_task_has_enough_and_v1_grasps_elsewhere():
    from ifgrasp.grasp.diffusion.train import teacher_grasps

    lift_v2 = np.array([1, 1, 0, 0, 0, 0] + [1, 0, 0, 0, 0, 0], bool)  # box: 2 v2 grasps, mug handle: 1
    data = two_tasks(lift_v2, np.ones(12, bool))
    keep = teacher_grasps(data, "v2_else_v1", min_v2_grasps=2)
    np.testing.assert_array_equal(keep[:6], lift_v2[:6])  # box has 2: its v2 grasps only
    assert keep[6:].all()  # mug handle has 1 < 2: every v1-validated grasp
    assert (teacher_grasps(data, "v2") == lift_v2).all() and teacher_grasps(data, "v1").all()


def test_v2_with_v1_keeps_both_and_draws_the_v2_share_from_the_v2_grasps():
    """A task with enough v2 grasps draws ``v2_share`` of its pairs from them and the rest from its
    v1 grasps, its total unchanged; a task without enough keeps its v1 weights."""
    from ifgrasp.grasp.diffusion.train import task_weights, teacher_grasps, v2_grasps, v2_share_weights

    lift_v2 = np.array([1, 1, 0, 0, 0, 0] + [1, 0, 0, 0, 0, 0], bool)
    v1_ok = np.array([1, 1, 1, 1, 1, 0] + [1, 1, 1, 0, 0, 0], bool)
    data = two_tasks(lift_v2, v1_ok)
    cats, parts = data["category"], data["part"]
    keep = teacher_grasps(data, "v2_with_v1", min_v2_grasps=2)
    np.testing.assert_array_equal(keep, v1_ok)  # here every v2 grasp is also a v1 one
    idx = np.flatnonzero(keep)
    v2, enough = v2_grasps(data, min_v2_grasps=2)
    w = v2_share_weights(task_weights(cats[idx], parts[idx]), cats[idx], parts[idx], v2[idx], enough[idx], 0.75)
    box, mug = cats[idx] == "box", cats[idx] == "mug"
    assert w[box].sum() == pytest.approx(1.0) and w[mug].sum() == pytest.approx(1.0)
    assert w[box & v2[idx]].sum() == pytest.approx(0.75)  # 2 of box's 5 pairs carry 3/4 of its draws
    np.testing.assert_allclose(w[mug], 1 / 3)  # mug handle has 1 < 2 v2 grasps: plain task balance


def test_v2_with_v1_trains_on_the_union_of_both_labels(tiny_data, tmp_path):
    """A revalidated shard where v2 lifts only two grasps: ``v2_with_v1`` trains on every v1-validated
    pair (the two v2 ones among them), ``v2`` on the two alone."""

    def two_of(v1_lift):  # v2 keeps two of the v1 lifts
        lift = np.zeros_like(v1_lift)
        lift[np.flatnonzero(v1_lift)[:2]] = True
        return lift

    revalidated = revalidated_shard(tiny_data, tmp_path, two_of)
    cfg = TrainConfig(dataset=str(revalidated), views=str(tiny_data / "views"), steps=2, batch_size=8,
                      model=TINY_MODEL, min_v2_grasps=1)
    mixed = train(cfg.replace(teacher_filter="v2_with_v1"), tmp_path / "mixed", progress=False)
    v1 = train(cfg.replace(teacher_filter="v1"), tmp_path / "v1", progress=False)
    v2 = train(cfg.replace(teacher_filter="v2"), tmp_path / "v2", progress=False)
    assert mixed["pairs"] == v1["pairs"] > v2["pairs"] > 0 and mixed["tasks"] == 1
