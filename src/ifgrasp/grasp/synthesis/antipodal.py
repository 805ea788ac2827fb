"""Antipodal contact targets on the instructed part, and the hand pose that reaches them.

DexGraspNet's annealing needs thousands of steps to discover force closure from random contacts;
on a 2-core CPU that is too slow for a dataset. Here force closure is built in: a surface point p1
of the instructed part is paired with the point p2 where the inward ray from p1 leaves the object
again; when the two normals are near-opposite and the width fits the hand, (p1, p2) is an antipodal
pair (force closure with friction). The thumb is aimed at p1 and the index, middle (and ring) pads
at points spread around p2; the hand starts with its palm facing the pair from a random approach
direction perpendicular to the grasp axis, and the energy (``energy.py``, plus a term pulling each
finger's nearest contact candidate onto its target) is then minimised with Adam.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.errors import InputError
from ifgrasp.geometry import matrix_to_rot6d


class AntipodalConfig(Config):
    max_normal_angle_rad: float = Field(0.5, gt=0, description="allowed deviation of n2 from -n1")
    width_m: tuple[float, float] = Field((0.003, 0.11), description="allowed grasp width (hand aperture)")
    # The LEAP Hand's finger pitch (45.5 mm between fingertips at the flat pose). Targets 22 mm apart
    # pulled neighbouring fingers into each other: 10-12 mm overlap in MuJoCo at the synthesised pose.
    finger_spread_m: float = Field(0.045, ge=0, description="spacing of the finger targets around p2")
    standoff_m: float = Field(0.005, ge=0, description="targets this far outside the surface")
    palm_offset_m: tuple[float, float] = Field((0.03, 0.07), description="palm centre behind the grasp axis")
    min_approach_z: float = Field(-0.2, description="approach directions pointing up from below are dropped")
    palm_clearance_m: float = Field(0.035, ge=0, description="palm centre at least this far outside the object")
    min_contact_height_m: float = Field(0.006, ge=0, description="with a table: both contacts at least this high "
                                        "(a lying hammer's handle is pinched ~1 cm above the table)")
    candidates_per_grasp: int = Field(8, gt=0, description="surface samples tried per requested grasp")
    min_candidates: int = Field(2048, gt=0, description="surface samples tried at least, whatever the batch")
    # Uniform draws cluster where approachable pairs are common: the narrow top of a wide spray bottle,
    # a poor lever against gravity. Held-out set, 4 rounds, validated grasps / shake / 6-direction:
    # uniform 1,019 / 77% / 66%; 0.04 m 1,155 / 79% / 73% (spray bottle body 22 -> 68%). 0.025 m gave
    # 1,191 / 80% / 73.5% but pulls handle grasps to the handle's root against the body (mug handles:
    # all contacts on the handle 25 -> 16% of grasps, frying-pan handles 14 -> 4%).
    com_sigma_m: float = Field(0.04, ge=0, description="pairs drawn with weight exp(-d^2 / 2 sigma^2), d the distance "
                               "from the pair's midpoint to the object's centre of mass, m (0: uniform)")
    # Grasp-type priors for lying tools (synthesis v3; measured in docs/experiments.md, "Synthesis v3").
    top_down_below_m: float = Field(0.04, ge=0, description="with a table: pairs whose midpoint lies lower than this "
                                    "are approached from above (a lying handle; 0: off)")
    top_down_tilt_rad: float = Field(0.0, ge=0, description="std of the tilt of a from-above approach off vertical")
    pinch_below_m: float = Field(0.035, ge=0, description="pairs narrower than this are pinched by thumb, index and "
                                 "middle; the ring finger gets no target (0: off)")


def antipodal_pairs(sdf, points: np.ndarray, normals: np.ndarray, cfg: AntipodalConfig, part_faces=None):
    """For surface points (N,3) with outward normals, opposite surface points along the inward line.

    Two candidates per point: where the inward ray first leaves the material (a pinch across a wall
    or a handle) and the farthest surface the line reaches within the hand's aperture (a grasp
    across a hollow body). Returns (keep (2N,) bool, p1 (2N,3), p2 (2N,3), n2 (2N,3));
    ``part_faces`` (F,) bool limits p2 to the part.
    """
    exact = sdf.exact
    eps = 1e-4
    near = exact.cast_rays(points - normals * eps, -normals)
    far = exact.cast_rays(points - normals * cfg.width_m[1], normals)  # back toward p1
    t = np.concatenate([near["t_hit"], cfg.width_m[1] - far["t_hit"]])  # far: the farthest surface from p1
    n2 = np.concatenate([near["normals"], far["normals"]])
    face = np.concatenate([near["face"], far["face"]])
    p1 = np.concatenate([points, points])
    n1 = np.concatenate([normals, normals])
    finite = np.isfinite(t)
    p2 = p1 - n1 * np.where(finite, t, 0.0)[:, None]
    n2 = n2 / np.maximum(np.linalg.norm(n2, axis=-1, keepdims=True), 1e-9)
    cos = -(n1 * n2).sum(-1)
    keep = finite & (cos >= np.cos(cfg.max_normal_angle_rad))
    keep &= (t >= cfg.width_m[0]) & (t <= cfg.width_m[1])
    if part_faces is not None:
        keep &= np.where(finite, part_faces[np.clip(face, 0, len(part_faces) - 1)], False)
    return keep, p1, p2, n2


def _hand_geometry(hand):
    """Hand-frame grasp axis (finger pads -> thumb tip) and palm normal at the pre-grasp pose."""
    from ifgrasp.hand.joints import PALM_NORMAL_IN_HAND, PREGRASP_JOINTS_RAD

    q = torch.as_tensor(PREGRASP_JOINTS_RAD, dtype=torch.float32)[None]
    tips = hand.fingertips(torch.zeros(1, 3), torch.eye(3)[None], q)[0].numpy()  # index, middle, ring, thumb
    axis = tips[3] - tips[:2].mean(0)
    axis /= np.linalg.norm(axis)
    palm_n = np.asarray(PALM_NORMAL_IN_HAND, float)
    side = np.cross(palm_n, axis)
    side /= np.linalg.norm(side)
    palm_n = np.cross(axis, side)  # re-orthogonalised, still pointing out of the palm
    return axis, side, palm_n, tips


def antipodal_targets(hand, obj, sdf, part: str, batch: int, rng: np.random.Generator, cfg: AntipodalConfig,
                      has_table: bool = True, center_of_mass_m: np.ndarray | None = None):
    """Initial hand states and per-finger contact targets for ``batch`` grasps.

    Returns wrist_pos (B,3), rot6d (B,6), joints (B,16) tensors and targets (B,K,3) with K = 4
    (thumb, index, middle, ring) in the object frame; NaN rows: that finger has no target (a pinch).
    ``center_of_mass_m`` (3,), object frame: where pairs are drawn near (default: ``obj.center_of_mass_m``).
    """
    from ifgrasp.hand.joints import PALM_CENTER_IN_HAND, PREGRASP_JOINTS_RAD

    part_idx = obj.part_index(part)
    part_faces = obj.face_part == part_idx
    n_try = max(batch * cfg.candidates_per_grasp, cfg.min_candidates)
    pts, nrm, lab = obj.sample_surface(n_try * 8, rng)  # oversampled: the part is a fraction of the surface
    on = lab == part_idx
    pts, nrm = pts[on][:n_try], nrm[on][:n_try]
    keep, pts, p2, n2 = antipodal_pairs(sdf, pts, nrm, cfg, part_faces)
    if has_table:
        keep &= (pts[:, 2] >= cfg.min_contact_height_m) & (p2[:, 2] >= cfg.min_contact_height_m)
    if not keep.any():
        raise InputError(f"{obj.name}: no antipodal pair on part '{part}' fits the hand (width {cfg.width_m} m)")
    idx = np.flatnonzero(keep)
    weight = None
    if cfg.com_sigma_m > 0:
        com = obj.center_of_mass_m if center_of_mass_m is None else center_of_mass_m
        d = np.linalg.norm((pts[idx] + p2[idx]) / 2 - com, axis=-1)
        weight = np.exp(-0.5 * (d / cfg.com_sigma_m) ** 2) + 1e-12
        weight /= weight.sum()

    axis_h, side_h, palm_h, _ = _hand_geometry(hand)
    hand_frame = np.stack([axis_h, side_h, palm_h], axis=1)  # columns, hand frame
    out_pos, out_rot, targets = [], [], []
    for attempt in range(50):  # rejection rounds over vectorised draws
        # pairs near the centre of mass first; uniform draws when too few of those can be approached
        pick = rng.choice(idx, size=batch * 2, p=weight if attempt < 25 else None)
        a, b = pts[pick], p2[pick]  # thumb on a, fingers on b
        g_axis = (a - b) / np.linalg.norm(a - b, axis=-1, keepdims=True)  # fingers -> thumb
        r = rng.normal(size=(len(pick), 3))
        mid = (a + b) / 2
        low = np.zeros(len(pick), bool)
        if has_table and cfg.top_down_below_m > 0:
            # a lying handle: a palm beside it would stand in the table, so the hand comes from above
            low = mid[:, 2] < cfg.top_down_below_m
            r[low] = np.array([0.0, 0.0, -1.0]) + cfg.top_down_tilt_rad * r[low]
        approach = r - (r * g_axis).sum(-1, keepdims=True) * g_axis  # perpendicular to the axis
        approach /= np.linalg.norm(approach, axis=-1, keepdims=True)  # palm normal = approach (into object)
        ok = np.ones(len(pick), bool)
        ok &= ~low | (approach[:, 2] < -0.5)  # from above: a vertical grasp axis on a low part has no such approach
        if has_table:
            ok &= -approach[:, 2] >= cfg.min_approach_z  # palm above-ish: approach not from below
        side = np.cross(approach, g_axis)
        world = np.stack([g_axis, side, approach], axis=2)  # (n, 3, 3) columns
        R = world @ hand_frame.T
        palm = mid - approach * rng.uniform(*cfg.palm_offset_m, size=(len(pick), 1))
        wrist = palm - R @ np.asarray(PALM_CENTER_IN_HAND)
        # the palm sits on the free side of the pair (not against the rest of the object)
        ok &= sdf(torch.as_tensor(palm, dtype=torch.float32)).numpy() >= cfg.palm_clearance_m
        if has_table:
            ok &= palm[:, 2] > 0.02
        along = side.copy()
        along[low, 2] = 0.0  # a lying part's finger targets stay at the pair's height, whatever the tilt
        along /= np.maximum(np.linalg.norm(along, axis=-1, keepdims=True), 1e-9)
        pinch = np.linalg.norm(a - b, axis=-1) < cfg.pinch_below_m
        # fingers spread along the hand's side axis around b (index toward +side is a guess the
        # optimiser corrects by picking each finger's nearest candidate); a pinch puts index and
        # middle one finger pitch apart, either side of the thumb's opposite point
        spread = np.where(pinch[:, None], np.array([0.0, 0.5, -0.5, 0.0]), np.array([0.0, 1.0, 0.0, -1.0]))
        spread = cfg.finger_spread_m * spread  # (n, 4): thumb, index, middle, ring
        t_fingers = b[:, None] + along[:, None] * spread[:, 1:, None] + g_axis[:, None] * -cfg.standoff_m
        t_thumb = a[:, None] + g_axis[:, None] * cfg.standoff_m
        tg = np.concatenate([t_thumb, t_fingers], axis=1)
        tg[pinch, 3] = np.nan  # the ring finger is free (refine: no target, its contact slot doubles the middle's)
        out_pos.append(wrist[ok])
        out_rot.append(R[ok])
        targets.append(tg[ok])
        if sum(len(p) for p in out_pos) >= batch:
            break
    wrist = np.concatenate(out_pos)[:batch]
    R = np.concatenate(out_rot)[:batch]
    tg = np.concatenate(targets)[:batch]
    if len(wrist) < batch:
        raise InputError(f"{obj.name}: only {len(wrist)} of {batch} antipodal grasps can be approached")
    q = np.tile(PREGRASP_JOINTS_RAD, (batch, 1))
    f32 = dict(dtype=torch.float32)
    return (torch.as_tensor(wrist, **f32), torch.as_tensor(matrix_to_rot6d(R), **f32),
            torch.as_tensor(q, **f32), torch.as_tensor(tg, **f32))
