"""Batched, differentiable LEAP Hand kinematics and geometry in torch.

Frames: the hand frame is the URDF root link ``palm`` (see :mod:`ifgrasp.hand.joints`). A hand pose
in the world is ``wrist_pos`` (B, 3) metres and ``wrist_rot`` (B, 3, 3), i.e. ``T_world_palm``:
a hand-frame point p lands at ``wrist_rot @ p + wrist_pos``. Joints are (B, 16) radians in motor
order. Every method is batched over B with no Python loop over the batch or over points, and is
differentiable w.r.t. the wrist pose and the joints.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ifgrasp.errors import InputError, KinematicsError, known
from ifgrasp.hand.geometry import contact_candidates, sample_surface, sphere_sets
from ifgrasp.hand.joints import FINGERS, NUM_JOINTS, PALM_FINGER_INDEX
from ifgrasp.hand.urdf import URDF_PATH, parse_hand_urdf


def _axis_angle(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues: ``axis`` (n, 3) unit, ``angle`` (B, n) -> rotations (B, n, 3, 3)."""
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    K = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(-1, 3, 3)  # (n, 3, 3)
    s, c = torch.sin(angle)[..., None, None], torch.cos(angle)[..., None, None]
    eye = torch.eye(3, dtype=axis.dtype, device=axis.device)
    return eye + s * K + (1 - c) * (K @ K)


def box_sdf(points: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    """Signed distance of box-frame ``points`` (..., K, N, 3) to boxes ``half`` (K, 3); < 0 inside."""
    q = points.abs() - half[:, None, :]  # (..., K, N, 3)
    out2 = torch.relu(q).square().sum(-1)
    positive = out2 > 0
    outside = torch.where(positive, torch.where(positive, out2, 1.0).sqrt(), 0.0)  # zero gradient inside
    return outside + torch.clamp(q.max(-1).values, max=0.0)


def _blocks(link: np.ndarray, xyz: np.ndarray, w: float, n_links: int) -> np.ndarray:
    """(P, 4L) matrix holding each row's homogeneous [x, y, z, w] in the block of its link."""
    X = np.zeros((len(link), n_links, 4))
    X[np.arange(len(link)), link, :3] = xyz
    X[np.arange(len(link)), link, 3] = w
    return X.reshape(len(link), 4 * n_links)


class LeapHandModel:
    """LEAP Hand (right) kinematics built from ``urdf/leap_hand_right.urdf``.

    ``n_surface_points`` points are sampled once (seeded) on the collision boxes. Attributes:
    ``link_names`` (L,), ``lower``/``upper`` (16,) rad, ``surface_point_link`` (P,) link index,
    ``contact_candidate_link`` list of C link names, ``contact_candidate_finger`` (C,) finger index
    (0 index, 1 middle, 2 ring, 3 thumb, 4 palm), ``tip_links`` the four fingertip frames.
    """

    def __init__(self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 n_surface_points: int = 800, urdf_path: Path = URDF_PATH, seed: int = 0) -> None:
        tree = parse_hand_urdf(Path(urdf_path))
        self.tree = tree
        self.link_names: tuple[str, ...] = tree.link_names
        self.tip_links = tuple(f"{f}_tip" for f in FINGERS)
        self._level_slices = [(int(lv[0]), int(lv[-1]) + 1) for lv in tree.levels]
        for lv, (a, b) in zip(tree.levels, self._level_slices):
            assert np.array_equal(lv, np.arange(a, b)), "breadth-first levels are contiguous"

        surface = sample_surface(tree, n_surface_points, seed=seed)
        contacts = contact_candidates(tree)
        spheres = sphere_sets(tree)
        self.contact_candidate_link = [tree.link_names[i] for i in contacts.link]
        finger_of = [next((k for k, f in enumerate(FINGERS) if n.startswith(f)), PALM_FINGER_INDEX)
                     for n in self.contact_candidate_link]
        pairs = self._sphere_pairs(spheres)

        self._np = {
            "T_parent_joint": tree.T_parent_joint, "axis": tree.axis,
            "joint_col": np.where(tree.joint_index < 0, NUM_JOINTS, tree.joint_index),
            "parent": np.maximum(tree.parent, 0), "box_link": tree.box_link,
            "T_link_box": tree.T_link_box, "box_half": tree.box_half,
            "lower": tree.lower, "upper": tree.upper,
            "surface_point_link": surface.link, "surface_points": surface.points,
            "surface_normals": surface.normals,
            "contact_link": contacts.link, "contact_points": contacts.points, "contact_normals": contacts.normals,
            "contact_candidate_finger": np.array(finger_of),
            "sphere_link": spheres.link, "sphere_centers": spheres.centers, "sphere_radii": spheres.radii,
            "pair_i": pairs[0], "pair_j": pairs[1],
            "surface_X": _blocks(surface.link, surface.points, 1.0, len(tree.link_names)),
            "contact_X": _blocks(contacts.link, contacts.points, 1.0, len(tree.link_names)),
            "contact_N": _blocks(contacts.link, contacts.normals, 0.0, len(tree.link_names)),
            "sphere_X": _blocks(spheres.link, spheres.centers, 1.0, len(tree.link_names)),
        }
        self.device, self.dtype = torch.device(device), dtype
        self.to(device, dtype)

    def links_that_can_touch(self) -> np.ndarray:
        """(L, L) bool over link indices: True for pairs that may collide, i.e. not the same link and
        not parent/child (links sharing a joint touch by design)."""
        tree = self.tree
        allowed = ~np.eye(len(tree.link_names), dtype=bool)
        for i, p in enumerate(tree.parent):
            if p >= 0:
                allowed[i, p] = allowed[p, i] = False
        return allowed

    def _sphere_pairs(self, spheres) -> tuple[np.ndarray, np.ndarray]:
        """Sphere index pairs on links allowed to collide: not parent/child, not the same link, and
        not already overlapping at the flat pose (links that touch by design, like a knuckle and the
        palm, are excluded as in an allowed-collision matrix)."""
        tree = self.tree
        n_links = len(tree.link_names)
        allowed = self.links_that_can_touch()
        # sphere centres at the flat pose, in the hand frame (numpy FK at q = 0)
        T = np.tile(np.eye(4), (n_links, 1, 1))
        for i in range(1, n_links):
            T[i] = T[tree.parent[i]] @ tree.T_parent_joint[i]
        c = np.einsum("sij,sj->si", T[spheres.link, :3, :3], spheres.centers) + T[spheres.link, :3, 3]
        d = np.linalg.norm(c[:, None] - c[None], axis=-1)
        touching = d < (spheres.radii[:, None] + spheres.radii[None]) + 1e-3
        la, lb = spheres.link[:, None], spheres.link[None]
        for a, b in zip(*np.nonzero(touching)):
            allowed[la[a, 0], lb[0, b]] = False
        i, j = np.triu_indices(len(spheres.radii), k=1)
        keep = allowed[spheres.link[i], spheres.link[j]]
        return i[keep], j[keep]

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> "LeapHandModel":
        """Move every precomputed tensor (like ``nn.Module.to``); returns ``self``."""
        self.device = torch.device(device) if device is not None else self.device
        self.dtype = dtype or self.dtype
        for name, value in self._np.items():
            kind = self.dtype if np.issubdtype(value.dtype, np.floating) else torch.long
            setattr(self, f"_{name}" if name not in ("lower", "upper") else name,
                    torch.as_tensor(value, dtype=kind, device=self.device))
        self.surface_point_link = self._surface_point_link
        self.contact_candidate_finger = self._contact_candidate_finger
        return self

    # ------------------------------------------------------------------ kinematics
    def _check_joints(self, joints: torch.Tensor) -> None:
        if joints.ndim != 2 or joints.shape[1] != NUM_JOINTS:
            raise InputError(f"joints must be (B, {NUM_JOINTS}) radians in motor order, got {tuple(joints.shape)}")

    def link_transforms(self, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hand-frame link rotations (B, L, 3, 3) and positions (B, L, 3), links in ``link_names`` order."""
        self._check_joints(joints)
        B = joints.shape[0]
        q = torch.cat([joints, joints.new_zeros(B, 1)], dim=1)  # (B, 17); column 16 drives fixed joints
        R = [torch.eye(3, dtype=joints.dtype, device=joints.device).expand(B, 1, 3, 3)]
        t = [joints.new_zeros(B, 1, 3)]
        R_all, t_all = R[0], t[0]
        for a, b in self._level_slices:
            origin = self._T_parent_joint[a:b]  # (n, 4, 4)
            R_local = origin[:, :3, :3] @ _axis_angle(self._axis[a:b], q[:, self._joint_col[a:b]])  # (B, n, 3, 3)
            parent = self._parent[a:b]
            R_par, t_par = R_all[:, parent], t_all[:, parent]  # (B, n, 3, 3), (B, n, 3)
            R.append(R_par @ R_local)
            t.append(torch.einsum("bnij,nj->bni", R_par, origin[:, :3, 3]) + t_par)
            R_all, t_all = torch.cat(R, 1), torch.cat(t, 1)
        return R_all, t_all

    def link_poses(self, joints: torch.Tensor) -> dict[str, torch.Tensor]:
        """Hand-frame pose (B, 4, 4) of every link, ``T_palm_link``."""
        R, t = self.link_transforms(joints)
        T = torch.cat([R, t[..., None]], -1)  # (B, L, 3, 4)
        bottom = T.new_tensor([0.0, 0.0, 0.0, 1.0]).expand(*T.shape[:2], 1, 4)
        T = torch.cat([T, bottom], -2)  # (B, L, 4, 4)
        return {name: T[:, i] for i, name in enumerate(self.link_names)}

    def _world_links(self, wrist_pos, wrist_rot, joints, links=None) -> torch.Tensor:
        """Stacked world link transforms (4L, 3B) laid out for :meth:`_apply`; ``links``: the
        :meth:`link_transforms` of ``joints`` when the caller has them already."""
        R, t = links if links is not None else self.link_transforms(joints)
        R_w = wrist_rot[:, None] @ R  # (B, L, 3, 3)
        t_w = torch.einsum("bij,blj->bli", wrist_rot, t) + wrist_pos[:, None]  # (B, L, 3)
        M = torch.cat([R_w.transpose(-1, -2), t_w[:, :, None, :]], dim=2)  # (B, L, 4, 3)
        return M.permute(1, 2, 0, 3).reshape(-1, 3 * joints.shape[0])

    @staticmethod
    def _apply(X: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
        """Per-link rigid transform of many points as one GEMM: ``X`` (P, 4L) homogeneous points
        placed in their link's block, ``M`` (4L, 3B) -> (B, P, 3). Avoids (B, P, 3, 3) gathers."""
        return (X @ M).reshape(X.shape[0], -1, 3).transpose(0, 1)

    def surface_points(self, wrist_pos: torch.Tensor, wrist_rot: torch.Tensor, joints: torch.Tensor,
                       links=None) -> torch.Tensor:
        """World points (B, P, 3) sampled uniformly on the collision surface (fixed per model)."""
        return self._apply(self._surface_X, self._world_links(wrist_pos, wrist_rot, joints, links))

    def contact_candidates(self, wrist_pos: torch.Tensor, wrist_rot: torch.Tensor,
                           joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidate contacts on the palmar faces: world points (B, C, 3) and outward unit normals (B, C, 3)."""
        M = self._world_links(wrist_pos, wrist_rot, joints)
        return self._apply(self._contact_X, M), self._apply(self._contact_N, M)

    def fingertips(self, wrist_pos: torch.Tensor, wrist_rot: torch.Tensor, joints: torch.Tensor,
                   links=None) -> torch.Tensor:
        """World fingertip points (B, 4, 3) for index, middle, ring, thumb (tip of the pads)."""
        R, t = links if links is not None else self.link_transforms(joints)
        idx = [self.link_names.index(n) for n in self.tip_links]
        return torch.einsum("bij,bpj->bpi", wrist_rot, t[:, idx]) + wrist_pos[:, None]

    # ------------------------------------------------------------------ distances
    def link_signed_distance(self, points: torch.Tensor, wrist_pos: torch.Tensor, wrist_rot: torch.Tensor,
                             joints: torch.Tensor) -> torch.Tensor:
        """Signed distance (B, N, K) of world ``points`` (B, N, 3) to each collision box (< 0 inside)."""
        if points.ndim != 3 or points.shape[-1] != 3:
            raise InputError(f"points must be (B, N, 3) metres in the world frame, got {tuple(points.shape)}")
        p_hand = torch.einsum("bji,bnj->bni", wrist_rot, points - wrist_pos[:, None])  # (B, N, 3)
        R_box, t_box, _ = self.collision_boxes(joints)
        local = torch.einsum("bkji,bknj->bkni", R_box, p_hand[:, None] - t_box[:, :, None])  # (B, K, N, 3)
        return box_sdf(local, self._box_half).transpose(1, 2)

    def collision_boxes(self, joints: torch.Tensor, links=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The collision boxes in the hand's root frame: rotations (B, K, 3, 3), centres (B, K, 3)
        and half extents (K, 3), metres; ``links``: :meth:`link_transforms` of ``joints`` when known."""
        R, t = links if links is not None else self.link_transforms(joints)
        T_link_box = self._T_link_box.to(R.dtype)
        R_box = R[:, self._box_link] @ T_link_box[:, :3, :3]  # (B, K, 3, 3)
        t_box = torch.einsum("bkij,kj->bki", R[:, self._box_link], T_link_box[:, :3, 3]) + t[:, self._box_link]
        return R_box, t_box, self._box_half

    def signed_distance(self, points: torch.Tensor, wrist_pos: torch.Tensor, wrist_rot: torch.Tensor,
                        joints: torch.Tensor) -> torch.Tensor:
        """Signed distance (B, N) of world ``points`` (B, N, 3) to the hand (union of boxes); < 0 inside."""
        return self.link_signed_distance(points, wrist_pos, wrist_rot, joints).min(-1).values

    def max_penetration(self, points: torch.Tensor, wrist_pos: torch.Tensor, wrist_rot: torch.Tensor,
                        joints: torch.Tensor, links=None) -> torch.Tensor:
        """Deepest (B,) metres of world ``points`` (N, 3), shared by the B hand poses, inside the hand's
        collision boxes (0 when none is inside): ``relu(-signed_distance(...)).amax(-1)`` without the
        outside distances, the points transformed into every box frame by one broadcast matmul."""
        R_hand, c_hand, _ = self.collision_boxes(joints, links)
        R_box = wrist_rot[:, None] @ R_hand  # world box axes (B, K, 3, 3)
        c_box = torch.einsum("bij,bkj->bki", wrist_rot, c_hand) + wrist_pos[:, None]
        RT = R_box.transpose(-1, -2)
        B, K = RT.shape[:2]
        local = (RT.reshape(-1, 3) @ points.T).reshape(B, K, 3, -1) - RT @ c_box[..., None]  # (B, K, 3, N) box frame
        inside = (self._box_half[None, :, :, None] - local.abs()).amin(-2)  # (B, K, N) > 0 inside
        return torch.relu(inside.amax(-1).amax(-1))

    def self_penetration(self, joints: torch.Tensor) -> torch.Tensor:
        """Total penetration depth (B,) metres, >= 0, between sphere sets of links allowed to collide."""
        eye = torch.eye(3, dtype=joints.dtype, device=joints.device).expand(joints.shape[0], 3, 3)
        c = self._apply(self._sphere_X, self._world_links(joints.new_zeros(joints.shape[0], 3), eye, joints))
        diff = c[:, self._pair_i] - c[:, self._pair_j]  # (B, M, 3)
        dist = torch.sqrt(diff.square().sum(-1) + 1e-12)
        return torch.relu(self._sphere_radii[self._pair_i] + self._sphere_radii[self._pair_j] - dist).sum(-1)

    def joint_limit_violation(self, joints: torch.Tensor) -> torch.Tensor:
        """Sum over joints (B,) of how far (rad) each is outside [lower, upper]; 0 inside."""
        self._check_joints(joints)
        return (torch.relu(self.lower - joints) + torch.relu(joints - self.upper)).sum(-1)

    def link_index(self, name: str) -> int:
        """Index of link ``name`` in ``link_names``."""
        if name not in self.link_names:
            raise KinematicsError(f"unknown hand link '{name}'; known: {known(self.link_names)}")
        return self.link_names.index(name)


_SHARED: LeapHandModel | None = None


def shared_hand_model() -> LeapHandModel:
    """One default ``LeapHandModel`` (float32, CPU) per process, built on first use (~25 ms: the URDF
    parse and the surface sampling), for callers that only read it (planning checks, markers)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = LeapHandModel()
    return _SHARED
