"""A D435-like depth noise model for simulated training views.

Axial noise is Gaussian with the stereo RMS error ``sigma_z = z^2 * subpixel / (fx * baseline)``
(Intel's published D400 formula: 50 mm baseline, ~0.08 px subpixel, ~383 px focal length at
640x480 depth; about 1 mm at 0.5 m, 4 mm at 1 m), a constant floor, quantisation to the device's
1 mm depth unit, dropout at depth discontinuities (stereo matching fails on object edges) and
random elliptical holes (specular or dark surfaces).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ifgrasp.config import Config


class DepthNoiseConfig(Config):
    baseline_m: float = Field(0.050, gt=0, description="stereo baseline (D435: 50 mm)")
    focal_px: float = Field(383.0, gt=0, description="depth imager focal length in pixels at 640x480")
    subpixel: float = Field(0.08, ge=0, description="stereo matching subpixel RMS")
    floor_m: float = Field(0.0005, ge=0, description="noise floor std added at every depth")
    quantum_m: float = Field(0.001, ge=0, description="depth unit; 0 disables quantisation")
    edge_jump_m: float = Field(0.02, gt=0, description="neighbour depth jump that marks an edge")
    edge_dropout: float = Field(0.6, ge=0, le=1, description="probability an edge pixel is lost")
    holes_per_mpix: float = Field(20.0, ge=0, description="mean random holes per million pixels")
    hole_radius_px: tuple[float, float] = Field((2.0, 8.0), description="hole semi-axis range in pixels")
    max_range_m: float = Field(4.0, gt=0, description="depth beyond this is reported invalid")


def axial_sigma_m(z_m: np.ndarray, cfg: DepthNoiseConfig = DepthNoiseConfig()) -> np.ndarray:
    """Std of the axial noise at depth ``z_m`` (any shape), metres."""
    return cfg.floor_m + z_m**2 * cfg.subpixel / (cfg.focal_px * cfg.baseline_m)


def edge_mask(depth_m: np.ndarray, jump_m: float) -> np.ndarray:
    """(..., H, W) bool: pixels with a 4-neighbour whose depth differs by more than ``jump_m``."""
    d = depth_m
    edge = np.zeros(d.shape, bool)
    dx = np.abs(np.diff(d, axis=-1)) > jump_m  # (..., H, W-1)
    dy = np.abs(np.diff(d, axis=-2)) > jump_m  # (..., H-1, W)
    edge[..., :, 1:] |= dx
    edge[..., :, :-1] |= dx
    edge[..., 1:, :] |= dy
    edge[..., :-1, :] |= dy
    return edge


def add_depth_noise(depth_m: np.ndarray, rng: np.random.Generator,
                    cfg: DepthNoiseConfig = DepthNoiseConfig()) -> np.ndarray:
    """A noisy copy of (..., H, W) float metres depth (0 = invalid stays 0), float32."""
    d = np.asarray(depth_m, dtype=np.float32)
    valid = np.isfinite(d) & (d > 0)
    z = np.where(valid, d, 0.0).astype(np.float32)
    noisy = z + rng.standard_normal(z.shape).astype(np.float32) * axial_sigma_m(z, cfg).astype(np.float32)
    if cfg.quantum_m > 0:
        noisy = np.round(noisy / cfg.quantum_m) * cfg.quantum_m
    drop = edge_mask(z, cfg.edge_jump_m) & (rng.random(z.shape) < cfg.edge_dropout)
    h, w = z.shape[-2:]
    lead = z.shape[:-2]
    n_holes = rng.poisson(cfg.holes_per_mpix * h * w / 1e6 * max(1, int(np.prod(lead))))
    if n_holes:
        img = rng.integers(max(1, int(np.prod(lead))), size=n_holes)  # (K,) which image
        cy, cx = rng.uniform(0, h, n_holes), rng.uniform(0, w, n_holes)  # (K,)
        ry, rx = (rng.uniform(*cfg.hole_radius_px, size=(2, n_holes)))
        vv, uu = np.mgrid[0:h, 0:w]  # (H, W)
        flat_drop = drop.reshape(-1, h, w)
        for k in np.unique(img):  # one vectorised ellipse test per image that has holes
            sel = img == k
            inside = (((vv[None] - cy[sel, None, None]) / ry[sel, None, None]) ** 2
                      + ((uu[None] - cx[sel, None, None]) / rx[sel, None, None]) ** 2) <= 1.0  # (k, H, W)
            flat_drop[k] |= inside.any(axis=0)
        drop = flat_drop.reshape(z.shape)
    keep = valid & ~drop & (noisy > 0) & (noisy < cfg.max_range_m)
    return np.where(keep, noisy, 0.0).astype(np.float32)
