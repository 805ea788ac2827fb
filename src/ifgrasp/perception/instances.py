"""Object instances from depth alone: table-plane removal, then Euclidean clustering.

Works on a pixel grid strided by ``stride`` (cost), then gives every full-resolution pixel above the
table the label of its grid cell. Uses ``open3d`` (RANSAC ``segment_plane`` + ``cluster_dbscan``)
when it imports, else a numpy/scipy fallback (vectorised RANSAC + radius-graph connected
components); :attr:`Instances.backend` says which one ran.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.errors import InputError
from ifgrasp.perception.depth import validate_depth
from ifgrasp.types import RGBDFrame

log = logging.getLogger(__name__)

try:  # optional: the `perception` extra
    import open3d as o3d
except ImportError:  # pragma: no cover - depends on the install
    o3d = None


class InstanceConfig(Config):
    backend: Literal["auto", "open3d", "numpy"] = Field("auto", description="clustering; auto: open3d if it imports")
    plane_fit: Literal["numpy", "open3d"] = Field("numpy", description="table RANSAC: numpy (seeded, the same "
                                                  "plane every call, refit to its inliers) or open3d's "
                                                  "segment_plane (multi-threaded: varies between calls)")
    stride: int = Field(2, ge=1, description="pixel stride of the clustering grid")
    plane_distance_m: float = Field(0.008, gt=0, description="RANSAC inlier distance to the table plane")
    above_table_m: float = Field(0.006, ge=0, description="points closer to the plane are table")
    ransac_iterations: int = Field(200, gt=0, description="RANSAC plane hypotheses")
    cluster_radius_m: float = Field(0.012, gt=0, description="neighbour radius joining points of one object "
                                    "(at least; grows to 3 grid spacings at the median depth)")
    min_points: int = Field(30, gt=0, description="smaller clusters (grid points) are dropped as noise")
    max_range_m: float = Field(2.0, gt=0, description="ignore depth beyond this")
    seed: int = Field(0, description="RANSAC seed")


@dataclass
class Instances:
    """``labels`` (H, W) int32: instance index, -1 for table / background / invalid;
    ``masks`` (K, H, W) bool; ``plane`` (4,) ``a, b, c, d`` in the optical frame (unit normal
    towards the camera side); ``backend``: ``open3d`` | ``numpy``."""

    labels: np.ndarray
    masks: np.ndarray
    plane: np.ndarray
    backend: str


def _rays(shape: tuple[int, int], intrinsics, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Normalised image coordinates of every ``stride``-th column (W',) and row (H',): a pixel's
    optical-frame point is ``z * (u, v, 1)`` (the same as ``backproject`` on the strided grid)."""
    h, w = shape
    u = (np.arange(0, w, stride, dtype=np.float32) - intrinsics.cx) / intrinsics.fx  # (W',)
    v = (np.arange(0, h, stride, dtype=np.float32) - intrinsics.cy) / intrinsics.fy  # (H',)
    return u, v


def _ransac_plane_numpy(pts: np.ndarray, dist: float, iters: int, rng: np.random.Generator) -> np.ndarray:
    tri = pts[rng.integers(pts.shape[0], size=(iters, 3))]  # (I, 3, 3)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # (I, 3)
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    ok = norm[:, 0] > 1e-9
    n = n[ok] / norm[ok]
    d = -np.sum(n * tri[ok, 0], axis=1)  # (I,)
    sub = pts[rng.choice(pts.shape[0], size=min(pts.shape[0], 4000), replace=False)]  # score on a subset
    inliers = (np.abs(sub @ n.T + d) < dist).sum(axis=0)  # (I,)
    best = int(np.argmax(inliers))
    return np.append(n[best], d[best])


def _refit_plane(pts: np.ndarray, plane: np.ndarray, dist: float) -> np.ndarray:
    """Least-squares plane (4,) through the inliers (within ``dist``) of ``plane`` among ``pts`` (M, 3)."""
    inl = pts[np.abs(pts @ plane[:3] + plane[3]) < dist]  # (I, 3)
    if inl.shape[0] < 3:
        return plane
    c = inl.mean(axis=0)
    w, vec = np.linalg.eigh((inl - c).T @ (inl - c))
    n = vec[:, 0] * np.sign(vec[:, 0] @ plane[:3] or 1.0)  # keep the hypothesis' side
    return np.append(n, -n @ c)


def _clusters_numpy(pts: np.ndarray, radius: float) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    pairs = cKDTree(pts).query_pairs(radius, output_type="ndarray")  # (E, 2)
    m = pts.shape[0]
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m))
    return connected_components(graph, directed=False)[1]


def find_instances(frame: RGBDFrame, config: InstanceConfig = InstanceConfig()) -> Instances:
    """Segment object instances standing on the dominant plane of ``frame``'s depth."""
    depth = validate_depth(frame.depth_m, frame.intrinsics)
    backend = config.backend
    if backend == "auto":
        backend = "open3d" if o3d is not None else "numpy"
    if backend == "open3d" and o3d is None:
        raise InputError("instance backend 'open3d' requested but open3d does not import; known: numpy")
    s = config.stride
    u, v = _rays(depth.shape, frame.intrinsics, s)
    gz = depth[::s, ::s].astype(np.float32)  # (h, w)
    grid = np.stack(np.broadcast_arrays(gz * u, gz * v[:, None], gz), axis=-1)  # (h, w, 3) optical frame
    valid = (gz > 0) & (gz < config.max_range_m)  # (h, w)
    pts = grid[valid].astype(np.float64)  # (M, 3)
    if pts.shape[0] < 3:
        raise InputError(f"only {pts.shape[0]} valid depth points within {config.max_range_m} m; no table")
    rng = np.random.default_rng(config.seed)
    if config.plane_fit == "open3d":
        if o3d is None:
            raise InputError("plane_fit 'open3d' requested but open3d does not import; known: numpy")
        o3d.utility.random.seed(config.seed)
        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
        plane, _ = pcd.segment_plane(config.plane_distance_m, 3, config.ransac_iterations)
        plane = np.asarray(plane, dtype=np.float64)
        plane /= np.linalg.norm(plane[:3])
    else:
        plane = _ransac_plane_numpy(pts, config.plane_distance_m, config.ransac_iterations, rng)
        plane = _refit_plane(pts, plane, config.plane_distance_m)
    if plane[3] < 0:  # normal towards the camera (origin on the positive side)
        plane = -plane
    height = pts @ plane[:3] + plane[3]  # (M,) signed distance, positive towards the camera
    above = height > max(config.above_table_m, config.plane_distance_m)
    obj_pts = pts[above]
    spacing = s * float(np.median(pts[:, 2])) / min(frame.intrinsics.fx, frame.intrinsics.fy)
    radius = max(config.cluster_radius_m, 3.0 * spacing)
    labels_m = np.full(pts.shape[0], -1, np.int64)
    if obj_pts.shape[0]:
        if backend == "open3d":
            cl = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(obj_pts))
            lab = np.asarray(cl.cluster_dbscan(radius, 1, print_progress=False))
        else:
            lab = _clusters_numpy(obj_pts, radius)
        ids, counts = np.unique(lab[lab >= 0], return_counts=True)
        keep = ids[counts >= config.min_points]
        # Relabel 0..K-1, largest first (deterministic order).
        keep = keep[np.argsort(-counts[np.isin(ids, keep)], kind="stable")]
        remap = np.full(lab.max() + 2, -1, np.int64)
        remap[keep] = np.arange(keep.size)
        labels_m[np.flatnonzero(above)] = remap[lab]
    grid_labels = np.full(gz.shape, -1, np.int32)
    grid_labels[valid] = labels_m
    # Full resolution: each pixel takes its grid cell's label, kept only where its own depth is above the table.
    h, w = depth.shape
    full = np.repeat(np.repeat(grid_labels, s, axis=0), s, axis=1)[:h, :w]
    u, v = _rays(depth.shape, frame.intrinsics)
    ray_dot_n = (plane[0] * u + plane[1] * v[:, None] + plane[2]).astype(np.float32)  # (H, W): (u, v, 1) . n
    own_above = (depth > 0) & (depth * ray_dot_n + plane[3] > config.above_table_m)
    full = np.where(own_above, full, -1).astype(np.int32)
    k = int(full.max()) + 1
    masks = full[None] == np.arange(k)[:, None, None]  # (K, H, W)
    log.debug("find_instances: %d instances with %s", k, backend)
    return Instances(labels=full, masks=masks, plane=plane, backend=backend)
