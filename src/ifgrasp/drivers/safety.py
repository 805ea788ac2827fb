"""The safety layer every backend sends through: pure numpy, no I/O, no SDK.

Order of checks for one streamed command (``SafetyFilter.filter``):
  1. refused after ``stop()`` until ``enable()``;  shape and finiteness checked;
  2. clipped to the joint position limits;
  3. a jump larger than ``max_step_rad`` from the reference (the last command while fresh, else the
     measured position) raises ``SafetyError`` and nothing is sent;
  4. velocity and acceleration limited over the elapsed time ``dt`` (clipping, never a refusal);
  5. workspace: the points ``fk`` gives (hand/flange points in the base frame) must stay inside the
     configured box, else ``SafetyError``.
The watchdog (``watchdog_expired``) tells the driver to hold the measured position when no fresh
command arrived within ``watchdog_timeout_s``; a hold never continues the last velocity.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.drivers.limits import JointLimits
from ifgrasp.errors import InputError, SafetyError

#: Maps joint configurations (B, J) to points in the base frame (B, K, 3), metres.
PointsFk = Callable[[np.ndarray], np.ndarray]


class SafetyConfig(Config):
    """Limits applied on top of the joint tables."""

    max_step_rad: float = Field(0.25, gt=0, description="largest jump between consecutive commands (or "
                                "from the measured position); larger -> SafetyError, nothing sent")
    velocity_scale: float = Field(1.0, gt=0, le=1.0, description="fraction of the table's velocity limits")
    max_acceleration_rad_s2: float | None = Field(None, gt=0, description="acceleration cap, rad/s^2")
    watchdog_timeout_s: float = Field(0.5, gt=0, description="no fresh command within this -> hold")
    workspace_min_m: tuple[float, float, float] = Field((-0.9, -0.9, 0.02), description=
                                                        "lower corner of the allowed box, base frame")
    workspace_max_m: tuple[float, float, float] = Field((0.9, 0.9, 1.2), description=
                                                        "upper corner of the allowed box, base frame")
    trajectory_tolerance_rad: float = Field(0.05, gt=0, description="start of a trajectory may differ "
                                            "from the measured position by at most this")


def clip_to_limits(q: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """(B, J) -> (B, J) clipped into [lower, upper] per joint."""
    return np.clip(q, lower, upper)


def rate_limit(q_target: np.ndarray, q_prev: np.ndarray, v_prev: np.ndarray, dt_s: float | np.ndarray,
               v_max: np.ndarray, a_max: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Limit the move from ``q_prev`` to ``q_target`` over ``dt_s`` by speed and acceleration.

    All (B, J) (``v_max``/``a_max`` (J,)); ``dt_s`` scalar or (B, 1). Returns ``(q, v)`` with
    ``|v| <= v_max`` and ``|v - v_prev| <= a_max * dt`` where feasible (the acceleration bound is
    relaxed only as far as needed to respect the speed limit when ``v_prev`` already exceeds it),
    braking early enough to stop at the target instead of overshooting it.
    Position limits are applied afterwards by the caller and take precedence: near a limit a
    braking move that the acceleration bound cannot finish in time is cut at the limit.
    """
    dt = np.maximum(np.asarray(dt_s, dtype=np.float64), 1e-6)
    v_des = (q_target - q_prev) / dt  # (B, J)
    v_lo = np.maximum(v_prev - a_max * dt, -v_max)
    v_hi = np.minimum(v_prev + a_max * dt, v_max)
    v_lo = np.minimum(v_lo, v_max)  # keep the interval non-empty when v_prev is out of range
    v_hi = np.maximum(v_hi, -v_max)
    # brake in time: the fastest speed from which steps decelerating by a_max*dt stop at the target
    d = q_target - q_prev  # (B, J)
    with np.errstate(invalid="ignore", divide="ignore"):
        adt = a_max * dt
        v_brake = np.where(np.isfinite(a_max), adt * (np.sqrt(0.25 + 2 * np.abs(d) / (adt * dt)) - 0.5), np.inf)
    v_hi = np.maximum(np.where(d > 0, np.minimum(v_hi, v_brake), v_hi), v_lo)  # acceleration bound wins
    v_lo = np.minimum(np.where(d < 0, np.maximum(v_lo, -v_brake), v_lo), v_hi)
    v = np.clip(v_des, v_lo, v_hi)  # (B, J)
    return q_prev + v * dt, v


def jump_violations(q: np.ndarray, q_ref: np.ndarray, max_step_rad: float) -> np.ndarray:
    """(B,) bool: rows of ``q`` (B, J) more than ``max_step_rad`` away from ``q_ref`` on any joint."""
    return np.any(np.abs(q - q_ref) > max_step_rad, axis=-1)


def outside_box(points: np.ndarray, box_min: np.ndarray, box_max: np.ndarray) -> np.ndarray:
    """(B,) bool: any of the (B, K, 3) points outside the axis-aligned box."""
    return np.any((points < box_min) | (points > box_max), axis=(-1, -2))


class SafetyFilter:
    """Stateful wrapper of the pure checks for one device; one instance per driver."""

    def __init__(self, limits: JointLimits, config: SafetyConfig | None = None, fk: PointsFk | None = None):
        self.config = config or SafetyConfig()
        self.limits = limits.scaled(self.config.velocity_scale, self.config.max_acceleration_rad_s2)
        self.fk = fk
        self._box_min = np.asarray(self.config.workspace_min_m)
        self._box_max = np.asarray(self.config.workspace_max_m)
        self.enabled = True
        self.last_command: np.ndarray | None = None  # (J,)
        self.last_velocity = np.zeros(limits.dof)  # (J,) rad/s
        self.last_time_s: float | None = None
        self.holding = False

    # -- state -----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Refuse every command until ``enable()``; idempotent."""
        self.enabled = False
        self.last_velocity[:] = 0.0

    def enable(self) -> None:
        self.enabled = True
        self.last_command, self.last_time_s, self.holding = None, None, False
        self.last_velocity[:] = 0.0

    def is_fresh(self, now_s: float) -> bool:
        return self.last_time_s is not None and now_s - self.last_time_s <= self.config.watchdog_timeout_s

    def reference(self, q_measured: np.ndarray, now_s: float) -> np.ndarray:
        """What the next command's jump is measured from (J,): the last command while commands are
        fresh and not holding, else the measured position. Streams that must never be refused
        start their steps from here."""
        fresh = self.is_fresh(now_s) and not self.holding and self.last_command is not None
        return self.last_command.copy() if fresh else np.asarray(q_measured, dtype=float)

    def watchdog_expired(self, now_s: float) -> bool:
        """True once when commands stopped arriving: the driver must hold the measured position."""
        return self.last_time_s is not None and not self.holding and not self.is_fresh(now_s)

    def hold_target(self, q_measured: np.ndarray, now_s: float) -> np.ndarray:
        """Record a hold at the measured position (clipped into limits) and return it (J,)."""
        q = clip_to_limits(self._check_shape(q_measured, "measured position"), self.limits.lower_rad,
                           self.limits.upper_rad)
        self.last_command, self.last_time_s, self.holding = q.copy(), now_s, True
        self.last_velocity[:] = 0.0
        return q

    # -- checks ----------------------------------------------------------------------------------
    def filter(self, q_target, q_measured: np.ndarray, now_s: float) -> np.ndarray:
        """The command (J,) to send for ``q_target`` (J,), or ``SafetyError``; updates the state."""
        if not self.enabled:
            raise SafetyError("command refused: the driver was stopped; call enable() (arm: recover()) first")
        q_target = self._check_shape(q_target, "command")
        q_measured = self._check_shape(q_measured, "measured position")
        lim = self.limits
        q = clip_to_limits(q_target, lim.lower_rad, lim.upper_rad)
        fresh = self.is_fresh(now_s) and not self.holding and self.last_command is not None
        q_ref = self.reference(q_measured, now_s)
        if jump_violations(q[None], q_ref[None], self.config.max_step_rad)[0]:
            j = int(np.argmax(np.abs(q - q_ref)))
            raise SafetyError(
                f"command refused: joint '{lim.names[j]}' would jump {abs(q[j] - q_ref[j]):.3f} rad "
                f"(max_step_rad = {self.config.max_step_rad}); nothing was sent")
        v_prev = self.last_velocity if fresh else np.zeros_like(q)
        dt = min(now_s - self.last_time_s, self.config.watchdog_timeout_s) if fresh else \
            self.config.watchdog_timeout_s
        q, v = rate_limit(q[None], q_ref[None], v_prev[None], dt, lim.velocity_rad_s, lim.acceleration_rad_s2)
        q, v = clip_to_limits(q[0], lim.lower_rad, lim.upper_rad), v[0]
        self.check_workspace(q[None])
        self.last_command, self.last_velocity, self.last_time_s, self.holding = q, v, now_s, False
        return q.copy()

    def check_workspace(self, q: np.ndarray) -> None:
        """``SafetyError`` if any configuration of ``q`` (B, J) puts an FK point outside the box."""
        if self.fk is None:
            return
        pts = np.asarray(self.fk(np.atleast_2d(q)), dtype=np.float64).reshape(len(np.atleast_2d(q)), -1, 3)
        bad = outside_box(pts, self._box_min, self._box_max)  # (B,)
        if np.any(bad):
            i = int(np.argmax(bad))
            raise SafetyError(
                f"command refused: configuration {i} puts the hand at {np.round(pts[i], 3).tolist()} m, "
                f"outside the workspace box {self.config.workspace_min_m} .. {self.config.workspace_max_m}")

    def check_trajectory(self, times_s, q, q_measured: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Validate a whole trajectory before anything is sent; returns float arrays (T,), (T, J).

        Refused (``SafetyError``) when: times not strictly increasing from >= 0, a point outside the
        joint limits, a step between samples above ``max_step_rad``, the start farther than
        ``trajectory_tolerance_rad`` from ``q_measured``, finite-difference speeds or accelerations
        above the limits (5 % slack for discretisation), or an FK point outside the workspace.
        """
        if not self.enabled:
            raise SafetyError("trajectory refused: the driver was stopped; call enable() (arm: recover()) first")
        t = np.asarray(times_s, dtype=np.float64).reshape(-1)  # (T,)
        q = np.asarray(q, dtype=np.float64)
        lim, cfg = self.limits, self.config
        if q.ndim != 2 or q.shape != (len(t), lim.dof) or len(t) < 1:
            raise InputError(f"trajectory must be times (T,) and q (T, {lim.dof}); got {t.shape} and {q.shape}")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(q))):
            raise InputError("trajectory contains NaN or inf")
        if t[0] < 0 or np.any(np.diff(t) <= 0):
            raise SafetyError("trajectory refused: times_s must start at >= 0 and strictly increase")
        outside = ~lim.contains(q)  # (T,)
        if np.any(outside):
            raise SafetyError(f"trajectory refused: {int(outside.sum())} points outside the joint limits "
                              f"(first at index {int(np.argmax(outside))})")
        if np.max(np.abs(q[0] - self._check_shape(q_measured, "measured position"))) > cfg.trajectory_tolerance_rad:
            raise SafetyError(f"trajectory refused: its start is more than {cfg.trajectory_tolerance_rad} rad "
                              "from the measured position")
        if len(t) > 1:
            dq = np.diff(q, axis=0)  # (T-1, J)
            jumps = jump_violations(q[1:], q[:-1], cfg.max_step_rad)
            if np.any(jumps):
                raise SafetyError(f"trajectory refused: a step larger than max_step_rad = {cfg.max_step_rad} "
                                  f"rad at index {int(np.argmax(jumps)) + 1}")
            v = dq / np.diff(t)[:, None]  # (T-1, J)
            if np.any(np.abs(v) > 1.05 * lim.velocity_rad_s):
                raise SafetyError("trajectory refused: a joint speed above its velocity limit "
                                  f"(max ratio {np.max(np.abs(v) / lim.velocity_rad_s):.2f})")
            if len(t) > 2:
                a = np.diff(v, axis=0) / (0.5 * (t[2:] - t[:-2]))[:, None]  # (T-2, J)
                if np.any(np.abs(a) > 1.05 * lim.acceleration_rad_s2):
                    raise SafetyError("trajectory refused: a joint acceleration above its limit "
                                      f"(max ratio {np.max(np.abs(a) / lim.acceleration_rad_s2):.2f})")
        self.check_workspace(q)
        return t, q

    def _check_shape(self, q, what: str) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64).reshape(-1)
        if q.shape != (self.limits.dof,):
            raise InputError(f"{what} has {q.shape[0]} values; expected {self.limits.dof} "
                             f"({', '.join(self.limits.names)})")
        if not np.all(np.isfinite(q)):
            raise InputError(f"{what} contains NaN or inf")
        return q
