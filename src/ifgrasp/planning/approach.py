"""Does a grasp's opened hand push its own target on the way in?

The hand reaches a grasp pre-shaped (``ifgrasp.hand.joints.pregrasp``: the closing joints
``PREGRASP_OPEN_RAD`` short of the grasp) along the straight final approach from the pre-grasp
pose (the grasp pose moved ``pregrasp_offset_m`` back along +z of the hand, see
``ifgrasp.planning.planner``). A grasp whose pre-shaped hand meets the target's observed points on
that approach touches the object before the fingers close: the arm stops short on contact and the
object is shoved (docs/experiments.md, issue 24 leftovers). Base frame, metres.
"""

from __future__ import annotations

import numpy as np

from ifgrasp.hand.joints import PREGRASP_OPEN_RAD, pregrasp
from ifgrasp.types import GraspBatch

def approach_touches(T_base_hand: np.ndarray, hand_joints_rad: np.ndarray, target_base_m: np.ndarray,
                     pregrasp_offset_m: float, margin_m: float, open_rad: float = PREGRASP_OPEN_RAD) -> np.ndarray:
    """(B,) True where a target point ``target_base_m`` (N, 3) comes within ``margin_m`` of the
    pre-shaped hand's collision boxes (``LeapHandModel``, the boxes MuJoCo uses) anywhere on the
    straight final approach from the pre-grasp to the grasp pose ``T_base_hand`` (B, 4, 4);
    ``hand_joints_rad`` (B, 16). Exact for the swept boxes grown by ``margin_m`` along their axes:
    each point's path relative to the moving hand is a segment, tested against each box (slabs)."""
    import torch

    from ifgrasp.hand.model import shared_hand_model

    T = np.asarray(T_base_hand, float).reshape(-1, 4, 4)
    pts = np.asarray(target_base_m, float).reshape(-1, 3)
    out = np.zeros(len(T), bool)
    if not len(T) or not len(pts):
        return out
    f32 = dict(dtype=torch.float32)
    q = pregrasp(np.asarray(hand_joints_rad, float).reshape(len(T), 16), open_rad)
    with torch.no_grad():
        R_box, t_box, half = shared_hand_model().collision_boxes(torch.as_tensor(q, **f32))  # (B, K, 3, 3), (B, K, 3)
        h = half + margin_m  # (K, 3) the boxes grown by the margin
        # the points in each hand frame at its grasp; relative to the hand coming in, a point moves
        # from p - offset z_hand (hand at the pre-grasp) to p
        Tt = torch.as_tensor(T, **f32)
        p_hand = (torch.as_tensor(pts, **f32)[None] - Tt[:, None, :3, 3]) @ Tt[:, :3, :3]  # (B, N, 3)
        # only points within the grown hand's bounding box on their way can touch it
        ext = (R_box.abs() @ h[None, :, :, None])[..., 0]  # (B, K, 3) each box's half extent, hand frame
        lo, hi = (t_box - ext).amin(1)[:, None], (t_box + ext).amax(1)[:, None]  # (B, 1, 3)
        near = ((p_hand[..., :2] >= lo[..., :2]) & (p_hand[..., :2] <= hi[..., :2])).all(-1)
        near &= (p_hand[..., 2] >= lo[..., 2]) & (p_hand[..., 2] - pregrasp_offset_m <= hi[..., 2])  # (B, N)
        K = len(h)
        d_all = pregrasp_offset_m * R_box[:, :, 2, :]  # (B, K, 3) a point's motion in each box frame
        # a still axis (no motion along it) gets a tiny one: its slab times are then +-huge, which
        # reads as always inside (|start| <= h) or never
        inv_all = 1.0 / torch.where(d_all.abs() < 1e-9, 1e-9, d_all)
        for b in np.flatnonzero(near.any(1).numpy()):
            p = p_hand[b, near[b]]  # (M, 3)
            # every box frame in one product: p R_k - t_k R_k
            end = (p @ R_box[b].permute(1, 0, 2).reshape(3, 3 * K)).reshape(-1, K, 3) - (t_box[b][:, None] @ R_box[b])[:, 0]
            start = end - d_all[b]  # (M, K, 3)
            t1, t2 = (-h - start) * inv_all[b], (h - start) * inv_all[b]  # where the path crosses each slab's faces
            lo_t, hi_t = torch.minimum(t1, t2).amax(-1), torch.maximum(t1, t2).amin(-1)  # (M, K) inside all three
            out[b] = bool(((lo_t <= hi_t) & (hi_t >= 0.0) & (lo_t <= 1.0)).any())
    return out


def clear_of_target_first(grasps: GraspBatch, target_base_m: np.ndarray, pregrasp_offset_m: float,
                          margin_m: float) -> np.ndarray:
    """Planning order (B,) of ``grasps`` (base frame, best first): those whose opened hand keeps
    ``margin_m`` off the target's points ``target_base_m`` (N, 3) on the way in first, then the
    others, each group in its given order. The planner takes the first feasible grasp, so one that
    would shove its object is planned only when no other is feasible. ``margin_m`` <= 0: as given."""
    if margin_m <= 0 or len(grasps) < 2:
        return np.arange(len(grasps))
    touches = approach_touches(grasps.T_frame_wrist, grasps.joints_rad, target_base_m, pregrasp_offset_m, margin_m)
    return np.argsort(touches, kind="stable")
