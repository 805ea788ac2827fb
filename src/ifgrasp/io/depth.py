"""Depth encodings of the RealSense ROS 2 driver: 16-bit unsigned millimetres, 0 = invalid."""

from __future__ import annotations

import numpy as np

DEPTH_SCALE_M = 0.001  # one 16UC1 depth unit in metres (RealSense default depth units)
MAX_DEPTH_M = 65535 * DEPTH_SCALE_M


def depth_m_to_mm_u16(depth_m: np.ndarray) -> np.ndarray:
    """(..., H, W) float metres -> uint16 millimetres, rounded; non-finite or <= 0 -> 0 (invalid);
    beyond 65.535 m saturates."""
    d = np.asarray(depth_m, dtype=np.float64)
    valid = np.isfinite(d) & (d > 0.0)
    mm = np.rint(np.clip(np.where(valid, d, 0.0) / DEPTH_SCALE_M, 0.0, 65535.0))
    return mm.astype(np.uint16)


def depth_mm_u16_to_m(depth_mm: np.ndarray) -> np.ndarray:
    """(..., H, W) uint16 millimetres -> float32 metres (0 stays 0 = invalid)."""
    return np.asarray(depth_mm, dtype=np.float32) * np.float32(DEPTH_SCALE_M)
