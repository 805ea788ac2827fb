"""Depth validation and back-projection into the camera optical frame (x right, y down, z forward).

A RealSense gives ``uint16`` depth in device units (``depth_scale`` = 0.001 m for a D435); the core
works in float32 metres with 0 where a pixel is invalid. :func:`validate_depth` converts and checks
(empty, all invalid, wrong size, millimetres passed as metres) and :func:`depth_to_points`
back-projects with the pinhole model ``x = (u - cx) z / fx``, ``y = (v - cy) z / fy``.
"""

from __future__ import annotations

import numpy as np

from ifgrasp.errors import InputError
from ifgrasp.types import CameraIntrinsics

#: A median valid depth above this (in "metres") is almost surely millimetres.
MAX_PLAUSIBLE_DEPTH_M = 20.0


def validate_depth(
    depth,
    intrinsics: CameraIntrinsics | None = None,
    depth_scale: float | None = None,
    color_shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Checked (H, W) float32 depth in metres with NaN / inf / negative holes set to 0.

    ``depth``: (H, W) float metres, or integer device units together with ``depth_scale``
    (metres per unit; 0.001 for a RealSense in its default mode). ``color_shape``: the colour
    image's shape, to catch unaligned streams. Raises ``InputError`` naming the problem.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2 or depth.size == 0:
        raise InputError(f"depth must be a non-empty (H, W) image, got shape {depth.shape}")
    if color_shape is not None and tuple(color_shape[:2]) != depth.shape:
        raise InputError(f"colour {tuple(color_shape[:2])} and depth {depth.shape} sizes differ; "
                         "align depth to colour first")
    if intrinsics is not None and depth.shape != (intrinsics.height, intrinsics.width):
        raise InputError(f"depth is {depth.shape} but intrinsics say {(intrinsics.height, intrinsics.width)}")
    if np.issubdtype(depth.dtype, np.integer):
        if depth_scale is None:
            raise InputError(f"depth has integer dtype {depth.dtype} (device units); pass depth_scale "
                             "(metres per unit, 0.001 for a RealSense)")
        depth_m = depth.astype(np.float32) * np.float32(depth_scale)
    elif np.issubdtype(depth.dtype, np.floating):
        depth_m = depth.astype(np.float32) * np.float32(1.0 if depth_scale is None else depth_scale)
    else:
        raise InputError(f"depth dtype {depth.dtype} is neither float (metres) nor integer (device units)")
    valid = np.isfinite(depth_m) & (depth_m > 0)
    if not valid.any():
        raise InputError(f"depth {depth.shape} has no valid pixel (all zero, negative, NaN or inf)")
    median = float(np.median(depth_m[valid]))
    if median > MAX_PLAUSIBLE_DEPTH_M:
        raise InputError(f"median depth {median:.1f} looks like millimetres, not metres; pass "
                         "depth_scale=0.001 (or divide by 1000)")
    return np.where(valid, depth_m, np.float32(0.0))


def backproject(depth_m: np.ndarray, intrinsics: CameraIntrinsics) -> np.ndarray:
    """Organised cloud: (..., H, W) metres -> (..., H, W, 3) optical-frame points (0 depth -> 0)."""
    h, w = depth_m.shape[-2:]
    u = (np.arange(w, dtype=np.float32) - intrinsics.cx) / intrinsics.fx  # (W,)
    v = (np.arange(h, dtype=np.float32) - intrinsics.cy) / intrinsics.fy  # (H,)
    z = depth_m.astype(np.float32)
    return np.stack(np.broadcast_arrays(z * u, z * v[:, None], z), axis=-1)  # (..., H, W, 3)


def depth_to_points(
    depth,
    intrinsics: CameraIntrinsics,
    mask: np.ndarray | None = None,
    depth_scale: float | None = None,
    return_pixels: bool = False,
):
    """(N, 3) float32 optical-frame points of valid pixels (inside ``mask`` (H, W) bool if given).

    With ``return_pixels`` also the (N,) flat pixel indices (row-major) the points come from.
    """
    depth_m = validate_depth(depth, intrinsics, depth_scale)
    valid = depth_m > 0
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != depth_m.shape:
            raise InputError(f"mask {mask.shape} and depth {depth_m.shape} sizes differ")
        valid &= mask
    flat = np.flatnonzero(valid)  # (N,)
    v, u = np.divmod(flat, depth_m.shape[1])
    z = depth_m.ravel()[flat]
    pts = np.stack([(u - intrinsics.cx) * z / intrinsics.fx, (v - intrinsics.cy) * z / intrinsics.fy, z],
                   axis=1).astype(np.float32)  # (N, 3)
    return (pts, flat) if return_pixels else pts


def transform_points(T_a_b: np.ndarray, points_b: np.ndarray) -> np.ndarray:
    """(..., N, 3) points in frame b -> frame a with the (4, 4) transform ``T_a_b``."""
    T = np.asarray(T_a_b, dtype=np.float64)
    return (points_b @ T[:3, :3].T + T[:3, 3]).astype(points_b.dtype)
