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
