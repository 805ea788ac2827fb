"""Batched forward kinematics, geometric Jacobian and IK of the xArm7 (numpy, float64).

Frames: ``base`` = ``link_base`` (the world frame, REP-103, on the table plane z = 0);
``flange`` = ``link_eef`` (z out of the tool flange face); ``hand`` = the LEAP Hand's root
link, ``T_flange_hand = T_FLANGE_HAND`` (see ``ifgrasp.arm.mount``). Metres, radians.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ifgrasp.arm.chain import SerialChain
from ifgrasp.arm.ik import IKResult, solve_ik
from ifgrasp.arm.mount import T_FLANGE_HAND
from ifgrasp.errors import InputError, KinematicsError
from ifgrasp.geometry import invert_transform
from ifgrasp.paths import URDF_DIR

if TYPE_CHECKING:  # pragma: no cover
    from ifgrasp.arm.torch_fk import TorchArmFK

XARM7_URDF = URDF_DIR / "xarm7.urdf"


def _skew(v: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3) cross-product matrices."""
    x, y, z = np.moveaxis(v, -1, 0)
    o = np.zeros_like(x)
    return np.stack([np.stack([o, -z, y], -1), np.stack([z, o, -x], -1), np.stack([-y, x, o], -1)], -2)


class Xarm7Kinematics:
    """xArm7 kinematics read from ``urdf/xarm7.urdf``, batched over configurations.

    ``q`` is always (B, 7) in ``joint_names`` order (radians); a (7,) vector is accepted and
    treated as B = 1. Transforms are (B, 4, 4) float64.
    """

    def __init__(self, urdf_path: str | Path = XARM7_URDF, base_link: str = "link_base", tip_link: str = "link_eef"):
        self.chain = SerialChain.from_urdf(urdf_path, base_link, tip_link)
        self.joint_names: tuple[str, ...] = self.chain.joint_names
        self.lower: np.ndarray = self.chain.lower  # (7,) rad
        self.upper: np.ndarray = self.chain.upper  # (7,) rad
        self.velocity_limits: np.ndarray = self.chain.velocity  # (7,) rad/s
        self.effort_limits: np.ndarray = self.chain.effort  # (7,) N m
        self.dof = len(self.joint_names)
        self._K = _skew(self.chain.axis)  # (7, 3, 3)
        self._K2 = self._K @ self._K  # (7, 3, 3)

    # ------------------------------------------------------------------ forward kinematics
    def _as_batch(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=float)
        if q.ndim == 1:
            q = q[None]
        if q.ndim != 2 or q.shape[1] != self.dof:
            raise InputError(f"q must have shape (B, {self.dof}) in order {self.joint_names}; got {q.shape}")
        return q

    def joint_frames(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frames of every joint's child link and of the tip.

        Returns ``T_base_link`` (B, 7, 4, 4) (frame of link i+1, whose z is joint i+1's axis for
        the xArm7) and ``T_base_flange`` (B, 4, 4).
        """
        q = self._as_batch(q)  # (B, 7)
        s, c = np.sin(q)[..., None, None], np.cos(q)[..., None, None]
        R = np.eye(3) + s * self._K + (1.0 - c) * self._K2  # (B, 7, 3, 3) Rodrigues
        local = np.repeat(self.chain.T_parent_joint[None], len(q), axis=0)  # (B, 7, 4, 4)
        local[..., :3, :3] = local[..., :3, :3] @ R
        frames = np.empty_like(local)
        T = local[:, 0]
        frames[:, 0] = T
        for i in range(1, self.dof):  # loop over the 7 joints, not over the batch
            T = T @ local[:, i]
            frames[:, i] = T
        return frames, T @ self.chain.T_last_tip

    def fk(self, q: np.ndarray) -> np.ndarray:
        """``T_base_flange`` (B, 4, 4) for ``q`` (B, 7) rad."""
        return self.joint_frames(q)[1]

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        """Geometric Jacobian of the flange in the base frame, rows ``[v; w]``: (B, 6, 7).

        ``v`` is the flange origin's linear velocity (m/s) and ``w`` the angular velocity (rad/s),
        both in base-frame coordinates, per unit joint velocity (rad/s).
        """
        return self.fk_jacobian(q)[1]

    def fk_jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``T_base_flange`` (B, 4, 4) and the Jacobian (B, 6, 7) from one pass over the chain."""
        frames, T_tip = self.joint_frames(q)
        z = np.einsum("bjik,jk->bji", frames[..., :3, :3], self.chain.axis)  # (B, 7, 3)
        r = T_tip[:, None, :3, 3] - frames[..., :3, 3]  # (B, 7, 3)
        return T_tip, np.concatenate([np.cross(z, r), z], axis=-1).transpose(0, 2, 1)  # (B, 6, 7)

    def torch_fk(self) -> "TorchArmFK":
        """A differentiable torch module for the same chain: ``q`` (B, 7) -> ``T_base_flange`` (B, 4, 4)."""
        from ifgrasp.arm.torch_fk import TorchArmFK  # torch only when asked for

        return TorchArmFK(self.chain)

    def fk_hand(self, q: np.ndarray) -> np.ndarray:
        """``T_base_hand`` (B, 4, 4): the LEAP Hand root frame through ``T_FLANGE_HAND``."""
        return self.fk(q) @ T_FLANGE_HAND

    # ------------------------------------------------------------------ inverse kinematics
    def within_limits(self, q: np.ndarray, tol: float = 0.0) -> np.ndarray:
        """(B,) bool: every joint inside ``[lower - tol, upper + tol]``."""
        q = self._as_batch(q)
        return np.all((q >= self.lower - tol) & (q <= self.upper + tol), axis=-1)

    def ik(
        self,
        T_base_target: np.ndarray,
        q_seed: np.ndarray | None = None,
        num_seeds: int = 4,
        pos_tol_m: float = 1e-3,
        rot_tol_rad: float = 1e-2,
        max_iters: int = 60,
        max_rounds: int = 6,
        seed: int = 0,
    ) -> IKResult:
        """Flange IK for targets ``T_base_target`` (B, 4, 4); see ``ifgrasp.arm.ik.solve_ik``.

        ``q_seed`` (B, 7) or (7,): first seed and the configuration the answer should stay close
        to (default: the zero configuration). Never returns a configuration outside limits.
        """
        T = np.asarray(T_base_target, dtype=float)
        if T.ndim == 2:
            T = T[None]
        if T.shape[1:] != (4, 4):
            raise InputError(f"T_base_target must be (B, 4, 4); got {T.shape}")
        return solve_ik(self, T, q_seed, num_seeds, pos_tol_m, rot_tol_rad, max_iters, max_rounds, seed)

    def ik_hand(self, T_base_hand: np.ndarray, **kwargs) -> IKResult:
        """IK for the hand root frame: ``T_base_flange = T_base_hand @ inv(T_FLANGE_HAND)``."""
        T = np.asarray(T_base_hand, dtype=float)
        return self.ik(T @ invert_transform(T_FLANGE_HAND), **kwargs)

    def solve_or_raise(self, T_base_target: np.ndarray, **kwargs) -> np.ndarray:
        """Like ``ik`` but returns ``q`` (B, 7) and raises ``KinematicsError`` on any failure."""
        res = self.ik(T_base_target, **kwargs)
        if not np.all(res.success):
            bad = np.flatnonzero(~res.success)
            i = bad[0]
            T = np.asarray(T_base_target, dtype=float).reshape(-1, 4, 4)[i]
            raise KinematicsError(
                f"IK failed for {len(bad)} of {len(res.success)} targets; first: target {i} at "
                f"{np.round(T[:3, 3], 4).tolist()} m, best position error {res.pos_err_m[i]:.4f} m "
                f"(tol {kwargs.get('pos_tol_m', 1e-3)}), orientation error {res.rot_err_rad[i]:.4f} rad "
                f"(tol {kwargs.get('rot_tol_rad', 1e-2)}); the pose may be out of reach"
            )
        return res.q
