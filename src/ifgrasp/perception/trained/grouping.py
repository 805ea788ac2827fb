"""Turning per-point network labels into objects: neighbourhood smoothing of the category votes
(before a touching pair of objects is split by category) and the occlusion test that joins two
pieces of one object cut apart by an occluder.

* ``smooth_probs``: each sampled point's category probabilities averaged over its ``k`` nearest
  samples (itself included). Isolated wrong votes inside an object fade; a region of another
  object keeps its label, so splitting can use a lower vote share without spurious pieces.
* ``occluded_gaps``: two same-category pieces whose closest points are ``d`` apart are one object
  seen around an occluder when everything the camera sees along the segment between those points
  is in front of the segment (the gap is hidden). Where the camera looks through the gap onto
  something farther away (the table between two objects), they are two objects.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ifgrasp.types import CameraIntrinsics


def smooth_probs(samples_m: np.ndarray, prob: np.ndarray, k: int) -> np.ndarray:
    """(K, n, 3) sampled points and their (K, n, C) category probabilities -> (K, n, C) mean over
    each point's ``k`` nearest samples of the same cluster (itself included); ``k <= 1``: unchanged."""
    if k <= 1:
        return prob
    n_k, n = samples_m.shape[:2]
    kk = min(k, n)
    off = 100.0 * np.arange(n_k)[:, None, None] * np.array([1.0, 0.0, 0.0])  # clusters 100 m apart
    flat = (samples_m + off).reshape(-1, 3)  # (K n, 3)
    _, idx = cKDTree(flat).query(flat, k=kk)  # (K n, kk), never across clusters
    return prob.reshape(-1, prob.shape[-1])[idx.reshape(-1, kk)].mean(axis=1).reshape(prob.shape)


def occluded_gaps(depth_m: np.ndarray, intrinsics: CameraIntrinsics, T_camera_base: np.ndarray,
                  a_base_m: np.ndarray, b_base_m: np.ndarray, tol_m: float = 0.01, steps: int = 24) -> np.ndarray:
    """(E,) bool: for each segment ``a`` (E, 3) -> ``b`` (E, 3) (base frame), True when every
    valid depth pixel the segment's interior projects onto is no farther than the segment's own
    depth + ``tol_m`` (the gap is hidden behind something nearer, or on the object itself). Pixels
    outside the image or without depth do not count; a segment seen nowhere is not hidden."""
    t = np.linspace(0.0, 1.0, steps + 2)[1:-1]  # (S,) interior points
    seg = a_base_m[:, None] + t[None, :, None] * (b_base_m - a_base_m)[:, None]  # (E, S, 3)
    T = np.asarray(T_camera_base, np.float64)
    cam = seg @ T[:3, :3].T + T[:3, 3]  # (E, S, 3) optical frame
    z = cam[..., 2]
    h, w = depth_m.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.round(intrinsics.fx * cam[..., 0] / z + intrinsics.cx).astype(np.int64)
        v = np.round(intrinsics.fy * cam[..., 1] / z + intrinsics.cy).astype(np.int64)
    inside = (z > 0) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    obs = np.where(inside, depth_m[np.clip(v, 0, h - 1), np.clip(u, 0, w - 1)], 0.0)  # (E, S)
    seen = inside & (obs > 0)
    behind = seen & (obs > z + tol_m)  # the camera sees past the segment here
    return seen.any(axis=1) & ~behind.any(axis=1)
