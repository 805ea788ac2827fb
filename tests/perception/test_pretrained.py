"""Pretrained backend plumbing with tiny random OWLv2 + SAM (no downloads): boxes -> masks -> cloud,
shapes, frames, empty results, missing weights, offline download; and the latency bench."""

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ifgrasp.errors import ModelError
from ifgrasp.grounding import parse_instruction
from ifgrasp.perception import CloudConfig, TargetNotFoundError, build_object_cloud
from ifgrasp.perception.bench import perception_latency
from ifgrasp.perception.segmentation import OracleBackend, PretrainedBackend, PretrainedConfig, download_models
from ifgrasp.perception.segmentation.pretrained import box_iou, nms


@pytest.fixture(scope="module")
def backend(tiny_models):
    return PretrainedBackend(PretrainedConfig(model_dir=str(tiny_models), object_threshold=0.0, max_candidates=1,
                                              part_threshold=0.0))


def test_detect_and_masks_shapes(backend, scene):
    frame, _, _ = scene
    boxes, scores = backend.detect(frame.color, "a photo of a mug")
    assert boxes.shape == (16, 4) and scores.shape == (16,)  # (64 / 16)^2 patches
    assert (boxes[:, :2] <= boxes[:, 2:]).all() and (boxes >= 0).all()
    assert (boxes[:, [0, 2]] <= 160).all() and (boxes[:, [1, 3]] <= 120).all()
    masks = backend.box_masks(frame.color, np.array([[10.0, 20, 90, 100], [50, 10, 150, 110]]))
    assert masks.shape == (2, 120, 160) and masks.dtype == bool
    assert backend.box_masks(frame.color, np.zeros((0, 4))).shape == (0, 120, 160)


def test_segment_to_cloud(backend, scene):
    frame, _, _ = scene
    g = parse_instruction("the mug by its handle")
    res = backend.segment(frame, g)
    assert res.backend == "pretrained" and len(res.candidates) == 1 and res.chosen == 0
    assert res.object_mask.shape == res.part_mask.shape == frame.depth_m.shape
    assert not (res.part_mask & ~res.object_mask).any()
    assert res.overlay.shape == (120, 160, 3) and res.extras["box_xyxy"].shape == (4,)
    assert res.object_mask.any(), "the seeded tiny SAM gives a non-empty mask"
    cloud = build_object_cloud(frame, res.object_mask, res.part_mask, CloudConfig(n_points=128, frame="base"),
                               require_part=False)
    T = frame.T_base_camera
    cam = build_object_cloud(frame, res.object_mask, res.part_mask, CloudConfig(n_points=128), require_part=False)
    np.testing.assert_allclose(cam.points_m @ T[:3, :3].T + T[:3, 3], cloud.points_m, atol=1e-5)
    assert (cloud.points_m[:, 2] > -1e-3).all()  # nothing below the table


def test_pluggable_part_model(tiny_models, scene):
    frame, _, _ = scene

    class HalfPart:
        def segment_part(self, frame, object_mask, object_box, grounded):
            m = np.zeros_like(object_mask)
            m[:, :80] = True
            return m

    be = PretrainedBackend(PretrainedConfig(model_dir=str(tiny_models), object_threshold=0.0, max_candidates=1),
                           part_model=HalfPart())
    res = be.segment(frame, parse_instruction("the mug by its handle"))
    np.testing.assert_array_equal(res.part_mask[:, 80:], False)
    np.testing.assert_array_equal(res.part_mask[:, :80], res.object_mask[:, :80])


def test_nothing_detected_is_a_clear_error(tiny_models, scene):
    frame, _, _ = scene
    be = PretrainedBackend(PretrainedConfig(model_dir=str(tiny_models), object_threshold=1.0))
    with pytest.raises(TargetNotFoundError, match="no mug in view"):
        be.segment(frame, parse_instruction("the mug"))


def test_missing_weights(tmp_path):
    with pytest.raises(ModelError, match="weights missing.*download-models"):
        PretrainedBackend(PretrainedConfig(model_dir=str(tmp_path)))


@pytest.mark.parametrize("env", [{"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}])
def test_download_fails_fast_without_network(tmp_path, monkeypatch, env):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match="no network"):
        download_models(tmp_path, timeout_s=2.0)
    assert time.perf_counter() - t0 < 5.0
    assert not any(tmp_path.iterdir())


def _nms_loop(boxes, scores, thr):
    keep = []
    for i in np.argsort(-scores, kind="stable"):
        if all(box_iou(boxes[i:i + 1], boxes[j:j + 1])[0, 0] <= thr for j in keep):
            keep.append(int(i))
    return keep


@given(st.integers(0, 2**32 - 1))
def test_nms_matches_loop(seed):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 50, (12, 2))
    boxes = np.c_[xy, xy + rng.uniform(5, 30, (12, 2))]
    scores = rng.random(12)
    assert nms(boxes, scores, 0.4, 100).tolist() == _nms_loop(boxes, scores, 0.4)
    np.testing.assert_allclose(np.diag(box_iou(boxes, boxes)), 1.0)


def test_latency_bench_stages(backend, scene):
    frame, _, tables = scene
    for be, text in ((OracleBackend(**tables), "the red mug by its handle"), (backend, "the mug")):
        stats = perception_latency(be, [frame, frame], parse_instruction(text), CloudConfig(n_points=256), repeats=2)
        assert set(stats) == {"validate", "segment", "cloud", "total"}
        assert all(len(s.samples_s) == 4 and (s.samples_s > 0).all() for s in stats.values())
        parts = stats["validate"].samples_s + stats["segment"].samples_s + stats["cloud"].samples_s
        assert (parts <= stats["total"].samples_s + 1e-6).all()
