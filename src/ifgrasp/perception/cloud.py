"""Object clouds: RGB-D frame + object mask + part mask -> a fixed-size ``ObjectCloud``.

Fixed N (e.g. 2,048) points so that the grasp networks see batches of equal shape; sampling is
deterministic for a given seed: ``fps`` (farthest-point sampling, even coverage) or ``random``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.errors import InputError
from ifgrasp.perception.depth import depth_to_points, transform_points
from ifgrasp.types import ObjectCloud, RGBDFrame


class CloudConfig(Config):
    n_points: int = Field(2048, gt=0, description="points per object cloud")
    method: Literal["fps", "random"] = Field("fps", description="down-sampling: farthest-point or random")
    seed: int = Field(0, description="seed of the random start / random choice")
    fps_candidates: int = Field(4, gt=0, description="FPS runs on at most this many times n_points "
                                "points, drawn at random first (bounds its cost)")
    frame: Literal["camera", "base"] = Field("camera", description="frame of the returned points")


try:  # optional: open3d's C++ farthest-point sampling is ~15x faster than the numpy loop
    import open3d as o3d
except ImportError:  # pragma: no cover - depends on the install
    o3d = None


def farthest_point_sampling(points: np.ndarray, n: int, rng: np.random.Generator,
                            use_open3d: bool = True) -> np.ndarray:
    """(n,) indices into ``points`` (M, 3), M >= n, by greedy farthest-point sampling from a random
    start (open3d's implementation when it imports, else numpy; the same greedy rule)."""
    m = points.shape[0]
    start = int(rng.integers(m))
    if use_open3d and o3d is not None:
        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float64)))
        # Carry each point's index through the down-sampling in its normal (float64, exact).
        pcd.normals = o3d.utility.Vector3dVector(np.repeat(np.arange(m, dtype=np.float64)[:, None], 3, axis=1))
        out = pcd.farthest_point_down_sample(n, start_index=start)
        return np.asarray(out.normals)[:, 0].astype(np.int64)
    idx = np.empty(n, dtype=np.int64)
    idx[0] = start
    d2 = np.sum((points - points[idx[0]]) ** 2, axis=1)  # (M,)
    for i in range(1, n):
        idx[i] = int(np.argmax(d2))
        np.minimum(d2, np.sum((points - points[idx[i]]) ** 2, axis=1), out=d2)
    return idx


def sample_indices(points: np.ndarray, n: int, method: str, seed: int, fps_candidates: int = 8) -> np.ndarray:
    """(n,) indices into ``points`` (M, 3); with M < n every point is kept and the rest repeat at random."""
    rng = np.random.default_rng(seed)
    m = points.shape[0]
    if m <= n:
        return np.concatenate([np.arange(m), rng.integers(m, size=n - m)])
    if method == "random":
        return np.sort(rng.choice(m, size=n, replace=False))
    if method != "fps":
        raise InputError(f"unknown sampling method '{method}'; known: fps, random")
    pool = np.sort(rng.choice(m, size=min(m, fps_candidates * n), replace=False))  # (P,)
    return pool[farthest_point_sampling(points[pool], n, rng)]


def build_object_cloud(
    frame: RGBDFrame,
    object_mask: np.ndarray,
    part_mask: np.ndarray | None = None,
    config: CloudConfig = CloudConfig(),
    object_name: str = "",
    part_name: str = "",
    require_part: bool = True,
) -> ObjectCloud:
    """Sample ``config.n_points`` valid-depth points of ``object_mask`` (H, W) bool, labelling those
    inside ``part_mask`` (H, W) bool; points in the optical (``camera``) or ``base`` frame.

    Raises ``InputError`` when the object has no valid depth pixel, or (``require_part``) when the
    part has none on the object.
    """
    points, pix = depth_to_points(frame.depth_m, frame.intrinsics, mask=object_mask, return_pixels=True)
    if points.shape[0] == 0:
        raise InputError(f"object mask ({int(np.count_nonzero(object_mask))} pixels) has no valid depth point"
                         f"{' for ' + object_name if object_name else ''}")
    on_part = np.zeros(points.shape[0], bool) if part_mask is None else np.asarray(part_mask, bool).ravel()[pix]
    if require_part and not on_part.any():
        raise InputError(f"part '{part_name or '?'}' has no valid depth point on the object "
                         f"({points.shape[0]} object points); is it occluded?")
    idx = sample_indices(points, config.n_points, config.method, config.seed, config.fps_candidates)
    pts = points[idx]  # (n, 3) optical frame
    if config.frame == "base":
        pts = transform_points(frame.T_base_camera, pts)
    return ObjectCloud(points_m=pts.astype(np.float32), part_mask=on_part[idx], frame=config.frame,
                       object_name=object_name, part_name=part_name)
