"""Sphere collision model of the xArm7 + LEAP Hand, checked against the table plane and a point cloud.

Spheres come from the URDF's collision primitives (``urdf/xarm7.urdf``: each sphere kept, each
cylinder covered by spheres of its radius along its axis) on links 1..7, plus a fixed set covering
the LEAP Hand (open hand: palm block and the finger region, in the hand root frame of
``ifgrasp.arm.mount``). ``link_base`` is left out: it is bolted to the table and never moves.
Frames: base (world, table top z = 0); metres.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from ifgrasp.arm import T_FLANGE_HAND, XARM7_URDF, Xarm7Kinematics
from ifgrasp.arm.chain import origin_transform

# LEAP Hand cover in the hand root frame (palm box x -0.100..0.002, y -0.095..0.025, z -0.0345..0.012,
# fingers along +x up to ~0.10 m past the palm when open; see ifgrasp.arm.mount): (x, y, z, r) metres.
_HAND_X = (-0.075, -0.025, 0.030, 0.080)
_HAND_Y = (-0.075, -0.035, 0.005)
HAND_SPHERES = np.array([(x, y, -0.012, 0.032) for x in _HAND_X for y in _HAND_Y])  # (12, 4)


def _link_spheres(urdf_path: Path, links: tuple[str, ...]) -> list[np.ndarray]:
    """Per link, (S, 4) spheres ``(x, y, z, r)`` in the link frame covering its collision primitives."""
    root = ET.parse(urdf_path).getroot()
    by_name = {link.get("name"): link for link in root.findall("link")}
    out = []
    for name in links:
        spheres = []
        for col in by_name[name].findall("collision"):
            T = origin_transform(col.find("origin"))
            geom = col.find("geometry")[0]
            r = float(geom.get("radius", "0"))
            if geom.tag == "sphere":
                spheres.append([*T[:3, 3], r])
            elif geom.tag == "cylinder":
                length = float(geom.get("length"))
                n = max(2, int(np.ceil(length / r)) + 1)  # spacing <= r: the union covers the cylinder's core
                s = np.linspace(-length / 2, length / 2, n)  # (n,)
                centres = T[:3, 3] + s[:, None] * T[:3, 2]  # cylinder axis = local z
                spheres.extend([*c, r] for c in centres)
        out.append(np.asarray(spheres, dtype=float).reshape(-1, 4))
    return out


class CollisionReport(NamedTuple):
    """Per configuration (B,): ``table`` / ``cloud`` bool hits; ``min_table_clearance_m`` and
    ``min_cloud_clearance_m`` (B,) smallest sphere-surface distance (inf when there is no cloud)."""

    table: np.ndarray
    cloud: np.ndarray
    min_table_clearance_m: np.ndarray
    min_cloud_clearance_m: np.ndarray

    @property
    def any(self) -> np.ndarray:
        return self.table | self.cloud


class ArmCollisionModel:
    """Spheres on the xArm7 links and the LEAP Hand, positioned by batched FK.

    ``sphere_centres(q)`` (B, 7) -> (B, S, 3) base frame; ``radii_m`` (S,).
    """

    def __init__(self, kin: Xarm7Kinematics | None = None, urdf_path: Path = XARM7_URDF,
                 hand_spheres: np.ndarray = HAND_SPHERES) -> None:
        self.kin = kin or Xarm7Kinematics(urdf_path)
        links = tuple(f"link{i}" for i in range(1, self.kin.dof + 1))
        per_link = _link_spheres(urdf_path, links)
        self._link_index = np.concatenate([np.full(len(s), i) for i, s in enumerate(per_link)])  # (Sa,)
        arm = np.concatenate(per_link)  # (Sa, 4) in each link's frame
        self._arm_local = np.concatenate([arm[:, :3], np.ones((len(arm), 1))], axis=1)  # (Sa, 4) homogeneous
        hand_flange = (T_FLANGE_HAND @ np.c_[hand_spheres[:, :3], np.ones(len(hand_spheres))].T).T  # (Sh, 4)
        self._hand_flange = hand_flange
        self.radii_m = np.concatenate([arm[:, 3], hand_spheres[:, 3]])  # (S,)
        self.num_arm_spheres = len(arm)

    def sphere_centres(self, q: np.ndarray) -> np.ndarray:
        """(B, 7) rad -> (B, S, 3) sphere centres in the base frame."""
        frames, T_flange = self.kin.joint_frames(q)  # (B, 7, 4, 4), (B, 4, 4)
        arm = np.einsum("bsij,sj->bsi", frames[:, self._link_index], self._arm_local)[..., :3]  # (B, Sa, 3)
        hand = np.einsum("bij,sj->bsi", T_flange, self._hand_flange)[..., :3]  # (B, Sh, 3)
        return np.concatenate([arm, hand], axis=1)

    def check(self, q: np.ndarray, obstacles: "CloudObstacle | None" = None, table_margin_m: float = 0.0,
              cloud_margin_m: float = 0.01, hand_only_cloud: bool = False) -> CollisionReport:
        """Collision of each configuration ``q`` (B, 7) with the table plane z = 0 and ``obstacles``.

        A sphere hits the table when its lowest point is below ``table_margin_m``; it hits the cloud
        when a point lies within its radius + ``cloud_margin_m``.
        """
        c = self.sphere_centres(q)  # (B, S, 3)
        table_clear = c[..., 2] - self.radii_m  # (B, S)
        min_table = table_clear.min(axis=1)
        cloud_clear = np.full(c.shape[:2], np.inf)  # (B, S)
        if obstacles is not None and obstacles.size > 0:
            cloud_clear = obstacles.distance(c) - self.radii_m
            if hand_only_cloud:
                cloud_clear[:, : self.num_arm_spheres] = np.inf
        min_cloud = cloud_clear.min(axis=1)
        return CollisionReport(min_table < table_margin_m, min_cloud < cloud_margin_m, min_table, min_cloud)


class CloudObstacle:
    """An observed point cloud (N, 3) in the base frame as an obstacle, with a KD-tree for distances.

    ``exclude_center_m`` / ``exclude_radius_m``: points within the ball are dropped (the target
    object around the grasp, which the hand is meant to touch). Points below ``min_height_m``
    (the table itself) are dropped too; the table is checked as a plane.
    """

    def __init__(self, points_m: np.ndarray, exclude_center_m: np.ndarray | None = None,
                 exclude_radius_m: float = 0.0, min_height_m: float = 0.005) -> None:
        pts = np.asarray(points_m, dtype=float).reshape(-1, 3)
        keep = pts[:, 2] >= min_height_m
        if exclude_center_m is not None and exclude_radius_m > 0:
            keep &= np.linalg.norm(pts - np.asarray(exclude_center_m, float), axis=1) > exclude_radius_m
        self.points_m = pts[keep]  # (M, 3)
        self._tree = cKDTree(self.points_m) if len(self.points_m) else None

    @property
    def size(self) -> int:
        return len(self.points_m)

    def near(self, centres_m: np.ndarray, radius_m: float) -> np.ndarray:
        """(K, 3) obstacle points within ``radius_m`` of any of ``centres_m`` (C, 3)."""
        if self._tree is None:
            return np.zeros((0, 3))
        idx = self._tree.query_ball_point(np.asarray(centres_m, float).reshape(-1, 3), radius_m)
        return self.points_m[np.unique(np.concatenate([np.asarray(i, int) for i in idx]))]

    def distance(self, centres: np.ndarray) -> np.ndarray:
        """(..., 3) query points -> (...) distance to the nearest obstacle point (inf when empty)."""
        if self._tree is None:
            return np.full(centres.shape[:-1], np.inf)
        d, _ = self._tree.query(centres.reshape(-1, 3), k=1)
        return d.reshape(centres.shape[:-1])


#: No part of the LEAP Hand lies farther than this from its root frame (it is ~0.2 m long), m.
HAND_REACH_M = 0.25


def hand_box_distance_m(points_m: np.ndarray, T_hand: np.ndarray, q_hand_rad: np.ndarray) -> np.ndarray:
    """(M, K) distance (m, < 0 inside) of points (M, K, 3) to the LEAP Hand's collision boxes
    (``LeapHandModel.signed_distance``, the boxes MuJoCo and the judge use) with the hand root at
    ``T_hand`` (M, 4, 4) and its joints at ``q_hand_rad`` (M, 16): pose m against its own K points, all
    in one frame."""
    import torch

    from ifgrasp.hand.model import shared_hand_model

    T = np.asarray(T_hand, float)
    f32 = dict(dtype=torch.float32)
    with torch.no_grad():
        sd = shared_hand_model().signed_distance(torch.as_tensor(points_m, **f32), torch.as_tensor(T[:, :3, 3], **f32),
                                                 torch.as_tensor(T[:, :3, :3], **f32),
                                                 torch.as_tensor(q_hand_rad, **f32))
    return sd.numpy()


def hand_clearance_m(points_base_m: np.ndarray, T_base_hand: np.ndarray, q_hand_rad: np.ndarray,
                     reach_m: float = HAND_REACH_M) -> np.ndarray:
    """(N,) distance (m, < 0 inside) of base-frame points (N, 3) to the LEAP Hand's collision boxes
    (:func:`hand_box_distance_m`) with the hand root at ``T_base_hand`` (4, 4) and its joints at
    ``q_hand_rad`` (16,); inf for points farther than ``reach_m`` from the hand root."""
    pts = np.asarray(points_base_m, float).reshape(-1, 3)
    T = np.asarray(T_base_hand, float).reshape(4, 4)
    out = np.full(len(pts), np.inf)
    near = np.linalg.norm(pts - T[:3, 3], axis=1) < reach_m
    if not near.any():
        return out
    out[near] = hand_box_distance_m(pts[near][None], T[None], np.asarray(q_hand_rad, float).reshape(1, 16))[0]
    return out


class SelfCollision:
    """The robot against itself, with its own collision geometry: the combined xArm7 + LEAP URDF
    (``ifgrasp.arm.compose.COMBINED_URDF``) compiled by MuJoCo (meshes as convex hulls, the
    geometry the simulator uses). A configuration collides when an arm link comes within
    ``margin_m`` of another link that is not its parent or child, or of the hand. Contacts among
    the hand's own links are left out (fingers meet in a grasp); the hand is posed flat (joints 0).
    The arm's sphere model covers links generously and overlaps between neighbours, so it cannot
    tell a wrist folded onto the forearm (joint6 at its limit) from an ordinary pose."""

    def __init__(self, urdf_path: Path | None = None, margin_m: float = 0.0) -> None:
        import mujoco

        from ifgrasp.arm.compose import COMBINED_URDF

        self._mj = mujoco
        self.model = mujoco.MjModel.from_xml_path(str(urdf_path or COMBINED_URDF))
        self.model.geom_margin[:] = margin_m
        self.data = mujoco.MjData(self.model)
        m = self.model
        self._arm_qpos = np.array([m.jnt_qposadr[m.joint(f"joint{i}").id] for i in range(1, 8)])
        names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, i) or "" for i in range(m.nbody)]
        self.body_names = names
        arm_bodies = np.array([n.startswith("link") for n in names])  # link_base, link1..7, link_eef
        self._arm_geom = arm_bodies[m.geom_bodyid]  # (G,)

    def contacts(self, q: np.ndarray) -> list[list[tuple[str, str]]]:
        """Per configuration of ``q`` (M, 7) rad, its (body, body) contacts that involve an arm link."""
        m, d, mj = self.model, self.data, self._mj
        out = []
        for qi in np.asarray(q, float).reshape(-1, 7):
            d.qpos[:] = 0.0
            d.qpos[self._arm_qpos] = qi
            mj.mj_fwdPosition(m, d)
            hits = []
            for c in d.contact[: d.ncon]:
                if self._arm_geom[c.geom1] or self._arm_geom[c.geom2]:
                    hits.append((self.body_names[m.geom_bodyid[c.geom1]], self.body_names[m.geom_bodyid[c.geom2]]))
            out.append(hits)
        return out

    def collides(self, q: np.ndarray) -> np.ndarray:
        """(M, 7) rad -> (M,) True where the arm touches itself or the hand."""
        return np.array([bool(h) for h in self.contacts(q)], dtype=bool)
