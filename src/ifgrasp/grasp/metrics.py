"""Geometric grasp metrics shared by the teacher's evaluation and the student's ranking.

Contacts are hand surface points within ``threshold_m`` of the object surface; each is labelled with
the part of the nearest object triangle. Penetration is measured both ways with exact distances.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from ifgrasp.grasp.object_sdf import ObjectSDF
from ifgrasp.types import GraspBatch


#: Hand surface samples of :func:`measuring_hand`. A share of contacts is a count of samples near the object:
#: with a few hundred over the whole hand a fingertip pad holds a handful, and the share depends on which were
#: drawn; it settles from a few thousand (docs/experiments.md, the student's part-contact measure).
MEASURE_SURFACE_SAMPLES = 6400


@functools.lru_cache(maxsize=2)
def measuring_hand(seed: int = 0):
    """A LEAP Hand model with :data:`MEASURE_SURFACE_SAMPLES` surface samples, for contact measures whose
    value must not depend on the samples drawn (evaluations); optimisers keep their cheaper sparse hands."""
    from ifgrasp.hand import LeapHandModel

    return LeapHandModel(n_surface_points=MEASURE_SURFACE_SAMPLES, seed=seed)


@dataclass
class ContactStats:
    """Per grasp (B,): contact count, share of contacts on the instructed part, whether every
    contact is on it, and the maximum penetration depth in metres (hand into object and object
    into hand)."""

    num_contacts: np.ndarray
    part_share: np.ndarray
    all_on_part: np.ndarray
    max_penetration_m: np.ndarray


def hand_tensors(grasps: GraspBatch):
    f32 = dict(dtype=torch.float32)
    return (
        torch.as_tensor(grasps.wrist_pos_m, **f32),
        torch.as_tensor(grasps.wrist_rot, **f32),
        torch.as_tensor(grasps.joints_rad, **f32),
    )


@torch.no_grad()
def contact_stats(
    hand,
    sdf: ObjectSDF,
    face_part: np.ndarray,
    part_index: int,
    grasps: GraspBatch,
    object_points: np.ndarray,
    threshold_m: float = 0.005,
) -> ContactStats:
    """Contact and penetration statistics of grasps (object frame) on one object."""
    pos, rot, q = hand_tensors(grasps)
    surface = hand.surface_points(pos, rot, q).numpy()  # (B, P, 3)
    B, P, _ = surface.shape
    flat = surface.reshape(-1, 3)
    d, _ = sdf.query_np(flat)
    d = d.reshape(B, P)
    touching = d < threshold_m  # (B, P)
    faces = sdf.closest_faces(flat).reshape(B, P)
    on_part = face_part[faces] == part_index
    n = touching.sum(1)
    share = np.where(n > 0, (touching & on_part).sum(1) / np.maximum(n, 1), 0.0)
    all_on = (n > 0) & ((touching & ~on_part).sum(1) == 0)
    obj = torch.as_tensor(object_points, dtype=torch.float32).unsqueeze(0).expand(B, -1, -1)
    hand_sd = hand.signed_distance(obj, pos, rot, q).numpy()  # (B, O)
    pen = np.maximum(np.maximum(-d, 0).max(1), np.maximum(-hand_sd, 0).max(1))
    return ContactStats(n, share, all_on, pen)
