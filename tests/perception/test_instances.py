"""Table removal + clustering against the ray-cast ground truth, open3d and numpy backends."""

import numpy as np
import pytest

from ifgrasp.errors import InputError
from ifgrasp.perception import InstanceConfig, find_instances
from ifgrasp.perception.instances import o3d


def _best_iou(masks, gt):
    inter = (masks & gt).sum(axis=(1, 2))
    union = (masks | gt).sum(axis=(1, 2))
    return (inter / np.maximum(union, 1)).max()


@pytest.mark.parametrize("backend", ["numpy", pytest.param("open3d", marks=pytest.mark.skipif(
    o3d is None, reason="open3d not installed"))])
def test_instances_match_ground_truth(scene, backend):
    frame, _, _ = scene
    inst = find_instances(frame, InstanceConfig(backend=backend, min_points=10))
    assert inst.backend == backend
    assert inst.masks.shape == (3, *frame.depth_m.shape) and inst.labels.dtype == np.int32
    for oid in (1, 2, 3):
        assert _best_iou(inst.masks, frame.object_ids == oid) > 0.85, oid
    assert not (inst.masks.sum(axis=0) > 1).any()  # disjoint
    # The plane found is the table z = 0: every table pixel is within a few mm of it.
    table = frame.object_ids == -1
    assert not inst.masks[:, table].any()
    n_base = frame.T_base_camera[:3, :3] @ inst.plane[:3]
    assert abs(abs(n_base[2]) - 1) < 1e-2


@pytest.mark.skipif(o3d is None, reason="open3d not installed")
def test_backends_agree(scene):
    frame, _, _ = scene
    a = find_instances(frame, InstanceConfig(backend="numpy", min_points=10))
    b = find_instances(frame, InstanceConfig(backend="open3d", min_points=10))
    assert a.masks.shape == b.masks.shape
    for m in a.masks:
        assert _best_iou(b.masks, m) > 0.95


def test_no_depth_is_refused(scene):
    frame, _, _ = scene
    import dataclasses

    empty = dataclasses.replace(frame, depth_m=np.full_like(frame.depth_m, np.nan))
    with pytest.raises(InputError, match="no valid pixel"):
        find_instances(empty)


def test_labelled_pixels_stand_above_the_plane_found(scene):
    """Independent reference: every labelled pixel's back-projected point (``backproject``) is more
    than ``above_table_m`` from the returned plane; the table pixels below it are unlabelled."""
    from ifgrasp.perception.depth import backproject

    frame, _, _ = scene
    cfg = InstanceConfig(min_points=10)
    inst = find_instances(frame, cfg)
    height = backproject(frame.depth_m, frame.intrinsics) @ inst.plane[:3] + inst.plane[3]  # (H, W)
    on = inst.labels >= 0
    assert on.any() and (height[on] > cfg.above_table_m).all()
    assert (inst.labels[(height < cfg.above_table_m) & (frame.depth_m > 0)] == -1).all()


def test_overlay_matches_a_float_reference():
    from ifgrasp.perception.segmentation.base import OBJECT_RGB, PART_RGB, make_overlay

    rng = np.random.default_rng(0)
    color = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    obj, part = rng.random((30, 40)) < 0.4, rng.random((30, 40)) < 0.2  # part partly off the object
    ref = color.astype(np.float32)
    ref[obj] = 0.5 * ref[obj] + 0.5 * OBJECT_RGB
    ref[part] = 0.5 * ref[part] + 0.5 * PART_RGB
    np.testing.assert_array_equal(make_overlay(color, obj, part), np.clip(ref, 0, 255).astype(np.uint8))
    np.testing.assert_array_equal(make_overlay(color, obj & False, part & False), color)


def test_repeatable_and_the_refit_plane_is_the_table(scene):
    from ifgrasp.perception.depth import backproject

    frame, _, _ = scene
    a, b = find_instances(frame), find_instances(frame)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.plane, b.plane)
    table = (frame.object_ids == -1) & (frame.depth_m > 0)
    height = backproject(frame.depth_m, frame.intrinsics)[table] @ a.plane[:3] + a.plane[3]
    assert np.abs(height).max() < 1e-3  # noise-free render: the refit plane is the table to < 1 mm
