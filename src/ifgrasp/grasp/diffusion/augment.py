"""Training-view augmentation for the student: depth noise, occlusion and view jitter.

Each augmented copy of a rendered view is what a slightly different camera could have seen: the
cloud turned about the part centroid (view jitter), extra depth noise along each camera ray, and a
random slab of the cloud cut away (an occluder). The grasp targets move with the cloud:
the copy carries its own ``T_camera_object``. Frames: camera optical frame, metres.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field
from scipy.spatial.transform import Rotation

from ifgrasp.config import Config


class AugmentConfig(Config):
    copies: int = Field(0, ge=0, description="augmented copies per rendered (view, part), besides the view itself")
    jitter_deg: float = Field(5.0, ge=0, description="largest turn of the cloud about the part centroid")
    depth_noise_m: float = Field(0.002, ge=0, description="standard deviation of the extra noise along each ray")
    occlusion_max: float = Field(0.3, ge=0, lt=1, description="largest share of the cloud a slab cuts away")
    seed: int = Field(0, description="seed of the copies")


def augment_view(points: np.ndarray, part_mask: np.ndarray, T_camera_object: np.ndarray, rng: np.random.Generator,
                 cfg: AugmentConfig, min_part_points: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One augmented copy of a view: points (N, 3) camera frame, part_mask (N,) bool and T_camera_object
    (4, 4) -> the same three for the copy (fewer points where a slab was cut). The cut never leaves the part
    with fewer than ``min_part_points`` points (it is skipped instead)."""
    center = points[part_mask].mean(0)
    angle = np.deg2rad(cfg.jitter_deg) * rng.uniform()
    R = Rotation.from_rotvec(angle * _unit(rng.normal(size=3))).as_matrix()
    turn = np.eye(4)
    turn[:3, :3], turn[:3, 3] = R, center - R @ center
    out = (points - center) @ R.T + center
    rays = out / np.linalg.norm(out, axis=-1, keepdims=True)
    out = out + rays * rng.normal(scale=cfg.depth_noise_m, size=(len(out), 1))
    keep = np.ones(len(out), bool)
    share = cfg.occlusion_max * rng.uniform()
    if share > 0:
        # a slab seen from the camera: a half-space whose normal is across the line of sight
        direction = _unit(np.cross(_unit(center), rng.normal(size=3)))
        along = (out - center) @ direction
        cut = along > np.quantile(along, 1.0 - share)
        if (part_mask & ~cut).sum() >= min_part_points:
            keep = ~cut
    return out[keep].astype(points.dtype), part_mask[keep], turn @ T_camera_object


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)
