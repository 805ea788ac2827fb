"""Arm driver interface: joint streaming plus trajectories, emergency stop and recovery."""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable

import numpy as np

from ifgrasp.drivers.base import JointDriver, TrajectoryFeedback
from ifgrasp.drivers.streaming import TrajectoryStream
from ifgrasp.errors import DriverError, SafetyError


class ArmDriver(JointDriver):
    """A 7-joint arm. ``execute_trajectory`` streams through the same safety layer as ``send_command``."""

    effort_unit = "N*m"
    #: Streaming rate for trajectories, Hz (xArm servo mode accepts up to 250 Hz).
    rate_hz: float = 100.0
    #: Largest measured joint error accepted at the end of a trajectory, rad.
    settle_tol_rad: float = 0.01

    def __init__(self, *args, sleep: Callable[[float], None] = time.sleep, **kwargs):
        super().__init__(*args, **kwargs)
        self.sleep = sleep

    @abstractmethod
    def emergency_stop(self) -> None:
        """Stop the arm at once (controller e-stop); it needs ``recover()`` to move again."""

    @abstractmethod
    def _recover(self) -> None:
        """Backend recovery sequence (clear errors/warnings, re-enable, reset mode and state)."""

    def execute_trajectory(self, times_s, q, feedback_cb: Callable[[TrajectoryFeedback], None] | None = None,
                           should_cancel: Callable[[], bool] | None = None) -> bool:
        """Stream ``q`` (T, J) rad at ``times_s`` (T,) s, linearly interpolated at ``rate_hz``
        (``ifgrasp.drivers.streaming.TrajectoryStream``: after a stall time advances one safe step).

        The whole trajectory is validated first (limits, jumps, speeds, accelerations, workspace,
        start near the measured position); nothing is sent if it fails. Returns True when finished,
        False when ``should_cancel()`` turned True (the arm then holds its measured position).
        A fault mid-way holds and raises ``DriverError``.
        """
        self._require_connected()
        if self.fault is not None:
            raise SafetyError(f"trajectory refused: the driver is faulted ({self.fault}); call recover()")
        stream = TrajectoryStream(self, times_s, q)  # validates; nothing sent if it fails
        dt = 1.0 / self.rate_hz
        next_s = self.clock()
        while True:
            if should_cancel is not None and should_cancel():
                self.stop()
                self.safety.enable()
                return False
            fb = stream.step()
            if feedback_cb is not None:
                feedback_cb(fb)
            if stream.sent_all:
                break
            next_s += dt
            wait = next_s - self.clock()
            if wait > 0:
                self.sleep(wait)
        return self._settle(stream.q[-1], dt, should_cancel)

    def _settle(self, q_goal: np.ndarray, dt: float, should_cancel, timeout_s: float = 2.0) -> bool:
        """Keep sending the final point until the MEASURED joints are within ``settle_tol_rad`` of it.

        The rate-limited command reaching the goal proves nothing: a controller that ignores the
        stream (wrong mode after a configuration call) would leave the arm where it was.
        """
        deadline = self.clock() + timeout_s
        err = np.inf
        while self.clock() < deadline:
            if should_cancel is not None and should_cancel():
                self.stop()
                self.safety.enable()
                return False
            sent = self.send_command(q_goal)
            err = float(np.max(np.abs(self.read_state().position_rad - q_goal)))
            if np.max(np.abs(sent - q_goal)) < 1e-9 and err < self.settle_tol_rad:
                return True
            self.sleep(dt)
        self.stop()
        self.safety.enable()
        raise DriverError(f"trajectory end not reached: the measured joints are {err:.4f} rad from the goal "
                          f"{timeout_s} s after the last point (tolerance {self.settle_tol_rad} rad); the arm "
                          "holds where it is. Is the controller in servo mode and ready?")
