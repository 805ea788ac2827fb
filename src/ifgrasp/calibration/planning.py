"""Arm poses for the hand-eye calibration that show the flange's board to the fixed camera.

Board poses are drawn in the camera's view (a pixel and a distance for the board centre, the board
facing the camera, then tilted and turned), mapped to flange poses through the nominal mount, and
kept when the IK reaches them, no arm sphere or board corner comes near the table, every board
corner projects inside the image and no arm sphere crosses a line of sight from the camera to the
board. Of the survivors, farthest-point sampling over orientation and position picks a varied
set, visited in nearest-neighbour order from the start joints over straight joint moves that stay
clear of the table (and back). Base frame, metres, radians.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.spatial.transform import Rotation

from ifgrasp.arm import Xarm7Kinematics
from ifgrasp.calibration.config import CalibrationConfig
from ifgrasp.calibration.handeye import CalibrationError, check_motion
from ifgrasp.geometry import invert_transform
from ifgrasp.planning import densify
from ifgrasp.planning.collision import ArmCollisionModel
from ifgrasp.types import CameraIntrinsics


class PosePlan(NamedTuple):
    """``q`` (N, 7) joint targets, rad, in visiting order; ``T_base_board`` (N, 4, 4) nominal board
    poses; ``n_feasible`` how many of the drawn candidates passed every check."""

    q: np.ndarray
    T_base_board: np.ndarray
    n_feasible: int


def _facing(T_base_camera: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(M, 3, 3): board z along the camera-to-centre ray (away from the camera), x near camera x."""
    z = centres - T_base_camera[:3, 3]
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    cx = T_base_camera[:3, 0]
    x = cx - (z @ cx)[:, None] * z
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.stack([x, np.cross(z, x), z], axis=-1)


def _project(T_camera_points: np.ndarray, pts_base: np.ndarray, k: CameraIntrinsics) -> np.ndarray:
    """(M, P, 3) base points -> (M, P, 3) (u, v, depth)."""
    p = np.einsum("ij,mpj->mpi", T_camera_points[:3, :3], pts_base) + T_camera_points[:3, 3]
    z = p[..., 2]
    return np.stack([k.fx * p[..., 0] / z + k.cx, k.fy * p[..., 1] / z + k.cy, z], axis=-1)


def _segment_clearance(a: np.ndarray, b: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Smallest (distance - radius) between segments a (3,) -> b (M, P, 3) and spheres (M, S, 3), (M,)."""
    d = b - a  # (M, P, 3)
    rel = centres[:, None] - a  # (M, 1, S, 3)
    s = np.einsum("mpsk,mpk->mps", np.broadcast_to(rel, (*d.shape[:2], *centres.shape[1:])), d)
    s = np.clip(s / np.einsum("mpk,mpk->mp", d, d)[..., None], 0.0, 0.97)  # stop short of the board
    closest = a + s[..., None] * d[:, :, None]  # (M, P, S, 3)
    dist = np.linalg.norm(closest - centres[:, None], axis=-1) - radii  # (M, P, S)
    return dist.min(axis=(1, 2))


def _move_clear(collision: ArmCollisionModel, q0: np.ndarray, q1: np.ndarray, margin_m: float) -> bool:
    """The straight joint move q0 -> q1 keeps every arm and hand sphere ``margin_m`` above the table."""
    return not collision.check(densify(np.stack([q0, q1]), 0.05), table_margin_m=margin_m).table.any()


def plan_poses(T_base_camera: np.ndarray, intrinsics: CameraIntrinsics, cfg: CalibrationConfig,
               q_start: np.ndarray, kin: Xarm7Kinematics | None = None,
               collision: ArmCollisionModel | None = None) -> PosePlan:
    """``cfg.plan.n_poses`` reachable, collision-free joint configurations showing the board.

    ``T_base_camera`` is the current estimate (the perception config's; a guess to a few cm and
    degrees is enough). Raises ``CalibrationError`` naming the failing check when fewer than
    ``cfg.min_poses`` candidates survive."""
    p, k = cfg.plan, intrinsics
    kin = kin or Xarm7Kinematics()
    collision = collision or ArmCollisionModel(kin)
    rng = np.random.default_rng(p.seed)
    M = p.candidates
    w, h = cfg.board.size_m
    T_fb = cfg.mount.T_flange_board(cfg.board)
    T_cam_base = invert_transform(T_base_camera)

    # board centres: a pixel in the inner image and a distance along its ray
    mu, mv = 0.25 * k.width, 0.25 * k.height
    uv = np.c_[rng.uniform(mu, k.width - mu, M), rng.uniform(mv, k.height - mv, M)]
    dist = rng.uniform(*p.distance_m, M)
    rays = np.c_[(uv[:, 0] - k.cx) / k.fx, (uv[:, 1] - k.cy) / k.fy, np.ones(M)]
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    centres = T_base_camera[:3, :3] @ (rays * dist[:, None]).T
    centres = centres.T + T_base_camera[:3, 3]  # (M, 3)

    # orientation: facing the camera, turned in plane, tilted about a random in-plane axis
    phi = rng.uniform(0, 2 * np.pi, M)
    tilt = np.radians(rng.uniform(*p.tilt_deg, M))
    roll = np.radians(rng.uniform(-p.roll_deg, p.roll_deg, M))
    R_tilt = Rotation.from_rotvec(np.c_[np.cos(phi), np.sin(phi), np.zeros(M)] * tilt[:, None])
    R = _facing(T_base_camera, centres) @ (Rotation.from_rotvec(np.c_[np.zeros((M, 2)), roll]) * R_tilt).as_matrix()
    T_bb = np.tile(np.eye(4), (M, 1, 1))
    T_bb[:, :3, :3] = R
    T_bb[:, :3, 3] = centres - R @ np.array([w / 2, h / 2, 0.0])

    corners_board = np.array([[0, 0, 0, 1], [w, 0, 0, 1], [w, h, 0, 1], [0, h, 0, 1]], float)  # (4, 4)
    corners = np.einsum("mij,pj->mpi", T_bb, corners_board)[..., :3]  # (M, 4, 3)
    checks = {}
    uvz = _project(T_cam_base, corners, k)
    mx, my = p.image_margin * k.width, p.image_margin * k.height
    checks["board inside the image"] = ((uvz[..., 0] > mx) & (uvz[..., 0] < k.width - mx) & (uvz[..., 1] > my)
                                        & (uvz[..., 1] < k.height - my) & (uvz[..., 2] > 0.1)).all(axis=1)
    checks["board above the table"] = corners[..., 2].min(axis=1) > p.table_margin_m

    T_bf = T_bb @ invert_transform(T_fb)[None]
    ik = kin.ik(T_bf, q_seed=q_start, num_seeds=4, max_rounds=2)
    checks["reachable (IK)"] = ik.success
    rep = collision.check(ik.q, table_margin_m=p.table_margin_m)
    checks["arm clear of the table"] = ~rep.table
    spheres = collision.sphere_centres(ik.q)  # (M, S, 3)
    targets = np.concatenate([corners, centres[:, None]], axis=1)  # (M, 5, 3)
    clear = _segment_clearance(T_base_camera[:3, 3], targets, spheres, collision.radii_m)
    checks["line of sight"] = clear > p.line_of_sight_m

    ok = np.logical_and.reduce(list(checks.values()))
    n_ok = int(ok.sum())
    if n_ok < max(cfg.min_poses, 1):
        stats = ", ".join(f"{name} {int(v.sum())}" for name, v in checks.items())
        raise CalibrationError(
            f"only {n_ok} of {M} candidate board poses are usable, need {cfg.min_poses} ({stats} passed): "
            "check the camera pose guess (T_base_camera), the board mount and the distance range")
    idx = np.flatnonzero(ok)

    # farthest-point ranking over (orientation, position): 0.1 m counts like 0.35 rad (20 deg)
    feat = np.c_[Rotation.from_matrix(R[idx]).as_rotvec(), centres[idx] * 3.5]
    start = int(np.argmin(np.linalg.norm(ik.q[idx] - q_start, axis=1)))
    rank = [start]
    d = np.linalg.norm(feat - feat[start], axis=1)
    for _ in range(len(idx) - 1):
        nxt = int(np.argmax(d))
        rank.append(nxt)
        d = np.minimum(d, np.linalg.norm(feat - feat[nxt], axis=1))
    # visiting order: nearest neighbour in joint space from q_start over straight joint moves that
    # keep the arm off the table; a pose no clear move reaches waits, and the next-ranked one joins
    home = np.asarray(q_start, float)
    pool, spare = rank[: p.n_poses], rank[p.n_poses:]
    order, cur = [], home
    while len(order) < p.n_poses and (pool or spare):
        near = sorted(pool, key=lambda c: np.linalg.norm(ik.q[idx[c]] - cur))
        nxt = next((c for c in near if _move_clear(collision, cur, ik.q[idx[c]], p.move_margin_m)), None)
        if nxt is None:
            if not spare:
                break
            pool.append(spare.pop(0))
            continue
        order.append(nxt)
        pool.remove(nxt)
        cur = ik.q[idx[nxt]]
    while order and not _move_clear(collision, cur, home, p.move_margin_m):  # and the way back home
        order.pop()
        cur = ik.q[idx[order[-1]]] if order else home
    if len(order) < cfg.min_poses:
        raise CalibrationError(
            f"only {len(order)} poses are reachable by straight joint moves clear of the table, need "
            f"{cfg.min_poses}: start from a pose higher above the table or lower plan.move_margin_m")
    sel = idx[order]
    check_motion(T_bf[sel])
    return PosePlan(ik.q[sel], T_bb[sel], n_ok)
