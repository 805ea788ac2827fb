"""Object clouds: frames checked against the ray-cast boxes, sampling determinism and coverage."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from ifgrasp.errors import InputError
from ifgrasp.perception import CloudConfig, build_object_cloud, farthest_point_sampling, sample_indices


def _inside(points, boxes, tol=1e-3):
    inside = np.zeros(len(points), bool)
    for b in boxes:
        inside |= np.all((points >= np.asarray(b.lo) - tol) & (points <= np.asarray(b.hi) + tol), axis=1)
    return inside


def test_base_frame_points_lie_on_the_object_and_part(scene):
    frame, boxes, _ = scene
    obj, part = frame.object_ids == 1, frame.part_ids == 11
    cloud = build_object_cloud(frame, obj, part, CloudConfig(n_points=512, frame="base"), "mug", "handle")
    assert cloud.points_m.shape == (512, 3) and cloud.frame == "base" and cloud.part_mask.dtype == bool
    assert _inside(cloud.points_m, [b for b in boxes if b.oid == 1]).all()
    handle = [b for b in boxes if b.pid == 11]
    assert cloud.part_mask.any()
    np.testing.assert_array_equal(_inside(cloud.points_m[cloud.part_mask], handle, 1e-4), True)


def test_camera_frame_is_optical_frame(scene):
    frame, _, _ = scene
    cam = build_object_cloud(frame, frame.object_ids == 3, None, CloudConfig(n_points=256, seed=3), require_part=False)
    base = build_object_cloud(frame, frame.object_ids == 3, None, CloudConfig(n_points=256, seed=3, frame="base"),
                              require_part=False)
    T = frame.T_base_camera
    np.testing.assert_allclose(cam.points_m @ T[:3, :3].T + T[:3, 3], base.points_m, atol=1e-5)
    assert (cam.points_m[:, 2] > 0).all()


def test_seeded_sampling_is_deterministic(scene):
    frame, _, _ = scene
    args = (frame, frame.object_ids == 2, frame.part_ids == 21)
    for method in ("fps", "random"):
        a = build_object_cloud(*args, CloudConfig(n_points=300, method=method, seed=1))
        b = build_object_cloud(*args, CloudConfig(n_points=300, method=method, seed=1))
        c = build_object_cloud(*args, CloudConfig(n_points=300, method=method, seed=2))
        np.testing.assert_array_equal(a.points_m, b.points_m)
        assert not np.array_equal(a.points_m, c.points_m)


def test_fps_covers_better_than_random():
    pts = np.random.default_rng(0).normal(size=(4000, 3)) * [1.0, 0.2, 0.2]
    cover = {m: cKDTree(pts[sample_indices(pts, 64, m, 0, fps_candidates=100)]).query(pts)[0].max()
             for m in ("fps", "random")}
    assert cover["fps"] < 0.7 * cover["random"]


def _fps_loop(points, n, start):
    idx = [start]
    for _ in range(n - 1):
        d = np.array([min(np.sum((p - points[j]) ** 2) for j in idx) for p in points])
        idx.append(int(np.argmax(d)))
    return np.array(idx)


@given(st.integers(0, 2**32 - 1))
def test_fps_matches_looped_reference(seed):
    pts = np.random.default_rng(seed).normal(size=(40, 3))
    start = int(np.random.default_rng(seed).integers(40))
    ref = _fps_loop(pts, 10, start)
    idx = farthest_point_sampling(pts, 10, np.random.default_rng(seed), use_open3d=False)
    np.testing.assert_array_equal(idx, ref)
    # open3d returns the same points (its output order is its own).
    idx3 = farthest_point_sampling(pts, 10, np.random.default_rng(seed), use_open3d=True)
    assert sorted(idx3.tolist()) == sorted(ref.tolist())


def test_fewer_points_than_n_keeps_all():
    pts = np.random.default_rng(0).normal(size=(5, 3))
    idx = sample_indices(pts, 12, "fps", 0)
    assert idx.shape == (12,) and set(idx[:5].tolist()) == set(range(5))


def test_empty_masks_are_rejected(scene):
    frame, _, _ = scene
    with pytest.raises(InputError, match="no valid depth point"):
        build_object_cloud(frame, np.zeros(frame.depth_m.shape, bool), None, require_part=False)
    with pytest.raises(InputError, match="part 'handle'.*occluded"):
        build_object_cloud(frame, frame.object_ids == 3, frame.part_ids == 11, part_name="handle")
