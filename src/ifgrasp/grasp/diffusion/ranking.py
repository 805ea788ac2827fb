"""Rank student candidates on what the camera saw: penetration, table, contact on the part.

Score (higher is better) = - w_pen * deepest observed point inside the hand (m)
                           - w_table * deepest hand point below the table (m, when T_base_camera is known)
                           + w_part * share of fingertips within ``touch_m`` of the part's points
                           - w_off * share of fingertips touching the object off the part
                           + w_learned * P(lift) from the learned critic, when one is loaded
                             (:mod:`ifgrasp.grasp.diffusion.critic`)
All terms are batched over candidates (one hand FK for the whole batch).
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.types import GraspBatch


class RankingConfig(Config):
    w_penetration: float = Field(200.0, ge=0, description="per metre of the deepest observed point inside the hand")
    w_table: float = Field(200.0, ge=0, description="per metre of hand below the table")
    w_part: float = Field(1.0, ge=0, description="for all fingertips on the part")
    w_off_part: float = Field(0.5, ge=0, description="for all fingertips on other parts")
    w_learned: float = Field(2.0, ge=0, description="for a predicted lift probability of 1 (critic loaded)")
    touch_m: float = Field(0.02, gt=0, description="a fingertip this close to a point touches it")
    penetration_tolerance_m: float = Field(0.003, ge=0, description="depth ignored (depth noise)")
    penetration_points: int = Field(128, gt=0, description="cloud points tested against the hand (cost ~ linear)")


@torch.no_grad()
def rank_grasps(hand, grasps: GraspBatch, points: np.ndarray, part_mask: np.ndarray, cfg: RankingConfig,
                T_base_camera: np.ndarray | None = None, table_z_m: float = 0.0, critic=None,
                learned_probability: np.ndarray | None = None):
    """Scores (B,) and per-term details {name: (B,)} for grasps and the observed cloud (camera frame);
    ``critic`` (a :class:`~ifgrasp.grasp.diffusion.critic.GraspCritic`) adds its learned term, or
    ``learned_probability`` (B,) when the sampler's graph already computed it."""
    f32 = dict(dtype=torch.float32)
    pos = torch.as_tensor(grasps.wrist_pos_m, **f32)
    rot = torch.as_tensor(grasps.wrist_rot, **f32)
    q = torch.as_tensor(grasps.joints_rad, **f32)
    B = len(grasps)
    cloud = torch.as_tensor(points, **f32)
    sub = cloud[:: max(1, len(cloud) // cfg.penetration_points)]  # an even subset finds deep penetrations
    sd = hand.signed_distance(sub.unsqueeze(0).expand(B, -1, -1), pos, rot, q)  # (B, M)
    penetration = torch.relu(-sd - cfg.penetration_tolerance_m).amax(-1)
    tips = hand.fingertips(pos, rot, q)  # (B, 4, 3)
    mask = torch.as_tensor(part_mask, dtype=torch.bool)
    d_part = torch.cdist(tips, cloud[mask].unsqueeze(0).expand(B, -1, -1)).amin(-1)  # (B, 4)
    other = cloud[~mask]
    d_other = (torch.cdist(tips, other.unsqueeze(0).expand(B, -1, -1)).amin(-1) if len(other)
               else torch.full_like(d_part, np.inf))
    on_part = (d_part < cfg.touch_m).float().mean(-1)
    off_part = ((d_other < cfg.touch_m) & (d_other < d_part)).float().mean(-1)
    below = torch.zeros(B)
    if T_base_camera is not None:
        surface = hand.surface_points(pos, rot, q)  # (B, P, 3) camera frame
        R = torch.as_tensor(T_base_camera[:3, :3], **f32)
        z = surface @ R[2] + float(T_base_camera[2, 3])  # base-frame heights
        below = torch.relu(table_z_m - z).amax(-1)
    score = (-cfg.w_penetration * penetration - cfg.w_table * below + cfg.w_part * on_part
             - cfg.w_off_part * off_part)
    details = {"penetration_m": penetration.numpy(), "below_table_m": below.numpy(),
               "fingertips_on_part": on_part.numpy(), "fingertips_off_part": off_part.numpy()}
    score = score.numpy().astype(np.float64)
    if learned_probability is not None or critic is not None:
        p = (np.asarray(learned_probability, np.float64) if learned_probability is not None else
             critic.success_probability(points, part_mask, grasps.wrist_pos_m, grasps.wrist_rot, grasps.joints_rad))
        details["learned_lift_probability"] = p
        score = score + cfg.w_learned * p
    return score, details
