"""Resolve an instruction's colour, size and spatial words against candidate objects in view.

Shared by every backend: a backend proposes candidate masks of the named category with match
scores; :func:`select_target` keeps the ones whose colour matches, applies the spatial relation
(robot view, base frame: left = +y, right = -y, front = smaller x, back = larger x, nearest /
farthest from the base origin in the table plane, middle = closest to the candidates' mean y),
and refuses to guess: several equally good candidates raise ``AmbiguousTargetError``.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.grounding import GroundedInstruction
from ifgrasp.perception.depth import transform_points
from ifgrasp.perception.errors import AmbiguousTargetError, TargetCandidate, TargetNotFoundError
from ifgrasp.types import RGBDFrame


class SelectionConfig(Config):
    equal_score_ratio: float = Field(0.8, gt=0, le=1, description="candidates scoring at least this "
                                     "fraction of the best count as equally matching")
    relation_margin_m: float = Field(0.03, ge=0, description="a spatial relation must separate the "
                                     "best candidate from the next by this much")
    size_margin: float = Field(1.25, ge=1, description="'large'/'small' need this pixel-count ratio")


def colour_names(rgb: np.ndarray) -> np.ndarray:
    """(K, 3) uint8/float RGB -> (K,) colour names from the grounding vocabulary."""
    c = np.asarray(rgb, dtype=np.float64).reshape(-1, 3) / 255.0
    mx, mn = c.max(axis=1), c.min(axis=1)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-9), 0.0)
    r, g, b = c.T
    delta = np.maximum(mx - mn, 1e-9)
    hue = np.select([mx == r, mx == g], [((g - b) / delta) % 6, (b - r) / delta + 2], (r - g) / delta + 4) * 60
    edges = np.array([15, 40, 70, 170, 260, 300, 345])
    names = np.array(["red", "orange", "yellow", "green", "blue", "purple", "pink", "red"])
    chroma = names[np.searchsorted(edges, hue, side="right")]
    chroma = np.where((chroma == "orange") & (mx < 0.6), "brown", chroma)
    grey = np.select([mx < 0.2, mx > 0.8], ["black", "white"], "grey")
    return np.where(sat < 0.25, grey, chroma)


def describe_candidates(frame: RGBDFrame, masks: np.ndarray, category: str, scores: np.ndarray) -> list[TargetCandidate]:
    """One ``TargetCandidate`` per mask (K, H, W) bool: base-frame median centroid, median colour.
    Only the masks' own pixels are back-projected (not the whole frame)."""
    intr, depth = frame.intrinsics, frame.depth_m
    valid = depth > 0
    out = []
    for k, m in enumerate(np.asarray(masks, bool)):
        flat = np.flatnonzero(m & valid)  # (N,)
        if flat.size:
            v, u = np.divmod(flat, depth.shape[1])
            z = depth.ravel()[flat]
            pts = np.stack([(u - intr.cx) * z / intr.fx, (v - intr.cy) * z / intr.fy, z], axis=1)  # (N, 3) optical
            centroid = np.median(transform_points(frame.T_base_camera, pts), axis=0)
        else:
            centroid = np.full(3, np.nan)
        colour = colour_names(np.median(frame.color[m], axis=0))[0] if m.any() else ""
        out.append(TargetCandidate(instance=k, category=category, score=float(scores[k]),
                                   centroid_base_m=tuple(float(v) for v in centroid), colour=str(colour),
                                   pixels=int(m.sum())))
    return out


def _extreme(cands: list[TargetCandidate], key: np.ndarray, margin: float, word: str) -> list[TargetCandidate]:
    order = np.argsort(-key, kind="stable")
    if len(cands) > 1 and key[order[0]] - key[order[1]] < margin:
        raise AmbiguousTargetError(f"'{word}' does not separate two candidates (gap "
                                   f"{key[order[0]] - key[order[1]]:.3f} < {margin})",
                                   [cands[order[0]], cands[order[1]]])
    return [cands[order[0]]]


def select_target(candidates: list[TargetCandidate], grounded: GroundedInstruction,
                  config: SelectionConfig = SelectionConfig()) -> TargetCandidate:
    """The one candidate the instruction means; ``TargetNotFoundError`` / ``AmbiguousTargetError``."""
    what = grounded.object_phrase
    if not candidates:
        raise TargetNotFoundError(f"no {what} in view; nothing to grasp")
    cands = list(candidates)
    if grounded.colours:
        cands = [c for c in cands if c.colour in grounded.colours]
        if not cands:
            seen = ", ".join(c.describe() for c in candidates)
            raise TargetNotFoundError(f"no {what} in view; saw {seen}")
    for attr in grounded.attributes:
        if attr in ("large", "small") and len(cands) > 1:
            px = np.array([c.pixels for c in cands], float)
            key = np.log(px) if attr == "large" else -np.log(px)
            cands = _extreme(cands, key, np.log(config.size_margin), attr)
        elif attr in ("tall", "short") and len(cands) > 1:
            z = np.array([c.centroid_base_m[2] for c in cands])
            cands = _extreme(cands, z if attr == "tall" else -z, config.relation_margin_m / 3, attr)
    for rel in grounded.relations:
        if len(cands) < 2:
            break
        xyz = np.array([c.centroid_base_m for c in cands])  # (K, 3)
        r = np.linalg.norm(xyz[:, :2], axis=1)
        key = {"left": xyz[:, 1], "right": -xyz[:, 1], "front": -xyz[:, 0], "back": xyz[:, 0],
               "nearest": -r, "farthest": r, "middle": -np.abs(xyz[:, 1] - xyz[:, 1].mean())}[rel]
        cands = _extreme(cands, key, config.relation_margin_m, rel)
    scores = np.array([c.score for c in cands])
    best = int(np.argmax(scores))
    tied = [c for c, s in zip(cands, scores) if s >= config.equal_score_ratio * scores[best]]
    if len(tied) > 1:
        raise AmbiguousTargetError(f"{len(tied)} objects match '{what}' equally", tied)
    return cands[best]
