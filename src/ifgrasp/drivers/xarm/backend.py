"""xArm7 backend over ``xarm-python-sdk`` (``XArmAPI``), streaming joint targets in servo mode.

Mode choice: servo mode 1 with ``set_servo_angle_j`` (the controller executes only the latest
target, no planning of its own) streamed at ``rate_hz`` (<= 250 Hz): our safety layer and our
trajectories decide speeds and accelerations, and a stale stream just holds the last target,
never continues a velocity (which mode 4, joint velocity control, would). Mode 6 (online
trajectory planning) would re-plan under us and blur the limits we enforce.

Connect: ``clean_error``, ``clean_warn``, ``motion_enable(True)``, tool payload (the LEAP Hand's
mass and centre of gravity), collision sensitivity, ``set_mode(1)``, ``set_state(0)``. The same
sequence is ``recover()`` after a collision or an e-stop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.drivers.arm import ArmDriver
from ifgrasp.drivers.base import JointState
from ifgrasp.drivers.limits import JointLimits, arm_hand_points_fk, arm_limits
from ifgrasp.drivers.safety import SafetyConfig
from ifgrasp.errors import DriverError

SERVO_MODE = 1
#: Controller error codes we name in messages (xarm/core/config/x_code.py).
CONTROLLER_ERRORS = {1: "emergency stop button pushed in (release it)", 22: "self-collision",
                     23: "joint angle exceeds limit", 24: "speed exceeds limit",
                     31: "collision caused abnormal current", 35: "safety boundary limit"}
#: SDK API return codes (xarm/x3/code.py).
API_CODES = {-1: "not connected", -7: "joint limit", 1: "uncleared controller error",
             2: "uncleared warning", 3: "reply timeout", 9: "state not ready to move", 12: "parameter error"}


class XArmApiLike(Protocol):
    """What we use of ``xarm.wrapper.XArmAPI`` (constructed with ``is_radian=True``)."""

    connected: bool
    error_code: int
    warn_code: int
    state: int
    mode: int

    def connect(self) -> None: ...
    def disconnect(self) -> None: ...
    def clean_error(self) -> int: ...
    def clean_warn(self) -> int: ...
    def motion_enable(self, enable: bool = True) -> int: ...
    def set_mode(self, mode: int = 0) -> int: ...
    def set_state(self, state: int = 0) -> int: ...
    def set_tcp_load(self, weight: float, center_of_gravity: list) -> int: ...
    def set_collision_sensitivity(self, value: int) -> int: ...
    def emergency_stop(self) -> None: ...
    def set_servo_angle_j(self, angles: list, is_radian: bool | None = None) -> int: ...
    def get_joint_states(self, is_radian: bool | None = None) -> tuple[int, list]: ...


class XarmConfig(Config):
    """xArm7 controller settings."""

    ip: str = Field("192.168.1.209", description="controller IP address")
    payload_kg: float = Field(0.75, ge=0, le=3.5, description="tool mass: LEAP Hand + mount, kg (weigh yours)")
    payload_cog_mm: tuple[float, float, float] = Field((0.0, 0.0, 60.0), description="tool centre of "
                                                        "gravity in the flange frame, mm (SDK unit)")
    collision_sensitivity: int = Field(3, ge=0, le=5, description="0 off .. 5 most sensitive")
    rate_hz: float = Field(100.0, gt=0, le=250, description="streaming rate in servo mode, Hz")
    max_acceleration_rad_s2: float = Field(8.0, gt=0, description="joint acceleration limit, rad/s^2")
    check_workspace: bool = Field(True, description="refuse commands putting the hand outside the box")
    safety: SafetyConfig = Field(SafetyConfig(max_step_rad=0.05, velocity_scale=0.5), description="safety")


def describe_error(code: int) -> str:
    return f"controller error {code}: {CONTROLLER_ERRORS.get(code, 'see the xArm manual')}"


class XArm7(ArmDriver):
    """The uFactory xArm7 (see module docstring)."""

    def __init__(self, config: XarmConfig | None = None, limits: JointLimits | None = None,
                 api_factory: Callable[[str], XArmApiLike] | None = None, fk=None, **kwargs):
        self.config = config or XarmConfig()
        limits = limits or arm_limits(self.config.max_acceleration_rad_s2)
        if fk is None and self.config.check_workspace:
            fk = arm_hand_points_fk()
        super().__init__(limits, self.config.safety, fk=fk, **kwargs)
        self.rate_hz = self.config.rate_hz
        self._api_factory = api_factory or _sdk_api
        self.api: XArmApiLike | None = None

    def _check(self, code: int, what: str) -> None:
        if code != 0:
            err = getattr(self.api, "error_code", 0)
            raise DriverError(f"xArm {what} failed: code {code} ({API_CODES.get(code, 'unknown')})"
                              + (f"; {describe_error(err)}" if err else ""))

    def _connect(self) -> None:
        self.api = self._api_factory(self.config.ip)
        self.api.connect()
        if not self.api.connected:
            raise DriverError(f"cannot reach the xArm controller at {self.config.ip}")
        self._recover()
        cfg = self.config
        self._check(self.api.set_tcp_load(cfg.payload_kg, list(cfg.payload_cog_mm)), "set_tcp_load")
        self._check(self.api.set_collision_sensitivity(cfg.collision_sensitivity), "set_collision_sensitivity")

    def _recover(self) -> None:
        """The documented sequence: clean_error, clean_warn, motion_enable, set_mode(1), set_state(0)."""
        api = self.api
        api.clean_error()
        api.clean_warn()
        if api.error_code:
            raise DriverError(f"the arm is in an error state that cannot be cleared: {describe_error(api.error_code)}")
        self._check(api.motion_enable(True), "motion_enable")
        self._check(api.set_mode(SERVO_MODE), "set_mode(1)")
        self._check(api.set_state(0), "set_state(0)")

    def _disconnect(self) -> None:
        if self.api is not None:
            self.api.disconnect()  # servo mode holds the last target (the measured pose after stop())

    def emergency_stop(self) -> None:
        self.safety.stop()
        if self.api is not None:
            self.api.emergency_stop()
        self.fault = "emergency stop"

    def _read(self) -> JointState:
        code, (pos, vel, eff) = self.api.get_joint_states(is_radian=True)
        if code != 0:
            raise DriverError(f"xArm state read failed: code {code} ({API_CODES.get(code, 'unknown')})")
        err = self.api.error_code
        return JointState(self.names, np.asarray(pos, float), np.asarray(vel, float), np.asarray(eff, float),
                          np.full(7, np.nan), self.clock(), "N*m", (describe_error(err),) if err else ())

    def _write(self, q_rad: np.ndarray) -> None:
        self._check(self.api.set_servo_angle_j(q_rad.tolist(), is_radian=True), "set_servo_angle_j")


def _sdk_api(ip: str) -> XArmApiLike:
    from xarm.wrapper import XArmAPI

    return XArmAPI(ip, is_radian=True, do_not_open=True)


def make_xarm(section: dict, **kwargs) -> XArm7:
    """Registry factory: ``section`` is the ``arm.xarm`` part of config/drivers.yaml."""
    return XArm7(XarmConfig.from_dict(section), **kwargs)
