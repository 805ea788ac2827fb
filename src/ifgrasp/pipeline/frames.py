"""Which camera frames may a command use? One that shows the robot where it is now.

A frame taken while the robot moved shows it elsewhere: the planner would take the arm's and the
hand's own points for obstacles, and the target may since have been shoved. Waiting for a frame
stamped after the command is safe but slow (a 2 Hz simulated camera: half a period plus the
render on average, over a second on a loaded machine). A frame stamped after the robot came to
rest shows it where it is, so it is as good, and usually already there. ``RestWatch`` follows the
robot's joint readings and says from when frames are good; ``max_age_s`` bounds how old a frame
may be all the same (what the robot cannot measure, a person moving an object, goes stale too).
Stamps in seconds on the clock of the joint readings and the camera (ROS time).
"""

from __future__ import annotations

import threading

import numpy as np


class RestWatch:
    """When the robot last moved, from its joint readings (``update(stamp_s, q)``, any number of
    joints, radians): a reading more than ``tol_rad`` from the last one it kept counts as motion."""

    def __init__(self, tol_rad: float = 1e-3) -> None:
        self.tol_rad = tol_rad
        self.moved_at_s: float | None = None  # the stamp of the last reading that showed motion
        self._q: np.ndarray | None = None
        self._lock = threading.Lock()

    def update(self, stamp_s: float, q: np.ndarray) -> None:
        q = np.asarray(q, float).reshape(-1)
        with self._lock:
            if self._q is None or self._q.shape != q.shape or np.max(np.abs(q - self._q)) > self.tol_rad:
                self._q, self.moved_at_s = q.copy(), float(stamp_s)

    def frames_from_s(self, now_s: float, max_age_s: float) -> float:
        """The earliest stamp (s) a frame may carry to be used at ``now_s``: after the robot's last
        motion and at most ``max_age_s`` old; ``now_s`` itself while no reading arrived (nothing is
        known about the robot) or with ``max_age_s`` <= 0 (fresh frames only)."""
        with self._lock:
            if self.moved_at_s is None or max_age_s <= 0:
                return float(now_s)
            return min(float(now_s), max(self.moved_at_s, now_s - max_age_s))
