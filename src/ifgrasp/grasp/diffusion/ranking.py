"""Rank student candidates on what the camera saw: penetration, table, contact on the part.

Score (higher is better) = - w_pen * deepest observed point inside the hand (m)
                           - w_table * deepest hand point below the table (m, when T_base_camera is known)
                           + w_part * share of fingertips within ``touch_m`` of the part's points
                           - w_off * share of fingertips touching the object off the part
                           + w_learned * the learned critic's score in [0, 1], when one is loaded
                             (:mod:`ifgrasp.grasp.diffusion.critic`: the weighted mean of its heads'
                             probabilities, e.g. P(lift under the judge) for ``score_weights`` on "lift")
All terms are batched over candidates. :func:`ranking_terms` computes the geometric measures in torch
(also inside the exported sampler graph, :class:`~ifgrasp.grasp.diffusion.policy.SamplerGraph`, so the
ONNX path ranks in the same onnxruntime call); :func:`score_terms` turns them into the score with the
weights of :class:`RankingConfig` (numpy, so the weights stay run-time settings). The observed points
tested against the hand are an even subset of ``penetration_points`` (:func:`probes`), the same as the
physics pre-check's (:class:`~ifgrasp.grasp.diffusion.physics.ObservedCloud`).
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from ifgrasp.config import Config

#: the ranking's geometric measures per candidate, as :func:`ranking_terms` returns them (and the graph outputs)
TERMS = ("cloud_penetration_m", "tip_part_m", "tip_other_m", "below_table_m", "self_penetration_m")
_FAR_M2 = 1e4  # squared metres added to the points a distance must not see (masked minimum)


class RankingConfig(Config):
    w_penetration: float = Field(200.0, ge=0, description="per metre of the deepest observed point inside the hand")
    w_table: float = Field(200.0, ge=0, description="per metre of hand below the table")
    w_part: float = Field(1.0, ge=0, description="for all fingertips on the part")
    w_off_part: float = Field(0.5, ge=0, description="for all fingertips on other parts")
    w_learned: float = Field(2.0, ge=0, description="for a critic score of 1 (critic loaded; its P(lift))")
    touch_m: float = Field(0.02, gt=0, description="a fingertip this close to a point touches it")
    penetration_tolerance_m: float = Field(0.003, ge=0, description="depth ignored (depth noise)")
    penetration_points: int = Field(128, gt=0, description="cloud points tested against the hand (cost ~ linear)")


def table_plane(T_base_camera: np.ndarray | None, table_z_m: float = 0.0) -> np.ndarray:
    """(4,) float32 [n, d] with n . p + d = height (m) of a camera-frame point above the table
    (z = ``table_z_m`` in the base frame); no ``T_base_camera``: [0, 0, 0, 1], nothing is below."""
    if T_base_camera is None:
        return np.array([0.0, 0.0, 0.0, 1.0], np.float32)
    T = np.asarray(T_base_camera, np.float64)
    return np.array([*T[2, :3], T[2, 3] - table_z_m], np.float32)


def probes(points: torch.Tensor, count: int) -> torch.Tensor:
    """The observed points (count, 3) tested against the hand: every (N // count)-th of ``points`` (N, 3)
    (all N when fewer, the last repeated), an even subset; N read as a tensor, so an exported graph
    takes any N."""
    from torch.onnx.operators import shape_as_tensor

    n = shape_as_tensor(points)[0]
    step = torch.clamp(torch.div(n, count, rounding_mode="floor"), min=1)
    return points.index_select(0, torch.minimum(torch.arange(count) * step, n - 1))


def ranking_terms(hand, pos: torch.Tensor, rot: torch.Tensor, q: torch.Tensor, points: torch.Tensor,
                  part_mask: torch.Tensor, plane: torch.Tensor, probe_points: int,
                  self_collision=None) -> dict[str, torch.Tensor]:
    """Geometric measures of K grasps (camera frame, metres) on one observed cloud ``points`` (N, 3)
    with ``part_mask`` (N,) float in {0, 1} and the table ``plane`` (4,) of :func:`table_plane`:

    - ``cloud_penetration_m`` (K,): deepest of ``probe_points`` observed points (:func:`probes`) inside the hand;
    - ``tip_part_m`` / ``tip_other_m`` (K, 4): each fingertip's distance to the nearest part / non-part point
      (100 m when there is none);
    - ``below_table_m`` (K,): deepest hand surface point below the table;
    - ``self_penetration_m`` (K,): exact self-penetration (when ``self_collision`` is given).
    Plain tensor ops with fixed shapes (no data-dependent branches), so the function exports to ONNX."""
    links = hand.link_transforms(q)  # forward kinematics once for every measure
    center = points.mean(0)  # distances from centred coordinates: small values, exact squares
    tips = hand.fingertips(pos, rot, q, links) - center  # (K, 4, 3)
    local = points - center
    d2 = (tips.square().sum(-1, keepdim=True) + local.square().sum(-1) - 2.0 * tips @ local.T)  # (K, 4, N)
    mask = part_mask.to(d2.dtype)
    surface = hand.surface_points(pos, rot, q, links)  # (K, P, 3)
    out = {"cloud_penetration_m": hand.max_penetration(probes(points, probe_points), pos, rot, q, links),
           "tip_part_m": (d2 + (1.0 - mask) * _FAR_M2).amin(-1).clamp(min=0.0).sqrt(),
           "tip_other_m": (d2 + mask * _FAR_M2).amin(-1).clamp(min=0.0).sqrt(),
           "below_table_m": torch.relu(-(surface @ plane[:3] + plane[3])).amax(-1)}
    if self_collision is not None:
        out["self_penetration_m"] = self_collision.max_depth(q, links)
    return out


def score_terms(terms: dict[str, np.ndarray], cfg: RankingConfig, learned_probability: np.ndarray | None = None):
    """Score (K,) float64 (higher is better) and per-term details {name: (K,)} from :func:`ranking_terms`'
    measures (numpy) and the critic's P(lift) when there is one."""
    tol = cfg.penetration_tolerance_m
    penetration = np.maximum(np.asarray(terms["cloud_penetration_m"], np.float64) - tol, 0.0)
    d_part, d_other = np.asarray(terms["tip_part_m"]), np.asarray(terms["tip_other_m"])
    on_part = (d_part < cfg.touch_m).mean(-1)
    off_part = ((d_other < cfg.touch_m) & (d_other < d_part)).mean(-1)
    below = np.asarray(terms["below_table_m"], np.float64)
    score = -cfg.w_penetration * penetration - cfg.w_table * below + cfg.w_part * on_part - cfg.w_off_part * off_part
    details = {"penetration_m": penetration, "below_table_m": below, "fingertips_on_part": on_part,
               "fingertips_off_part": off_part}
    if learned_probability is not None:
        p = np.asarray(learned_probability, np.float64)
        details["learned_lift_probability"] = p
        score = score + cfg.w_learned * p
    return score.astype(np.float64), details
