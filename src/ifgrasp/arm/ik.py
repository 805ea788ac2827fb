"""Batched multi-seed inverse kinematics for a serial arm: damped least squares with clamping.

Every (target, seed) pair is one row of a single batch, so B targets x S seeds cost the same
numpy calls as one. The step is Levenberg-Marquardt with Sugihara's damping
``lambda = w e.e + lambda_bar`` (robust near singularities and far from the goal); after each step
the configuration is clamped into the joint limits, so no answer can leave them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from scipy.spatial.transform import Rotation

if TYPE_CHECKING:  # pragma: no cover
    from ifgrasp.arm.kinematics import Xarm7Kinematics

LAMBDA_ERR = 0.1  # damping per squared error (Sugihara: lambda = LAMBDA_ERR e.e + LAMBDA_BAR)
LAMBDA_BAR = 1e-4  # damping floor of the LM step (units of e.e: m^2, rad^2)
MAX_STEP_RAD = 0.5  # largest joint change per iteration


class IKResult(NamedTuple):
    """IK answer for B targets.

    q: (B, 7) rad, always inside the joint limits (the best attempt where ``success`` is False);
    success: (B,) bool, both tolerances met;
    pos_err_m: (B,) flange position error, metres;
    rot_err_rad: (B,) angle of ``R_current^T R_target``, radians.
    """

    q: np.ndarray
    success: np.ndarray
    pos_err_m: np.ndarray
    rot_err_rad: np.ndarray


def pose_error(T_cur: np.ndarray, T_target: np.ndarray) -> np.ndarray:
    """Error twist (N, 6) ``[p_target - p; log(R_target R^T)]`` in base-frame coordinates."""
    e_p = T_target[:, :3, 3] - T_cur[:, :3, 3]  # (N, 3)
    R_err = T_target[:, :3, :3] @ np.swapaxes(T_cur[:, :3, :3], -1, -2)  # (N, 3, 3)
    return np.concatenate([e_p, Rotation.from_matrix(R_err).as_rotvec()], axis=-1)


def _lm_step(J: np.ndarray, e: np.ndarray, lam: np.ndarray, eye: np.ndarray) -> np.ndarray:
    """``dq = (J^T J + lam I)^-1 J^T e`` for J (n, 6, 7), e (n, 6), lam (n,) -> (n, 7)."""
    H = np.swapaxes(J, -1, -2) @ J + lam[:, None, None] * eye  # (n, 7, 7)
    g = np.einsum("nki,nk->ni", J, e)  # (n, 7)
    return np.linalg.solve(H, g[..., None])[..., 0]


def _dls(kin: "Xarm7Kinematics", q: np.ndarray, T_target: np.ndarray, group: int, pos_tol: float, rot_tol: float, iters: int):
    """LM steps on rows (N, 7), N = targets x ``group`` seeds; returns q, position and rotation errors.

    A target's rows all stop as soon as one of them meets both tolerances (first success wins;
    ties in that iteration are broken by distance to the reference in ``solve_ik``).
    """
    eye = np.eye(kin.dof)
    q = q.copy()
    n = len(q)
    pos_err, rot_err = np.full(n, np.inf), np.full(n, np.inf)
    ok = np.zeros(n, dtype=bool)
    idx = np.arange(n)  # rows still moving; finished rows are never evaluated again
    for it in range(iters + 1):
        T_cur, J = kin.fk_jacobian(q[idx])  # (n, 4, 4), (n, 6, 7)
        e = pose_error(T_cur, T_target[idx])  # (n, 6)
        pos_err[idx] = np.linalg.norm(e[:, :3], axis=-1)
        rot_err[idx] = np.linalg.norm(e[:, 3:], axis=-1)
        ok[idx] = (pos_err[idx] <= pos_tol) & (rot_err[idx] <= rot_tol)
        target_done = ok.reshape(-1, group).any(axis=-1)  # (N / group,)
        keep = ~target_done[idx // group]
        if not keep.any() or it == iters:
            break
        idx, J, e = idx[keep], J[keep], e[keep]
        qa = q[idx]
        lam = LAMBDA_ERR * np.einsum("ni,ni->n", e, e) + LAMBDA_BAR  # (n,)
        dq = _lm_step(J, e, lam, eye)  # (n, 7)
        # active set: joints at a limit and pushed outward are frozen, the others re-solve without them
        blocked = ((qa <= kin.lower) & (dq < 0)) | ((qa >= kin.upper) & (dq > 0))  # (n, 7)
        if blocked.any():
            dq = _lm_step(J * ~blocked[:, None, :], e, lam, eye)
        scale = np.minimum(1.0, MAX_STEP_RAD / (np.abs(dq).max(axis=-1, keepdims=True) + 1e-12))
        q[idx] = np.clip(qa + scale * dq, kin.lower, kin.upper)
    return q, pos_err, rot_err


def unwrap_toward(q: np.ndarray, q_ref: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Shift each joint by a multiple of 2 pi (-1, 0, +1 turns) toward ``q_ref`` while staying in limits.

    ``q``, ``q_ref`` (N, J) -> (N, J); same flange pose, nearer the reference.
    """
    cand = q[..., None] + 2.0 * np.pi * np.array([-1.0, 0.0, 1.0])  # (N, J, 3)
    inside = (cand >= lower[:, None]) & (cand <= upper[:, None])
    dist = np.where(inside, np.abs(cand - q_ref[..., None]), np.inf)
    return np.take_along_axis(cand, dist.argmin(-1)[..., None], -1)[..., 0]


def solve_ik(
    kin: "Xarm7Kinematics",
    T_target: np.ndarray,
    q_seed: np.ndarray | None,
    num_seeds: int,
    pos_tol_m: float,
    rot_tol_rad: float,
    max_iters: int,
    max_rounds: int,
    seed: int,
) -> IKResult:
    """Multi-seed IK for ``T_target`` (B, 4, 4); rounds re-seed only the targets still unsolved.

    Seed 0 of round 0 is ``q_seed`` (default zeros, clamped into limits); the others are uniform in
    the limits (wide joints sampled in [-pi, pi]). A target stops at its first converged seed
    (seed 0, started at ``q_seed``, converges first for nearby targets); of the seeds converged in that
    iteration the one nearest ``q_seed`` (after 2-pi unwrapping) wins. Unsolved targets keep the
    attempt with the smallest ``pos + 0.1 m/rad * rot`` error.
    """
    rng = np.random.default_rng(seed)
    B, S, J = len(T_target), max(1, num_seeds), kin.dof
    q_ref = np.zeros((B, J)) if q_seed is None else np.broadcast_to(np.asarray(q_seed, float), (B, J))
    q_ref = np.clip(q_ref, kin.lower, kin.upper)
    lo_s, hi_s = np.maximum(kin.lower, -np.pi), np.minimum(kin.upper, np.pi)

    best_q = q_ref.copy()
    best_ok = np.zeros(B, dtype=bool)
    best_pos = np.full(B, np.inf)
    best_rot = np.full(B, np.inf)
    best_cost = np.full(B, np.inf)
    for rnd in range(max(1, max_rounds)):
        todo = np.flatnonzero(~best_ok)  # (b,)
        if len(todo) == 0:
            break
        q0 = rng.uniform(lo_s, hi_s, size=(len(todo), S, J))  # (b, S, 7)
        if rnd == 0:
            q0[:, 0] = q_ref[todo]
        T_rep = np.repeat(T_target[todo], S, axis=0)  # (b*S, 4, 4)
        q, pos, rot = _dls(kin, q0.reshape(-1, J), T_rep, S, pos_tol_m, rot_tol_rad, max_iters)
        ref_rep = np.repeat(q_ref[todo], S, axis=0)
        q = unwrap_toward(q, ref_rep, kin.lower, kin.upper)
        ok = (pos <= pos_tol_m) & (rot <= rot_tol_rad)
        # successes ranked by distance to the reference, failures after them by error
        cost = np.where(ok, np.linalg.norm(q - ref_rep, axis=-1), 1e6 + pos + 0.1 * rot).reshape(-1, S)
        pick = cost.argmin(axis=-1)  # (b,)
        rows = np.arange(len(todo)) * S + pick
        better = cost[np.arange(len(todo)), pick] < best_cost[todo]
        upd = todo[better]
        best_q[upd], best_pos[upd], best_rot[upd] = q[rows][better], pos[rows][better], rot[rows][better]
        best_ok[upd], best_cost[upd] = ok[rows][better], cost[np.arange(len(todo)), pick][better]
    return IKResult(best_q, best_ok, best_pos, best_rot)
