"""Grasp energy: DexGraspNet's physical terms plus G-DexGrasp-style part terms, as pluggable pieces.

Every term maps a batch of hand states to a (B,) tensor (lower is better), and the total is their
weighted sum. Frames: everything in the object frame (metres), the table plane at z = 0.

Terms (weights in :class:`EnergyWeights`):
    fc      force-closure residual ||G c|| of the K selected contacts (Liu et al. 2021; DexGraspNet)
    dist    sum of |signed distance| of the contacts to the object surface
    pen     hand surface points inside the object: sum relu(-sdf_object)
    rpen    object surface points inside the hand: sum relu(-sdf_hand)
    spen    hand self-penetration: summed exact depth between link pairs (ifgrasp.hand.self_collision),
            at the grasp plus at its pre-grasp
    joints  joint-limit violation
    part    contacts attracted to the instructed part: mean distance to its nearest part point
    avoid   hand points repelled from parts to avoid: sum relu(margin - distance)
    table   hand points below the table plane plus a clearance: sum relu(clearance - z)
    wrap    palmar points within a margin of the instructed part pulled onto the surface: sum sdf
    close   contacts whose motion when the closing joints flex is not along the inward normal
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.geometry import rot6d_to_matrix
from ifgrasp.grasp.object_sdf import ObjectSDF
from ifgrasp.hand.joints import CLOSING_MASK, LOWER_RAD, PREGRASP_OPEN_RAD
from ifgrasp.hand.self_collision import HandSelfCollision


class EnergyWeights(Config):
    """Weights of the energy terms (DexGraspNet's defaults for the physical ones)."""

    fc: float = Field(1.0, ge=0, description="force-closure residual")
    dist: float = Field(100.0, ge=0, description="contact distance to the surface (per metre)")
    pen: float = Field(100.0, ge=0, description="hand-into-object penetration (per metre)")
    rpen: float = Field(100.0, ge=0, description="object-into-hand penetration (per metre)")
    spen: float = Field(10.0, ge=0, description="self-penetration (per metre): the exact depth between hand links")
    spen_margin_m: float = Field(0.0, ge=0, description="link pairs closer than this count as penetrating")
    joints: float = Field(1.0, ge=0, description="joint-limit violation (per radian)")
    part: float = Field(300.0, ge=0, description="contact distance to the instructed part (per metre)")
    avoid: float = Field(100.0, ge=0, description="hand points within the margin of an avoided part")
    avoid_margin_m: float = Field(0.01, ge=0, description="clearance kept from avoided parts")
    offpart: float = Field(30.0, ge=0, description="hand points within the margin of other (not avoided) parts")
    offpart_margin_m: float = Field(0.005, ge=0, description="clearance kept from the other parts")
    table: float = Field(100.0, ge=0, description="hand points below the table clearance")
    table_clearance_m: float = Field(0.005, ge=0, description="clearance kept above the table plane")
    wrap: float = Field(0.0, ge=0, description="palmar-side hand points within the wrap margin of the instructed "
                        "part pulled onto the surface (per metre): more of the hand on the part")
    wrap_margin_m: float = Field(0.02, ge=0, description="palmar points farther than this from the object are left alone")
    close: float = Field(0.0, ge=0, description="contacts whose motion as the hand closes is not into the surface: "
                         "mean of 1 - cos(closing motion, inward normal) over the contacts")


@dataclass
class HandState:
    """A batch of floating-hand states being optimised.

    ``wrist_pos`` (B, 3) metres, ``wrist_rot6d`` (B, 6) the first two columns of the hand frame's
    rotation, ``joints`` (B, 16) radians in motor order, ``contact_idx`` (B, K) indices into the
    hand model's contact candidates.
    """

    wrist_pos: torch.Tensor
    wrist_rot6d: torch.Tensor
    joints: torch.Tensor
    contact_idx: torch.Tensor

    @property
    def wrist_rot(self) -> torch.Tensor:
        return rot6d_to_matrix(self.wrist_rot6d)

    def vector(self) -> torch.Tensor:
        """(B, 25) = [pos, rot6d, joints]: the continuous variables the optimiser moves."""
        return torch.cat([self.wrist_pos, self.wrist_rot6d, self.joints], dim=-1)

    @classmethod
    def from_vector(cls, v: torch.Tensor, contact_idx: torch.Tensor) -> "HandState":
        return cls(v[:, :3], v[:, 3:9], v[:, 9:], contact_idx)


@dataclass
class GraspProblem:
    """One object and one instruction: what the energy is measured against.

    ``part_points`` (M, 3) samples of the instructed part's surface; ``avoid_points`` (A, 3) samples
    of the parts to avoid (may be empty); ``other_points`` (R, 3) of the remaining parts (may be empty); ``object_points`` (O, 3) samples of the whole surface
    (for object-into-hand penetration); ``center_of_mass`` (3,) the torque reference for force
    closure; ``table_z`` the table height in the object frame or None for a floating object.
    """

    sdf: ObjectSDF
    part_points: torch.Tensor
    avoid_points: torch.Tensor
    other_points: torch.Tensor
    object_points: torch.Tensor
    center_of_mass: torch.Tensor
    table_z: float | None = 0.0


_CLOSE_STEP_RAD = 0.05  # finite step of the closing joints for the closing-motion term
_OPEN = torch.as_tensor(CLOSING_MASK * PREGRASP_OPEN_RAD, dtype=torch.float32)  # pre-grasp = grasp - this


_SELF_COLLISION: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def self_collision(hand) -> HandSelfCollision:
    """The exact self-penetration measure of ``hand`` (built once per hand model)."""
    if hand not in _SELF_COLLISION:
        _SELF_COLLISION[hand] = HandSelfCollision(hand)
    return _SELF_COLLISION[hand]


def force_closure_residual(contacts: torch.Tensor, normals: torch.Tensor, com: torch.Tensor,
                           force_weights: torch.Tensor | None = None) -> torch.Tensor:
    """||G c|| with G = [I ... I; [x_1]x ... [x_K]x] (6, 3K) and c the stacked inward pushes.

    contacts, normals (B, K, 3); com (3,); force_weights (K,) relative push magnitudes (default 1).
    Zero when pushes along the normals balance both net force and net torque about the centre of
    mass (the differentiable relaxation of DexGraspNet). With the thumb in the first slot opposing
    K-1 fingers, its push is weighted K-1 so that a thumb-versus-fingers grasp can balance.
    """
    x = contacts - com  # (B, K, 3)
    c = -normals  # pushing into the object
    if force_weights is not None:
        c = c * (force_weights / force_weights.mean()).view(1, -1, 1)
    net_force = c.sum(1)  # (B, 3)
    net_torque = torch.cross(x, c, dim=-1).sum(1)  # (B, 3)
    return torch.cat([net_force, net_torque], dim=-1).norm(dim=-1)


def _pairwise_distance(points: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(B, N, M) distances from points (B, N, 3) to targets (M, 3)."""
    return torch.cdist(points, targets.unsqueeze(0).expand(points.shape[0], -1, -1))


class _NearestDistance(torch.autograd.Function):
    """``cdist(points, targets).min(-1)`` with a backward through the nearest target only.

    Autograd through cdist + min builds and multiplies a dense (B, N, M) gradient of which one entry
    per row is non-zero (30 ms a step of the synthesis loop for the hand surface against a part's
    samples); this backward is (B, N, 3). It is the same arithmetic as torch's Euclidean-distance
    backward, x1 * ratio - ratio * x2 with ratio = grad / distance, so the gradients are bit-identical
    and so are the grasps (tests/grasp/test_energy.py). That holds for cdist's matrix-product path
    (more than 25 points or targets), the one the synthesis takes."""

    @staticmethod
    def forward(ctx, points: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        values, nearest = _pairwise_distance(points, targets).min(dim=-1)
        ctx.save_for_backward(points, targets, values, nearest)
        return values

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        points, targets, values, nearest = ctx.saved_tensors
        ratio = (grad / values).masked_fill(values == 0, 0).unsqueeze(-1)  # torch's subgradient 0 at d = 0
        return points * ratio - ratio * targets[nearest], None


def nearest_distance(points: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(B, N) distance from each of points (B, N, 3) to the nearest of targets (M, 3); targets are
    constants (no gradient flows to them)."""
    if points.shape[1] <= 25 and targets.shape[0] <= 25:  # cdist's direct path, with its own backward
        return _pairwise_distance(points, targets).min(dim=-1).values
    return _NearestDistance.apply(points, targets)


def compute_energy(hand, problem: GraspProblem, state: HandState, w: EnergyWeights) -> dict[str, torch.Tensor]:
    """All terms (B,) and their weighted ``total`` (B,) for a batch of hand states."""
    rot = state.wrist_rot
    cand_pts, _ = hand.contact_candidates(state.wrist_pos, rot, state.joints)  # (B, C, 3)
    contacts = torch.gather(cand_pts, 1, state.contact_idx.unsqueeze(-1).expand(-1, -1, 3))  # (B, K, 3)
    contact_sdf, obj_normals = problem.sdf.with_normals(contacts)  # (B, K), (B, K, 3)
    surface = hand.surface_points(state.wrist_pos, rot, state.joints)  # (B, P, 3)
    surface_sdf = problem.sdf(surface)  # (B, P)

    terms: dict[str, torch.Tensor] = {}
    k = contacts.shape[1]
    thumb_weighted = torch.tensor([k - 1.0] + [1.0] * (k - 1))  # slot 0 is the thumb (synthesis.init)
    terms["fc"] = force_closure_residual(contacts, obj_normals, problem.center_of_mass, thumb_weighted)
    terms["dist"] = contact_sdf.abs().sum(-1)
    terms["pen"] = torch.relu(-surface_sdf).sum(-1)
    obj = problem.object_points.unsqueeze(0).expand(state.wrist_pos.shape[0], -1, -1)
    terms["rpen"] = torch.relu(-hand.signed_distance(obj, state.wrist_pos, rot, state.joints)).sum(-1)
    # at the grasp and at its pre-grasp (closing joints opened), where the judge checks it too
    opened = torch.maximum(state.joints - _OPEN, torch.as_tensor(LOWER_RAD, dtype=state.joints.dtype))
    both = self_collision(hand).energy(torch.cat([state.joints, opened]), w.spen_margin_m)
    terms["spen"] = both[: len(opened)] + both[len(opened):]
    terms["joints"] = hand.joint_limit_violation(state.joints)
    terms["part"] = nearest_distance(contacts, problem.part_points).mean(-1)
    if w.close > 0:
        # the validation (and an execution) closes every closing joint together: each contact should then
        # move into the surface, not slide along it, or the first finger to arrive shoves the object away
        step = torch.as_tensor(CLOSING_MASK, dtype=state.joints.dtype) * _CLOSE_STEP_RAD
        ahead, _ = hand.contact_candidates(state.wrist_pos, rot, state.joints + step)
        motion = torch.gather(ahead, 1, state.contact_idx.unsqueeze(-1).expand(-1, -1, 3)) - contacts
        cos = -(motion * obj_normals).sum(-1) / (motion.norm(dim=-1) * obj_normals.norm(dim=-1) + 1e-9)
        terms["close"] = (1.0 - cos).mean(-1)
    else:
        terms["close"] = torch.zeros_like(terms["fc"])
    if problem.avoid_points.shape[0] > 0:
        gap = nearest_distance(surface, problem.avoid_points)
        terms["avoid"] = torch.relu(w.avoid_margin_m - gap).sum(-1)
    else:
        terms["avoid"] = torch.zeros_like(terms["fc"])
    if problem.other_points.shape[0] > 0:
        gap = nearest_distance(surface, problem.other_points)
        terms["offpart"] = torch.relu(w.offpart_margin_m - gap).sum(-1)
    else:
        terms["offpart"] = torch.zeros_like(terms["fc"])
    if w.wrap > 0:
        # every palmar point already near the instructed part is pulled onto it: a hand that wraps a heavy
        # body instead of pinching it with four pads (more contacts, more validated grasps; see RefineConfig)
        cand_sdf = problem.sdf(cand_pts)  # (B, C)
        near = (cand_sdf > 0) & (cand_sdf < w.wrap_margin_m)
        elsewhere = torch.cat([problem.avoid_points, problem.other_points])
        if elsewhere.shape[0] > 0:
            # only onto the instructed part: wrapping the mug's body would pull a handle grasp off the handle
            with torch.no_grad():
                near &= nearest_distance(cand_pts, problem.part_points) < nearest_distance(cand_pts, elsewhere)
        terms["wrap"] = torch.where(near, cand_sdf, torch.zeros_like(cand_sdf)).sum(-1)
    else:
        terms["wrap"] = torch.zeros_like(terms["fc"])
    if problem.table_z is not None:
        terms["table"] = torch.relu(problem.table_z + w.table_clearance_m - surface[..., 2]).sum(-1)
    else:
        terms["table"] = torch.zeros_like(terms["fc"])

    total = sum(getattr(w, name) * value for name, value in terms.items())
    terms["total"] = total
    return terms
