"""Grasp poses -> arm motions: pre-grasp, grasp and lift configurations by IK, collision-checked
straight joint-space segments, time-parametrised within the arm's limits.

Hand frame (``ifgrasp.arm.mount``): the palm faces the hand's -z, so a grasp is approached along
-z of the hand; the pre-grasp is the grasp pose moved ``pregrasp_offset_m`` back along +z_hand.
The lift pose is the grasp pose raised ``lift_height_m`` along the base +z. Base frame, metres, rad.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field

from ifgrasp.arm import Xarm7Kinematics
from ifgrasp.config import Config
from ifgrasp.errors import InputError, KinematicsError
from ifgrasp.planning.collision import (HAND_REACH_M, ArmCollisionModel, CloudObstacle, SelfCollision,
                                       hand_box_distance_m)
from ifgrasp.planning.trajectory import JointTrajectory, densify, time_parametrize


class UnreachableGraspError(KinematicsError):
    """No grasp candidate has IK solutions for its pre-grasp, grasp and lift poses."""


class CollisionError(KinematicsError):
    """Every reachable grasp candidate collides with the table, the observed cloud or the robot itself."""


class PlannerConfig(Config):
    """Motion planning settings (``config/planning.yaml``)."""

    pregrasp_offset_m: float = Field(0.10, gt=0, description="back-off along the approach before the grasp")
    lift_height_m: float = Field(0.12, gt=0, description="default lift above the grasp, base +z")
    velocity_scale: float = Field(0.5, gt=0, le=1.0, description="fraction of the URDF velocity limits")
    acceleration_rad_s2: float = Field(2.0, gt=0, description="per-joint acceleration limit")
    dt_s: float = Field(0.02, gt=0, le=0.1, description="trajectory sample period")
    ik_seeds: int = Field(8, gt=0, description="IK seeds per target (the first is the current q)")
    ik_pos_tol_m: float = Field(0.003, gt=0, description="IK position tolerance")
    ik_rot_tol_rad: float = Field(0.03, gt=0, description="IK orientation tolerance")
    check_step_rad: float = Field(0.05, gt=0, description="collision check spacing along a segment")
    table_margin_m: float = Field(0.005, description="spheres must stay this far above the table top")
    cloud_margin_m: float = Field(0.01, ge=0, description="spheres must stay this far from cloud points")
    exclude_radius_m: float = Field(0.0, ge=0, description="cloud points this close to the grasp are "
                                    "dropped as the target itself (0: the scene cloud already leaves the target "
                                    "out, as PerceiveStage's does; a ball would also drop a close neighbour)")
    max_candidates: int = Field(16, gt=0, description="grasp candidates tried, best first")
    hand_cloud_margin_m: float = Field(0.005, ge=0, description="the hand's collision boxes (pre-shaped on the way "
                                       "from pre-grasp to grasp, squeezed shut at the grasp) must stay this far from "
                                       "the other objects' points")
    fill_below_step_m: float = Field(0.0, ge=0, description="obstacle points are repeated every this much "
                                     "down to the table: a camera sees an object's top and near side only, and "
                                     "what is under a seen surface counts as occupied (0: off)")
    hand_path_samples: int = Field(8, ge=2, description="hand poses checked per approach segment, at least")
    hand_path_step_m: float = Field(0.01, gt=0, description="the hand's points move at most this much between "
                                    "checked poses along the approach")
    self_filter_margin_m: float = Field(0.03, ge=0, description="cloud points this close to the robot's own "
                                        "spheres at the current configuration are the robot, not obstacles")
    self_collision_margin_m: float = Field(0.002, ge=0, description="arm links must stay this far from each "
                                           "other and from the hand along the approach and the lift "
                                           "(the robot's own URDF collision geometry; planning.collision.SelfCollision)")


@dataclass
class GraspPlan:
    """A planned grasp. ``approach``: current -> pre-grasp -> grasp; ``lift``: grasp -> lift.

    ``candidate``: index into the candidate batch; ``q_pregrasp``/``q_grasp``/``q_lift`` (7,) rad;
    ``T_base_hand`` (4, 4) the grasp pose; ``hand_joints_rad`` (16,) the grasp's finger joints.
    """

    approach: JointTrajectory
    lift: JointTrajectory
    candidate: int
    q_pregrasp: np.ndarray
    q_grasp: np.ndarray
    q_lift: np.ndarray
    T_base_hand: np.ndarray
    hand_joints_rad: np.ndarray


def grasp_poses(T_base_hand: np.ndarray, pregrasp_offset_m: float, lift_height_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(B, 4, 4) grasp poses -> pre-grasp and lift poses, each (B, 4, 4)."""
    pre = T_base_hand.copy()
    pre[:, :3, 3] += pregrasp_offset_m * T_base_hand[:, :3, 2]  # back along +z_hand (palm faces -z)
    lift = T_base_hand.copy()
    lift[:, 2, 3] += lift_height_m
    return pre, lift


def fill_below(points_m: np.ndarray, step_m: float, min_height_m: float = 0.005) -> np.ndarray:
    """(N, 3) base-frame points plus copies every ``step_m`` straight down to ``min_height_m``: the
    volume under an observed surface, where the camera cannot see (the far sides of objects)."""
    pts = np.asarray(points_m, dtype=float).reshape(-1, 3)
    if step_m <= 0 or not len(pts):
        return pts
    k = np.floor((pts[:, 2] - min_height_m) / step_m).astype(int).clip(0)  # (N,) copies below each point
    idx = np.repeat(np.arange(len(pts)), k)
    depth = np.concatenate([np.arange(1, n + 1) for n in k]) * step_m if len(idx) else np.zeros(0)
    below = pts[idx] - np.c_[np.zeros((len(idx), 2)), depth]
    return np.concatenate([pts, below])


class GraspPlanner:
    """Plans the arm motions of a grasp from candidates in the base frame."""

    def __init__(self, config: PlannerConfig | None = None, kin: Xarm7Kinematics | None = None) -> None:
        self.config = config or PlannerConfig()
        self.kin = kin or Xarm7Kinematics()
        self.collision = ArmCollisionModel(self.kin)
        self.v_max = self.kin.velocity_limits * self.config.velocity_scale  # (7,) rad/s
        self.a_max = np.full(self.kin.dof, self.config.acceleration_rad_s2)  # (7,) rad/s^2

    def _ik(self, T: np.ndarray, q_seed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = self.config
        res = self.kin.ik_hand(T, q_seed=q_seed, num_seeds=c.ik_seeds, pos_tol_m=c.ik_pos_tol_m,
                               rot_tol_rad=c.ik_rot_tol_rad)
        return res.q, res.success

    def trajectory(self, waypoints: np.ndarray) -> JointTrajectory:
        """Time-parametrised straight segments through ``waypoints`` (W, 7) within the limits."""
        return time_parametrize(waypoints, self.v_max, self.a_max, self.config.dt_s, self.kin.joint_names)

    def path_collides(self, waypoints: np.ndarray, obstacles: CloudObstacle | None, hand_only_cloud: bool = False) -> bool:
        q = densify(waypoints, self.config.check_step_rad)  # (M, 7)
        rep = self.collision.check(q, obstacles, self.config.table_margin_m, self.config.cloud_margin_m,
                                   hand_only_cloud)
        return bool(rep.any.any())

    def hand_collides(self, waypoints: np.ndarray, hand_joints_rad: np.ndarray,
                      obstacles: CloudObstacle | None) -> bool:
        """The LEAP Hand's own collision boxes (``ifgrasp.hand.LeapHandModel.signed_distance``, the
        boxes MuJoCo and the judge use) against the cloud: pre-shaped at the poses of ``_hand_path``
        along the approach ``waypoints`` (W, 7) (the pre-shape runs from its start), then closed to
        the squeeze at the last one (the fingers sweep there). True when a
        cloud point lies within ``hand_cloud_margin_m`` of a box. The arm's sphere model covers only
        a flat hand; curled fingers reach past it."""
        if obstacles is None or obstacles.size == 0:
            return False
        from ifgrasp.hand.joints import pregrasp, squeezed

        q_arm = self._hand_path(np.asarray(waypoints, float))
        T = self.kin.fk_hand(q_arm)  # (M, 4, 4)
        near = obstacles.near(T[:, :3, 3], HAND_REACH_M)  # (N, 3) only points the hand can reach
        if not len(near):
            return False
        # per pose, its own reachable points, padded with a far point: (M, K, 3), K <= N
        reach = np.linalg.norm(near[None] - T[:, None, :3, 3], axis=-1) < HAND_REACH_M  # (M, N)
        keep = reach.any(axis=0)
        near, reach = near[keep], reach[:, keep]
        k = int(reach.sum(axis=1).max())
        order = np.argsort(~reach, axis=1, kind="stable")[:, :k]  # reachable points first
        pts = np.where(np.take_along_axis(reach, order, 1)[..., None], near[order], T[:, None, :3, 3] + 10.0)
        q = np.repeat(pregrasp(hand_joints_rad)[None], len(T), axis=0)
        q[-1] = squeezed(hand_joints_rad)
        return bool((hand_box_distance_m(pts, T, q) < self.config.hand_cloud_margin_m).any())

    def _hand_path(self, wp: np.ndarray) -> np.ndarray:
        """Configurations (M, 7) along the straight joint segments through ``wp`` (W, 7), path order,
        ending at ``wp[-1]``: per segment at least ``hand_path_samples``, and close enough that the
        hand's points (up to ``HAND_REACH_M`` from its root) move at most ``hand_path_step_m``."""
        c, out = self.config, []
        fine = np.linspace(0.0, 1.0, 33)[:, None]
        for qa, qb in zip(wp[:-1], wp[1:]):
            T = self.kin.fk_hand(qa + fine * (qb - qa))  # (33, 4, 4)
            turn = np.arccos(np.clip((np.einsum("nij,nij->n", T[1:, :3, :3], T[:-1, :3, :3]) - 1) / 2, -1, 1))
            travel = np.linalg.norm(np.diff(T[:, :3, 3], axis=0), axis=1) + HAND_REACH_M * turn  # (32,) m
            n = max(c.hand_path_samples, int(np.ceil(travel.sum() / c.hand_path_step_m)) + 1)
            out.append(qa + np.linspace(0.0, 1.0, n)[:-1, None] * (qb - qa))
        return np.concatenate([*out, wp[-1:]])

    def self_collides(self, waypoints: np.ndarray) -> bool:
        """True when the arm touches itself or the hand anywhere on the straight joint segments
        through ``waypoints`` (W, 7), checked every ``check_step_rad``."""
        if getattr(self, "_self_collision", None) is None:
            self._self_collision = SelfCollision(margin_m=self.config.self_collision_margin_m)
        return bool(self._self_collision.collides(densify(waypoints, self.config.check_step_rad)).any())

    def self_filter(self, q: np.ndarray, cloud_base_m: np.ndarray) -> np.ndarray:
        """(N, 3) -> (M, 3): drop points the robot itself produced (inside its spheres at ``q`` (7,)
        grown by ``self_filter_margin_m``); a camera sees the arm too."""
        pts = np.asarray(cloud_base_m, dtype=float).reshape(-1, 3)
        centres = self.collision.sphere_centres(q)[0]  # (S, 3)
        d = np.linalg.norm(pts[:, None, :] - centres[None], axis=-1) - self.collision.radii_m  # (N, S)
        return pts[d.min(axis=1) > self.config.self_filter_margin_m]

    def plan(self, q_current: np.ndarray, T_base_hand: np.ndarray, hand_joints_rad: np.ndarray,
             cloud_base_m: np.ndarray | None = None, lift_height_m: float | None = None) -> GraspPlan:
        """Plan the first feasible candidate, best first.

        ``q_current`` (7,) rad; ``T_base_hand`` (B, 4, 4) grasp poses of the hand root frame, best
        first; ``hand_joints_rad`` (B, 16); ``cloud_base_m`` (N, 3) observed points (scene), base frame.
        Raises ``UnreachableGraspError`` when no candidate is reachable and ``CollisionError`` when
        every reachable one collides.
        """
        c = self.config
        q0 = np.asarray(q_current, dtype=float).reshape(-1)
        T = np.asarray(T_base_hand, dtype=float).reshape(-1, 4, 4)[: c.max_candidates]
        if len(T) == 0:
            raise InputError("no grasp candidates to plan")
        if not self.kin.within_limits(q0, tol=1e-6)[0]:
            raise KinematicsError(f"current configuration {np.round(q0, 3).tolist()} is outside the joint limits")
        lift_h = c.lift_height_m if lift_height_m is None or lift_height_m <= 0 else lift_height_m
        T_pre, T_lift = grasp_poses(T, c.pregrasp_offset_m, lift_h)
        B = len(T)
        q_grasp, ok_g = self._ik(T, q0)  # (B, 7): nearest to the current configuration
        q_pl, ok_pl = self._ik(np.concatenate([T_pre, T_lift]), np.concatenate([q_grasp, q_grasp]))
        q_pre, q_lift = q_pl[:B], q_pl[B:]
        reachable = ok_g & ok_pl[:B] & ok_pl[B:]  # (B,)
        if not reachable.any():
            raise UnreachableGraspError(
                f"none of {B} grasp candidates is reachable (IK found grasp {int(ok_g.sum())}, pre-grasp "
                f"{int(ok_pl[:B].sum())}, lift {int(ok_pl[B:].sum())} of {B}); nearest grasp at "
                f"{np.round(T[0, :3, 3], 3).tolist()} m in the base frame")
        if cloud_base_m is not None:
            cloud_base_m = fill_below(self.self_filter(q0, cloud_base_m), c.fill_below_step_m)
        reasons = []
        for i in np.flatnonzero(reachable):
            obst = None
            if cloud_base_m is not None:
                obst = CloudObstacle(cloud_base_m, T[i, :3, 3], c.exclude_radius_m)
            # every segment against the table and the other objects (the scene cloud leaves the
            # target out: the hand reaches it at the grasp, and carries it in the lift)
            if self.path_collides(np.stack([q0, q_pre[i]]), obst):
                reasons.append(f"{i}: approach to pre-grasp")
                continue
            if self.path_collides(np.stack([q_pre[i], q_grasp[i]]), obst):
                reasons.append(f"{i}: pre-grasp to grasp")
                continue
            if self.path_collides(np.stack([q_grasp[i], q_lift[i]]), obst):
                reasons.append(f"{i}: lift")
                continue
            if self.self_collides(np.stack([q0, q_pre[i], q_grasp[i], q_lift[i]])):
                reasons.append(f"{i}: arm against itself")
                continue
            hand_joints = np.asarray(hand_joints_rad, float).reshape(-1, 16)[i]
            if self.hand_collides(np.stack([q0, q_pre[i], q_grasp[i]]), hand_joints, obst):
                reasons.append(f"{i}: fingers near another object")
                continue
            return GraspPlan(
                approach=self.trajectory(np.stack([q0, q_pre[i], q_grasp[i]])),
                lift=self.trajectory(np.stack([q_grasp[i], q_lift[i]])),
                candidate=int(i), q_pregrasp=q_pre[i], q_grasp=q_grasp[i], q_lift=q_lift[i],
                T_base_hand=T[i], hand_joints_rad=np.asarray(hand_joints_rad, float).reshape(-1, 16)[i])
        raise CollisionError(f"all {int(reachable.sum())} reachable grasp candidates collide with the table, "
                             f"the observed cloud or the robot itself (candidate: segment): {'; '.join(reasons[:6])}")
