"""Hand driver interface: the hand opens only on request, and a hold keeps the squeeze.

While a grasp is latched (``grasp()``), a command that moves any joint towards the open pose by
more than ``open_tolerance_rad`` is refused; only ``open_hand()`` releases. In current-based
position control the squeeze is the gap between the goal and the measured position (the object
stops the fingers short of the goal), so while a grasp is latched a hold (``stop()``, a fault, the
watchdog, ``disconnect()``, ``recover()``) keeps the last latched goal instead of setting the goal
to the measured position; the goal is only clipped to ``max_step_rad`` around the measured position
(a finger that fell open after a motor reboot is not yanked back). Without a latched grasp a hold
is at the measured position, like the arm.
"""

from __future__ import annotations

import numpy as np

from ifgrasp.drivers.base import JointDriver
from ifgrasp.drivers.streaming import safe_step
from ifgrasp.errors import SafetyError


class HandDriver(JointDriver):
    """A multi-finger hand (LEAP: 16 joints in motor-ID order)."""

    effort_unit = "A"
    open_tolerance_rad: float = 0.02
    #: open_hand() steps use this fraction of max_step_rad.
    open_step_fraction: float = 0.9

    def __init__(self, *args, q_open_rad: np.ndarray | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        lim = self.limits
        q_open = np.zeros(lim.dof) if q_open_rad is None else np.asarray(q_open_rad, dtype=np.float64)
        self.q_open_rad = np.clip(q_open, lim.lower_rad, lim.upper_rad)  # (J,)
        self.grasp_latched = False
        self.latched_goal: np.ndarray | None = None  # (J,) the last goal sent while latched (the squeeze)

    def send_command(self, q_target) -> np.ndarray:
        if self.grasp_latched:
            q_t = np.clip(np.asarray(q_target, dtype=np.float64).reshape(-1), self.limits.lower_rad,
                          self.limits.upper_rad)
            q_m = self._measured()
            if q_t.shape == q_m.shape:
                opening = np.abs(q_t - self.q_open_rad) < np.abs(q_m - self.q_open_rad) - self.open_tolerance_rad
                if np.any(opening):
                    names = [n for n, o in zip(self.names, opening) if o]
                    raise SafetyError("command refused: the hand is holding a grasp and this would open "
                                      f"joints {', '.join(names)}; call open_hand() to release")
        q = super().send_command(q_target)
        if self.grasp_latched:
            self.latched_goal = q.copy()
        return q

    def grasp(self, q_target) -> np.ndarray:
        """Close towards ``q_target`` and latch: from now on the hand opens only via ``open_hand()``."""
        q = super().send_command(q_target)
        self.grasp_latched, self.latched_goal = True, q.copy()
        return q

    def open_hand(self) -> np.ndarray:
        """Release the grasp on request: one step towards the open pose (call repeatedly to open fully)."""
        self.grasp_latched, self.latched_goal = False, None
        q_m = self._measured(fresh=True)
        q = safe_step(q_m, self.q_open_rad, self.safety.config.max_step_rad, self.open_step_fraction)
        return super().send_command(q)

    def _hold_position(self, q_measured: np.ndarray) -> np.ndarray:
        """Latched: the squeeze goal, clipped to ``max_step_rad`` around ``q_measured``; else measured."""
        if self.grasp_latched and self.latched_goal is not None:
            return safe_step(q_measured, self.latched_goal, self.safety.config.max_step_rad, 1.0)
        return q_measured
