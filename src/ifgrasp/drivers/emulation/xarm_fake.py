"""A faithful fake of ``xarm.wrapper.XArmAPI`` (the subset the xArm backend uses).

Not a mock of our code: it models the controller as the SDK documents it, so the real backend
code runs against it. States: 0 ready, 1 moving, 2 sleeping, 3 suspended, 4 stopped; modes: 0
position, 1 servo (``set_servo_angle_j``), 4/6 velocity/online planning (accepted, unused). API
return codes (``xarm/x3/code.py``): 0 ok, 1 uncleared error, 9 state not ready, 12 parameter error,
-1 not connected, -7 joint limit. Controller error codes (``xarm/core/config/x_code.py``):
1 e-stop button pushed, 23 joint angle exceeds limit, 24 speed exceeds limit, 31 collision caused
abnormal current. An error stops the arm (state 4) and drops it to mode 0; after ``clean_error``
the arm still needs ``motion_enable(True)``, ``set_mode`` and ``set_state(0)``, the sequence users
most often miss.
"""

from __future__ import annotations

import time

import numpy as np

CONTROLLER_ERRORS = {1: "Emergency Stop Button pushed in", 22: "Self-Collision Error",
                     23: "Joints Angle Exceed Limit", 24: "Speed Exceeds Limit",
                     31: "Collision Caused Abnormal Current", 35: "Safety Boundary Limit"}


class FakeXArmAPI:
    """Simulated xArm7 controller behind the ``XArmAPI`` method names and return conventions."""

    def __init__(self, lower_rad, upper_rad, max_speed_rad_s: float = np.pi, q0_rad=None,
                 error_code: int = 0, estop_button_pressed: bool = False):
        self.lower, self.upper = np.asarray(lower_rad, float), np.asarray(upper_rad, float)
        self.max_speed = max_speed_rad_s
        self.q = np.zeros(7) if q0_rad is None else np.asarray(q0_rad, float).copy()  # (7,)
        self.v = np.zeros(7)
        self.connected = False
        self.state, self.mode = (4, 0) if error_code else (2, 0)
        self.error_code, self.warn_code = error_code, 0
        self.estop_button_pressed = estop_button_pressed
        if estop_button_pressed:
            self.error_code, self.state = 1, 4
        self.motion_enabled = False
        self.tcp_load: tuple[float, list] | None = None
        self.collision_sensitivity = 3
        self.calls: list[tuple] = []
        self.targets: list[np.ndarray] = []  # every accepted servo target
        self._t_last: float | None = None

    # -- faults for tests ------------------------------------------------------------------------
    def inject_error(self, code: int) -> None:
        """A controller error (e.g. 31 collision): the arm stops, mode drops to 0."""
        self.error_code, self.state, self.mode, self.v = code, 4, 0, np.zeros(7)

    @property
    def has_error(self) -> bool:
        return self.error_code != 0

    # -- API -------------------------------------------------------------------------------------
    def _log(self, *call) -> None:
        self.calls.append(call)

    def connect(self, *args, **kwargs) -> None:
        self._log("connect")
        self.connected = True

    def disconnect(self) -> None:
        self._log("disconnect")
        self.connected = False

    def clean_error(self) -> int:
        self._log("clean_error")
        if not self.estop_button_pressed:
            self.error_code = 0
        return 0

    def clean_warn(self) -> int:
        self._log("clean_warn")
        self.warn_code = 0
        return 0

    def motion_enable(self, enable: bool = True, servo_id=None) -> int:
        self._log("motion_enable", enable)
        if self.error_code:
            return 1
        self.motion_enabled = bool(enable)
        return 0

    def set_mode(self, mode: int = 0, detection_param: int = 0) -> int:
        self._log("set_mode", mode)
        if mode not in range(8):
            return 12
        self.mode = mode  # takes effect at the next set_state(0)
        return 0

    def set_state(self, state: int = 0) -> int:
        self._log("set_state", state)
        if state == 0:
            if self.error_code:
                return 1
            if not self.motion_enabled:
                return 9
            self.state = 2  # ready, not moving
        elif state in (3, 4, 6):
            self.state, self.v = 4 if state in (4, 6) else 3, np.zeros(7)
            if state == 4:
                self.mode = 0
        return 0

    def get_state(self):
        return 0, self.state

    def get_err_warn_code(self, show: bool = False, lang: str = "en"):
        return 0, [self.error_code, self.warn_code]

    def set_tcp_load(self, weight, center_of_gravity, wait=False, **kwargs) -> int:
        self._log("set_tcp_load", weight, list(center_of_gravity))
        if not 0 <= weight <= 3.5:  # xArm7 payload 3.5 kg
            return 12
        self.tcp_load = (weight, list(center_of_gravity))
        return 0

    def set_collision_sensitivity(self, value, wait=True) -> int:
        self._log("set_collision_sensitivity", value)
        if value not in range(6):
            return 12
        self.collision_sensitivity = value
        return 0

    def emergency_stop(self) -> None:
        """SDK semantics: set_state(4) -> motion_enable(True) -> set_state(0) attempt; mode back to 0."""
        self._log("emergency_stop")
        self.state, self.mode, self.v = 4, 0, np.zeros(7)

    def set_servo_angle_j(self, angles, speed=None, mvacc=None, mvtime=None, is_radian=None, **kwargs) -> int:
        if not self.connected:
            return -1
        if self.error_code:
            return 1
        if self.mode != 1 or self.state == 4 or not self.motion_enabled:
            return 9
        q = np.asarray(angles, float)
        if q.shape != (7,):
            return 12
        if np.any(q < self.lower - 1e-6) or np.any(q > self.upper + 1e-6):
            self.inject_error(23)
            return 1
        now = time.monotonic()
        dt = max(now - self._t_last, 1 / 250) if self._t_last is not None else 1.0
        v = (q - self.q) / dt
        if np.any(np.abs(v) > self.max_speed * 1.05):
            self.inject_error(24)
            return 1
        self.q, self.v, self._t_last = q, v, now
        self.state = 1
        self.targets.append(q)
        return 0

    def get_joint_states(self, is_radian=None, num=3):
        if not self.connected:
            return -1, [[0.0] * 7] * 3
        effort = 2.0 * np.sin(self.q)  # a plausible gravity-like torque, N m
        return 0, [self.q.tolist(), self.v.tolist(), effort.tolist()]
