"""Joint-space trajectories: straight segments between waypoints, time-parametrised with a
synchronised trapezoidal velocity profile that respects per-joint velocity and acceleration limits.

Every segment starts and ends at rest, so the limits hold across waypoints. On one segment all
joints follow ``q(t) = q_a + s(t) (q_b - q_a)`` with a scalar trapezoid ``s: 0 -> 1`` whose peak
speed and acceleration are the largest that keep every joint inside its limits; the slowest joint
sets the duration and the others scale down with it. Sampled at ``dt_s``, finite-difference speeds
and accelerations (as a driver's safety layer checks them) stay inside the same limits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ifgrasp.errors import InputError


@dataclass
class JointTrajectory:
    """``times_s`` (T,) strictly increasing from 0; ``q`` (T, J) rad; ``joint_names`` (J,).

    ``waypoint_index`` (W,) indices into ``times_s`` where each waypoint is reached (the arm is at
    rest there).
    """

    times_s: np.ndarray
    q: np.ndarray
    joint_names: tuple[str, ...] = ()
    waypoint_index: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.q.ndim != 2 or self.q.shape[0] != self.times_s.shape[0]:
            raise InputError(f"trajectory times {self.times_s.shape} and q {self.q.shape} do not match")

    @property
    def duration_s(self) -> float:
        return float(self.times_s[-1] - self.times_s[0])

    def velocities(self) -> np.ndarray:
        """(T-1, J) finite-difference joint speeds, rad/s."""
        return np.diff(self.q, axis=0) / np.diff(self.times_s)[:, None]

    def accelerations(self) -> np.ndarray:
        """(T-2, J) finite-difference accelerations, rad/s^2 (centred on the inner samples)."""
        v = self.velocities()
        return np.diff(v, axis=0) / (0.5 * (self.times_s[2:] - self.times_s[:-2]))[:, None]

    def then(self, other: "JointTrajectory") -> "JointTrajectory":
        """This trajectory followed by ``other`` (which must start where this one ends, at rest)."""
        if not np.allclose(self.q[-1], other.q[0], atol=1e-9):
            raise InputError("trajectories do not join: the second does not start where the first ends")
        t = np.concatenate([self.times_s, other.times_s[1:] - other.times_s[0] + self.times_s[-1]])
        wi = None
        if self.waypoint_index is not None and other.waypoint_index is not None:
            wi = np.concatenate([self.waypoint_index, other.waypoint_index[1:] + len(self.times_s) - 1])
        return JointTrajectory(t, np.concatenate([self.q, other.q[1:]]), self.joint_names, wi)


def trapezoid_duration(distance: np.ndarray, v_max: np.ndarray, a_max: np.ndarray) -> np.ndarray:
    """Shortest rest-to-rest time (...) over ``distance`` (...) >= 0 with speed/acceleration caps."""
    d = np.abs(distance)
    t_ramp = v_max / a_max
    full = d >= v_max * t_ramp  # reaches cruise speed
    return np.where(full, d / v_max + t_ramp, 2.0 * np.sqrt(d / a_max))


def trapezoid_position(t: np.ndarray, duration_s: float, v_peak: float, a: float) -> np.ndarray:
    """Scalar rest-to-rest profile ``s(t)`` from 0 to ``v_peak * (duration_s - v_peak / a)``."""
    t_ramp = v_peak / a
    t = np.clip(t, 0.0, duration_s)
    total = v_peak * (duration_s - t_ramp)
    up = 0.5 * a * t**2
    cruise = 0.5 * a * t_ramp**2 + v_peak * (t - t_ramp)
    down = total - 0.5 * a * (duration_s - t) ** 2
    return np.where(t < t_ramp, up, np.where(t <= duration_s - t_ramp, cruise, down))


def time_parametrize(waypoints: np.ndarray, v_max: np.ndarray, a_max: np.ndarray, dt_s: float = 0.01,
                     joint_names: tuple[str, ...] = ()) -> JointTrajectory:
    """Rest-to-rest straight segments through ``waypoints`` (W, J) rad, sampled every ``dt_s``.

    ``v_max`` / ``a_max`` (J,) rad/s, rad/s^2. Identical consecutive waypoints are skipped.
    """
    wp = np.asarray(waypoints, dtype=float)
    v_max, a_max = np.asarray(v_max, float), np.asarray(a_max, float)
    if wp.ndim != 2 or wp.shape[1] != v_max.shape[0] or len(wp) < 1:
        raise InputError(f"waypoints must be (W, {v_max.shape[0]}); got {wp.shape}")
    if np.any(v_max <= 0) or np.any(a_max <= 0) or dt_s <= 0:
        raise InputError("velocity/acceleration limits and dt_s must be positive")
    times, qs, wp_index = [np.zeros(1)], [wp[:1]], [0]
    t_off = 0.0
    for qa, qb in zip(wp[:-1], wp[1:]):
        dq = qb - qa  # (J,)
        moving = np.abs(dq) > 1e-12
        if not moving.any():
            continue
        # scalar profile over s in [0, 1]: |dq_j| * s' <= v_j, |dq_j| * s'' <= a_j
        sv = float(np.min(v_max[moving] / np.abs(dq[moving])))
        sa = float(np.min(a_max[moving] / np.abs(dq[moving])))
        T = float(trapezoid_duration(np.array(1.0), sv, sa))
        v_peak = min(sv, float(np.sqrt(sa)))  # triangle profile peaks at sqrt(a * 1)
        n = max(1, int(np.ceil(T / dt_s - 1e-9)))
        t = np.minimum(np.arange(1, n + 1) * dt_s, T)  # (n,) last sample exactly at T
        t[-1] = T
        s = trapezoid_position(t, T, v_peak, sa) / trapezoid_position(np.array(T), T, v_peak, sa)
        times.append(t_off + t)
        qs.append(qa + s[:, None] * dq)
        t_off += T
        wp_index.append(sum(len(x) for x in times) - 1)
    return JointTrajectory(np.concatenate(times), np.concatenate(qs), tuple(joint_names), np.asarray(wp_index))


def densify(waypoints: np.ndarray, max_step_rad: float) -> np.ndarray:
    """(W, J) -> (M, J) straight-line samples with no joint moving more than ``max_step_rad`` between
    samples, waypoints included (for collision checks along the path)."""
    wp = np.asarray(waypoints, dtype=float)
    out = [wp[:1]]
    for qa, qb in zip(wp[:-1], wp[1:]):
        n = max(1, int(np.ceil(np.max(np.abs(qb - qa)) / max_step_rad)))
        s = np.arange(1, n + 1) / n  # (n,)
        out.append(qa + s[:, None] * (qb - qa))
    return np.concatenate(out)
