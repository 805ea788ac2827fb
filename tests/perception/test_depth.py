"""Back-projection against a per-pixel loop and re-projection; input validation messages."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ifgrasp.errors import InputError
from ifgrasp.perception import backproject, depth_to_points, transform_points, validate_depth
from ifgrasp.types import CameraIntrinsics

INTR = CameraIntrinsics(width=8, height=6, fx=5.0, fy=6.0, cx=3.5, cy=2.5)


def test_matches_per_pixel_loop():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.2, 2.0, (6, 8)).astype(np.float32)
    depth[1, 2] = 0.0
    depth[3, 4] = np.nan
    pts, pix = depth_to_points(depth, INTR, return_pixels=True)
    ref = [((u - 3.5) * depth[v, u] / 5.0, (v - 2.5) * depth[v, u] / 6.0, depth[v, u])
           for v in range(6) for u in range(8) if np.isfinite(depth[v, u]) and depth[v, u] > 0]
    assert pts.shape == (46, 3) and pts.dtype == np.float32 and len(pix) == 46
    np.testing.assert_allclose(pts, np.array(ref), rtol=1e-6)


@given(st.integers(0, 2**32 - 1))
def test_reprojection_recovers_pixels(seed):
    rng = np.random.default_rng(seed)
    depth = rng.uniform(0.1, 5.0, (6, 8)).astype(np.float32)
    mask = rng.random((6, 8)) < 0.5
    pts, pix = depth_to_points(depth, INTR, mask=mask, return_pixels=True)
    uvw = pts.astype(np.float64) @ INTR.K.T  # (N, 3)
    np.testing.assert_allclose(uvw[:, 0] / uvw[:, 2], pix % 8, atol=1e-4)
    np.testing.assert_allclose(uvw[:, 1] / uvw[:, 2], pix // 8, atol=1e-4)
    assert len(pix) == mask.sum()


def test_organised_cloud_agrees_and_batches():
    depth = np.random.default_rng(1).uniform(0.3, 1.0, (2, 6, 8)).astype(np.float32)
    org = backproject(depth, INTR)  # (2, 6, 8, 3)
    for b in range(2):
        np.testing.assert_allclose(org[b].reshape(-1, 3), depth_to_points(depth[b], INTR), rtol=1e-6)


def test_uint16_millimetres_with_depth_scale():
    mm = np.full((6, 8), 750, np.uint16)
    np.testing.assert_allclose(validate_depth(mm, INTR, depth_scale=0.001), 0.75, rtol=1e-6)
    with pytest.raises(InputError, match="depth_scale"):
        validate_depth(mm, INTR)


def test_millimetres_passed_as_metres_is_caught():
    with pytest.raises(InputError, match="millimetres"):
        validate_depth(np.full((6, 8), 750.0, np.float32), INTR)


@pytest.mark.parametrize("depth, msg", [
    (np.full((6, 8), np.nan, np.float32), "no valid pixel"),
    (np.zeros((6, 8), np.float32), "no valid pixel"),
    (np.full((6, 8), np.inf, np.float32), "no valid pixel"),
    (np.zeros((0, 0), np.float32), "non-empty"),
    (np.ones((5, 8), np.float32), "intrinsics say"),
])
def test_bad_depth(depth, msg):
    with pytest.raises(InputError, match=msg):
        depth_to_points(depth, INTR)


def test_size_mismatch_and_holes_cleaned():
    with pytest.raises(InputError, match="sizes differ"):
        validate_depth(np.ones((6, 8), np.float32), color_shape=(6, 9, 3))
    d = np.ones((6, 8), np.float32)
    d[0, 0], d[0, 1], d[0, 2] = np.nan, -np.inf, -1.0
    clean = validate_depth(d)
    assert np.all(np.isfinite(clean)) and np.count_nonzero(clean == 0) == 3
    with pytest.raises(InputError, match="mask"):
        depth_to_points(d, INTR, mask=np.ones((3, 3), bool))


def test_transform_points_matches_homogeneous():
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = q, rng.normal(size=3)
    p = rng.normal(size=(10, 3))
    ref = (np.c_[p, np.ones(10)] @ T.T)[:, :3]
    np.testing.assert_allclose(transform_points(T, p), ref, atol=1e-12)
