"""Initial hand poses in the instructed part's "useful region" (IFG; G-DexGrasp's part-aware init).

A surface point of the instructed part is drawn with its outward normal n; the palm centre is put a
few centimetres out along n, the palm normal points back into the part (jittered inside a cone), the
hand spins randomly about it, and the fingers start from the pre-grasp pose plus noise. Seeds facing
up from under the table are rejected when a table is present.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.errors import InputError
from ifgrasp.geometry import matrix_to_rot6d


class InitConfig(Config):
    palm_distance_m: tuple[float, float] = Field((0.03, 0.06), description="palm centre to part surface")
    cone_half_angle_rad: float = Field(0.35, ge=0, description="jitter of the palm normal about -n")
    joint_noise_rad: float = Field(0.1, ge=0, description="std of the pre-grasp joint noise")
    min_normal_z: float = Field(-0.2, description="reject part points whose normal points further down")
    min_palm_height_m: float = Field(0.04, description="palm centre above the table (object frame z)")


def _rotation_from_two_axes(normal: np.ndarray, finger: np.ndarray, palm_normal_in_hand, finger_axis_in_hand):
    """(B, 3, 3) rotations taking the hand-frame palm normal / finger axis onto world ``normal`` /
    ``finger`` (B, 3) (finger is orthogonalised against normal first)."""
    n = normal / np.linalg.norm(normal, axis=-1, keepdims=True)
    f = finger - (finger * n).sum(-1, keepdims=True) * n
    f /= np.linalg.norm(f, axis=-1, keepdims=True)
    world = np.stack([n, f, np.cross(n, f)], axis=-1)  # (B, 3, 3) columns
    pn = np.asarray(palm_normal_in_hand, dtype=float)
    fa = np.asarray(finger_axis_in_hand, dtype=float)
    fa = fa - fa.dot(pn) * pn
    fa /= np.linalg.norm(fa)
    hand = np.stack([pn, fa, np.cross(pn, fa)], axis=-1)  # (3, 3) columns
    return world @ hand.T


def initial_states(
    hand,
    part_points: np.ndarray,
    part_normals: np.ndarray,
    batch: int,
    rng: np.random.Generator,
    cfg: InitConfig,
    has_table: bool = True,
    num_contacts: int = 4,
):
    """Draw ``batch`` initial states. Returns (wrist_pos (B,3), rot6d (B,6), joints (B,16),
    contact_idx (B,K)) as float32/int64 tensors."""
    from ifgrasp.hand.joints import FINGER_AXIS_IN_HAND, PALM_CENTER_IN_HAND, PALM_NORMAL_IN_HAND, PREGRASP_JOINTS_RAD

    ok = np.ones(len(part_points), bool)
    if has_table:
        ok &= part_normals[:, 2] >= cfg.min_normal_z
    if not ok.any():
        raise InputError("no point of the instructed part can be approached (all face the table)")
    pool = np.flatnonzero(ok)

    pos, rots = [], []
    needed = batch
    for _ in range(20):  # rejection rounds, vectorised inside
        n_draw = needed * 3
        idx = rng.choice(pool, size=n_draw)
        p, n = part_points[idx], part_normals[idx]
        # palm normal = -n jittered in a cone
        jitter = rng.normal(size=(n_draw, 3)) * np.tan(cfg.cone_half_angle_rad) / np.sqrt(3)
        inward = -n + jitter
        inward /= np.linalg.norm(inward, axis=-1, keepdims=True)
        spin_hint = rng.normal(size=(n_draw, 3))
        R = _rotation_from_two_axes(inward, spin_hint, PALM_NORMAL_IN_HAND, FINGER_AXIS_IN_HAND)
        d = rng.uniform(*cfg.palm_distance_m, size=(n_draw, 1))
        palm = p - inward * d
        wrist = palm - np.einsum("bij,j->bi", R, np.asarray(PALM_CENTER_IN_HAND))
        keep = palm[:, 2] >= cfg.min_palm_height_m if has_table else np.ones(n_draw, bool)
        pos.append(wrist[keep])
        rots.append(R[keep])
        needed -= int(keep.sum())
        if needed <= 0:
            break
    wrist_pos = np.concatenate(pos)[:batch]
    R = np.concatenate(rots)[:batch]
    if len(wrist_pos) < batch:
        raise InputError(f"could only place {len(wrist_pos)} of {batch} initial hands above the table")

    lower = hand.lower.cpu().numpy()
    upper = hand.upper.cpu().numpy()
    joints = np.asarray(PREGRASP_JOINTS_RAD) + rng.normal(scale=cfg.joint_noise_rad, size=(batch, 16))
    joints = np.clip(joints, lower, upper)
    contact_idx = draw_finger_contacts(hand, batch, num_contacts, rng)

    f32 = dict(dtype=torch.float32)
    return (
        torch.as_tensor(wrist_pos, **f32),
        torch.as_tensor(matrix_to_rot6d(R), **f32),
        torch.as_tensor(joints, **f32),
        torch.as_tensor(contact_idx, dtype=torch.int64),
    )


def finger_groups(hand, num_contacts: int) -> list[np.ndarray]:
    """Candidate indices per contact slot: slot k draws from finger ``FINGER_ORDER[k]`` so that
    every grasp opposes the thumb to the fingers (thumb, index, middle, ring, then palm)."""
    fingers = np.asarray(hand.contact_candidate_finger)
    order = [3, 0, 1, 2, 4]  # thumb, index, middle, ring, palm (ifgrasp.hand.joints finger indices)
    if num_contacts > len(order):
        raise InputError(f"at most {len(order)} contacts (one per finger and the palm), got {num_contacts}")
    return [np.flatnonzero(fingers == f) for f in order[:num_contacts]]


def draw_finger_contacts(hand, batch: int, num_contacts: int, rng: np.random.Generator) -> np.ndarray:
    """(batch, K) contact candidate indices, one per finger slot."""
    groups = finger_groups(hand, num_contacts)
    return np.stack([rng.choice(g, size=batch) for g in groups], axis=1)
