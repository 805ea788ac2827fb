"""Command streaming over a ``JointDriver``, ROS-free: the one copy used by ``ArmDriver.execute_trajectory``,
the pipeline's execute stage (``ifgrasp.pipeline.stages.HandActions``) and the ROS driver endpoint
(``ifgrasp_ros.driver_interface``).

- ``safe_step``: the only safe-step clip: one command at most ``fraction * max_step_rad`` from the
  safety layer's reference, so a stream is slowed after a stall instead of refused.
- ``TrajectoryStream``: a validated arm trajectory streamed against the driver clock; after a stall
  trajectory time advances only as far as one safe step.
- ``HandStream``: the hand's commands (no points = open, one point = a grasp: ramp, latch and hold,
  two or more = a move, nothing latched) and its hold: while a grasp is latched every tick re-sends
  the squeeze goal (the watchdog stays fed); while the driver is stopped or faulted a tick sends
  nothing, so a latched stop is not re-stopped every tick and the motors keep the squeeze goal.
Every call is non-blocking (one command per ``step``); the owner calls it from a timer or a loop.
"""

from __future__ import annotations

import numpy as np

from ifgrasp.drivers.base import TrajectoryFeedback
from ifgrasp.errors import DriverError, InputError

#: Fraction of ``max_step_rad`` a streamed step may use: never a jump the safety layer refuses.
STEP_FRACTION = 0.8


def safe_step(q_ref: np.ndarray, q_target: np.ndarray, max_step_rad: float,
              fraction: float = STEP_FRACTION) -> np.ndarray:
    """(J,) the point on the way from ``q_ref`` to ``q_target`` (J,) with no joint moving more than
    ``fraction * max_step_rad`` (rad); ``q_target`` itself when it is that close."""
    step = fraction * max_step_rad
    q_ref = np.asarray(q_ref, dtype=np.float64)
    return q_ref + np.clip(np.asarray(q_target, dtype=np.float64) - q_ref, -step, step)


def interpolate(times_s: np.ndarray, q: np.ndarray, s: float) -> np.ndarray:
    """(J,) piecewise-linear sample of ``q`` (T, J) at ``times_s`` (T,), time ``s`` clamped to the ends."""
    k = int(np.clip(np.searchsorted(times_s, s, side="right"), 1, max(len(times_s) - 1, 1)))
    if len(times_s) == 1 or s <= times_s[0]:
        return q[0].copy()
    if s >= times_s[-1]:
        return q[-1].copy()
    w = (s - times_s[k - 1]) / (times_s[k] - times_s[k - 1])
    return (1.0 - w) * q[k - 1] + w * q[k]


def step_reference(driver) -> np.ndarray:
    """(J,) where the next command's jump is measured from: the last command while fresh, else the
    measured position (``SafetyFilter.reference``)."""
    return driver.safety.reference(driver.read_state().position_rad, driver.clock())


class TrajectoryStream:
    """One arm trajectory (T, J) at ``times_s`` (T,), validated at construction (nothing is sent if
    it fails), streamed one command per ``step()``."""

    def __init__(self, driver, times_s, q) -> None:
        self.driver = driver
        self.t, self.q = driver.safety.check_trajectory(times_s, q, driver.read_state().position_rad)
        self.s = float(self.t[0])  # trajectory time, s
        self.last = self.q[0].copy()
        self.tick_s: float | None = None
        self.sent_all_at: float | None = None  # driver clock when the last point was first sent
        self.index = 0
        dq = np.abs(np.diff(self.q, axis=0)) / np.diff(self.t)[:, None] if len(self.t) > 1 else np.zeros((1, 1))
        self.max_speed_rad_s = float(np.max(dq))  # fastest joint speed of the piecewise-linear path

    @property
    def sent_all(self) -> bool:
        return self.s >= self.t[-1]

    def step(self) -> TrajectoryFeedback:
        """Send the sample at the current trajectory time; returns desired and measured (J,).

        Trajectory time follows the clock, but after a stall (a busy CPU) it advances only as far as
        the sample stays within one safe step of the safety layer's reference (the last command while
        fresh, else the measured position, which may lag the path): the arm slows down instead of
        jumping or being refused. Should even the current sample be out of reach, one safe step towards
        it is sent and time waits."""
        d = self.driver
        now = d.clock()
        limit = STEP_FRACTION * d.safety.config.max_step_rad
        ref = step_reference(d)
        s_new = self.s
        if self.tick_s is not None:
            elapsed = now - self.tick_s
            if self.max_speed_rad_s * elapsed > limit:  # a stall: one safe step of path, not the lost time
                elapsed = limit / self.max_speed_rad_s
            s_new = min(self.s + elapsed, float(self.t[-1]))
        self.tick_s = now

        def reach(s: float) -> bool:
            return bool(np.max(np.abs(interpolate(self.t, self.q, s) - ref)) <= limit)

        if not reach(s_new):
            lo, hi = self.s, s_new
            if reach(lo):
                for _ in range(20):  # the latest time still within one safe step
                    mid = 0.5 * (lo + hi)
                    lo, hi = (mid, hi) if reach(mid) else (lo, mid)
            s_new = lo
        self.s = s_new
        self.last = interpolate(self.t, self.q, self.s)
        q_cmd = self.last if reach(self.s) else safe_step(ref, self.last, d.safety.config.max_step_rad)
        d.send_command(q_cmd)
        fb = TrajectoryFeedback(self.s, self.index, self.last.copy(), d.read_state().position_rad)
        self.index += 1
        return fb

    def settled(self, timeout_s: float = 2.0) -> bool:
        """All sent and every measured joint within the driver's ``settle_tol_rad`` of the last point
        (as ``ArmDriver.execute_trajectory`` ends); ``DriverError`` when that has not happened
        ``timeout_s`` (driver clock) after the last point was sent, so a held-off arm never hangs."""
        if not self.sent_all:
            return False
        now = self.driver.clock()
        if self.sent_all_at is None:
            self.sent_all_at = now
        err = float(np.max(np.abs(self.driver.read_state().position_rad - self.q[-1])))
        tol = self.driver.settle_tol_rad
        if err < tol:
            return True
        if now - self.sent_all_at > timeout_s:
            raise DriverError(f"trajectory end not reached: the measured joints are {err:.4f} rad from the goal "
                              f"{timeout_s} s after the last point (tolerance {tol} rad); the arm holds where it is")
        return False


class HandStream:
    """The hand's command state machine over a ``HandDriver`` (see the module docstring).

    ``start(times_s, q)`` begins a command; ``tick()`` streams one step of it or, when none is
    running, holds (latched) or services the watchdog. ``tick()`` returns ``"done"`` once, at the
    step that finishes a command, else ``"running"`` or ``"idle"``.
    """

    #: A target given as one point is reached over at least this, s.
    min_close_s: float = 0.3

    def __init__(self, hand) -> None:
        self.hand = hand
        self.active: dict | None = None
        self.hold_target: np.ndarray | None = None  # (J,) the latched squeeze goal

    def start(self, times_s, q, latch: bool | None = None) -> None:
        """No points: open; else reach ``q`` (T, J) at ``times_s`` (T,) s from the reference and latch
        the last point as a grasp when ``latch`` (None: latch when T == 1, the ROS convention: one
        point = a grasp, two or more = a move). Nothing changes when it raises ``IfgraspError``."""
        h = self.hand
        t = np.asarray(times_s, dtype=np.float64).reshape(-1)
        q = np.asarray(q, dtype=np.float64).reshape(len(t), -1) if len(t) else np.zeros((0, h.limits.dof))
        if len(q) == 0:
            self.hold_target = None
            self.active = {"open": True, "t0": h.clock()}
            return
        q = np.stack([h.safety._check_shape(qi, "hand target") for qi in q])
        if np.any(np.diff(t) <= 0) or t[0] < 0:
            raise InputError("hand trajectory times must start at >= 0 and strictly increase")
        # steps start where the safety layer measures jumps from, so the first step is never refused
        q0 = step_reference(h)
        self.hold_target = None
        latch = len(q) == 1 if latch is None else latch
        if len(t) == 1:
            t = np.array([max(float(t[0]), self.min_close_s)])
        if t[0] <= 0:
            t = t + 1e-3  # the reference is at time 0
        self.active = {"open": False, "latch": latch, "t": np.concatenate([[0.0], t]), "q": np.vstack([q0, q]),
                       "target": q[-1], "t0": h.clock()}

    def cancel(self) -> None:
        """Drop the running command (a latched grasp stays latched and held)."""
        self.active = None

    def tick(self) -> str:
        h, a = self.hand, self.active
        if a is None:
            if self.hold_target is not None:
                if h.safety.enabled and h.fault is None:
                    self.hold(self.hold_target)
                # stopped or faulted: the motors keep the squeeze goal; nothing to send, nothing to re-stop
            else:
                h.check_watchdog()
            return "idle"
        if a["open"]:
            sent = h.open_hand()
            if np.max(np.abs(sent - h.q_open_rad)) < 1e-3:
                self.active = None
                return "done"
            return "running"
        desired = interpolate(a["t"], a["q"], h.clock() - a["t0"])
        q = safe_step(step_reference(h), desired, h.safety.config.max_step_rad)
        done = np.max(np.abs(q - a["target"])) < 1e-9
        h.grasp(q) if done and a["latch"] else h.send_command(q)  # latch only a final grasp
        if done:
            self.hold_target = a["target"].copy() if a["latch"] else None
            self.active = None
            return "done"
        return "running"

    def hold(self, q_target: np.ndarray) -> np.ndarray:
        """Re-send the grasp ``q_target`` (J,), at most one safe step from the reference: fingers blocked
        by the object sit short of a squeezed target, so after a pause the squeeze is restored over a
        few calls instead of being refused. Latches the grasp."""
        h = self.hand
        self.hold_target = np.asarray(q_target, dtype=np.float64).copy()
        return h.grasp(safe_step(step_reference(h), self.hold_target, h.safety.config.max_step_rad))
