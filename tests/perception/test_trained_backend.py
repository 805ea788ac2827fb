"""TRAINED backend end to end with the committed weights on a rendered held-out cluttered scene;
missing weights; registration; the evaluation against the ground-truth oracle."""

import numpy as np
import pytest

import ifgrasp.perception.trained  # noqa: F401  (registers "trained")
from ifgrasp.errors import ModelError
from ifgrasp.grounding import GroundedInstruction, parse_instruction
from ifgrasp.paths import MODELS_DIR
from ifgrasp.perception.errors import TargetNotFoundError
from ifgrasp.perception.evaluate import evaluate_views, format_table, oracle_tables
from ifgrasp.perception.segmentation import make_backend
from ifgrasp.perception.trained import STAGES, TrainedBackend, TrainedConfig
from ifgrasp.perception.trained.backend import _nearest_sample
from ifgrasp.perception.trained.dataset import render_view
from ifgrasp.sim.objects import CATEGORIES

WEIGHTS = MODELS_DIR / "perception" / "trained.pt"


@pytest.fixture(scope="module")
def backend():
    return make_backend("trained")


@pytest.fixture(scope="module")
def view():
    return render_view(2024, "heldout")


def test_nearest_sample_matches_brute_force():
    rng = np.random.default_rng(0)
    samples = rng.uniform(0, 0.2, (3, 40, 3)).astype(np.float32)  # (K, n, 3), clusters overlap in space
    slot = rng.integers(0, 3, 500)
    pts = rng.uniform(0, 0.2, (500, 3)).astype(np.float32)
    got = _nearest_sample(samples, pts, slot, voxel_m=1e-6)  # tiny voxels: exact nearest
    d = np.linalg.norm(pts[:, None] - samples[slot], axis=-1)  # (M, n) to own cluster only
    np.testing.assert_array_equal(got, slot * 40 + d.argmin(1))
    coarse = _nearest_sample(samples, pts, slot, voxel_m=0.01)
    assert np.all(coarse // 40 == slot)  # never crosses clusters
    err = np.linalg.norm(samples.reshape(-1, 3)[coarse] - pts, axis=1) - d.min(1)
    assert err.max() < 2 * np.sqrt(3) * 0.01  # off by at most a voxel diagonal each way


def test_committed_weights_small():
    assert WEIGHTS.is_file() and WEIGHTS.stat().st_size < 20e6


def test_missing_weights_name_the_path(tmp_path):
    with pytest.raises(ModelError, match=str(tmp_path / "nope.pt")):
        TrainedBackend(TrainedConfig(weights=str(tmp_path / "nope.pt")))


def test_selects_the_named_object_and_its_part(backend, view):
    h, w = view.frame.depth_m.shape
    visible = np.bincount(view.gt_object[view.gt_object >= 0], minlength=len(view.categories))
    target = int(np.argmax(visible))  # the most visible object
    cat = view.categories[target]
    text = f"the {cat.replace('_', ' ')}"
    res = backend.segment(view.frame, parse_instruction(text))
    assert res.object_mask.shape == res.part_mask.shape == (h, w) and res.overlay.shape == (h, w, 3)
    ids, counts = np.unique(view.gt_object[res.object_mask], return_counts=True)
    assert ids[np.argmax(counts)] == target
    assert not (res.part_mask & ~res.object_mask).any()
    assert set(res.extras["stage_s"]) == set(STAGES)
    labels = backend.label_frame(view.frame)
    o = len(labels["category"])
    assert labels["masks"].shape == (o, h, w) and labels["prob"].shape == (o, len(CATEGORIES))
    assert np.all(labels["prob"] <= 1 + 1e-6) and np.all(labels["prob"].sum(1) >= 1 - 1e-4)  # means of softmaxes
    assert not (labels["masks"].sum(0) > 1).any()  # a pixel belongs to one object at most


def test_absent_category_is_refused(backend, view):
    absent = [c for c in ("hammer", "knife", "teapot", "mug") if c not in view.categories][0]
    g = GroundedInstruction(text=f"the {absent}", category=absent, part="handle")
    with pytest.raises(TargetNotFoundError, match=f"no {absent}"):
        backend.segment(view.frame, g)


def test_evaluation_is_perfect_for_the_oracle(view):
    from ifgrasp.perception.segmentation.oracle import OracleBackend
    from ifgrasp.perception.segmentation.base import SegmentationBackend

    class PerView(SegmentationBackend):
        name = "oracle"

        def segment(self, frame, grounded):
            f, tables = oracle_tables(view)
            return OracleBackend(**tables).segment(f, grounded)

    m = evaluate_views(PerView(), [view])
    assert m["targets"] >= 2 and m["object_selection_accuracy"] == 1.0 and m["part_miou"] == 1.0
    assert m["absent_asked"] == 2 and m["absent_false_accept_rate"] == 0.0  # the oracle refuses absent objects
    assert "object selection accuracy" in format_table(m)


def test_code_defaults_are_the_committed_config():
    """make_backend("trained") (code defaults) runs what config/perception_trained.yaml documents."""
    from ifgrasp.perception.trained.train import DEFAULT_YAML

    assert TrainedConfig.from_yaml(DEFAULT_YAML, "backend") == TrainedConfig()
