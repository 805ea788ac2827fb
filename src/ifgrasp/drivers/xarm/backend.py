"""xArm7 backend over ``xarm-python-sdk`` (``XArmAPI``), streaming joint targets in servo mode.

Mode choice: servo mode 1 with ``set_servo_angle_j`` (the controller executes only the latest
target, no planning of its own) streamed at ``rate_hz`` (<= 250 Hz): our safety layer and our
trajectories decide speeds and accelerations, and a stale stream just holds the last target,
never continues a velocity (which mode 4, joint velocity control, would). Mode 6 (online
trajectory planning) would re-plan under us and blur the limits we enforce.

Connect (uFactory's order, and the controller's rule that configuration calls, payload and collision
sensitivity, stop the arm and drop it to mode 0 / state 5): ``clean_warn``, ``motion_enable(True)``,
``set_mode(1)``, ``set_state(0)`` and wait for the controller to report it ready (configuration calls
are refused while stopped), collision sensitivity, tool payload, then ``set_mode(1)``, ``set_state(0)``
again and wait until the controller reports mode 1 and a ready state (it takes a moment; servo
targets sent before are refused with code 9). Connecting never clears a controller error: an arm in
error is refused with its code unless ``clear_errors`` is set (``--clear-errors``); ``recover()`` (an
explicit request) clears it. ``read_only`` connects and reads without enabling, configuring or moving
(``ifgrasp hw dry-run arm``). A lost link (SDK code -1 "xArm is not connect", or 3, no reply) is a
driver fault: ``DriverError`` naming it, the controller holds its last servo target; ``recover()``
reconnects once the link is back.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Protocol

import numpy as np
from pydantic import Field, field_validator

from ifgrasp.config import Config
from ifgrasp.drivers.arm import ArmDriver
from ifgrasp.drivers.base import JointState
from ifgrasp.drivers.limits import JointLimits, arm_hand_points_fk, arm_limits
from ifgrasp.drivers.safety import SafetyConfig
from ifgrasp.errors import DriverError

SERVO_MODE = 1
#: Controller error codes we name in messages when the SDK's table is not importable (x_code.py).
CONTROLLER_ERRORS = {1: "emergency stop button pushed in (release it)", 22: "self-collision",
                     23: "joint angle exceeds limit", 24: "speed exceeds limit",
                     31: "collision caused abnormal current", 35: "safety boundary limit"}
#: SDK API return codes (xarm/x3/code.py).
API_CODES = {-1: "not connected", -7: "joint limit", -8: "target out of the joint range (refused by the SDK)",
             1: "uncleared controller error", 2: "uncleared warning", 3: "reply timeout",
             9: "state not ready to move", 12: "parameter error"}
#: SDK codes meaning the link to the controller is gone.
LINK_LOST = {-1: "the SDK reports 'xArm is not connect'", 3: "no reply within the SDK's 2 s timeout",
             8: "the SDK could not send"}
DEFAULT_COMMAND_PORT, DEFAULT_REPORT_PORT = 502, 30002


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
    def get_state(self) -> tuple[int, int]: ...
    def get_err_warn_code(self) -> tuple[int, list]: ...
    def set_tcp_load(self, weight: float, center_of_gravity: list) -> int: ...
    def set_collision_sensitivity(self, value: int) -> int: ...
    def emergency_stop(self) -> None: ...
    def set_servo_angle_j(self, angles: list, is_radian: bool | None = None) -> int: ...
    def get_joint_states(self, is_radian: bool | None = None) -> tuple[int, list]: ...


class XarmConfig(Config):
    """xArm7 controller settings."""

    ip: str = Field("192.168.1.209", description="controller IPv4 address")
    command_port: int = Field(DEFAULT_COMMAND_PORT, ge=1, le=65535, description="command port (502; "
                              "another value only for the emulator)")
    report_port: int = Field(DEFAULT_REPORT_PORT, ge=1, le=65535, description="rich report port (30002)")
    payload_kg: float = Field(0.75, ge=0, le=3.5, description="tool mass: LEAP Hand + mount, kg (weigh yours)")
    payload_cog_mm: tuple[float, float, float] = Field((0.0, 0.0, 60.0), description="tool centre of "
                                                        "gravity in the flange frame, mm (SDK unit)")
    collision_sensitivity: int = Field(3, ge=0, le=5, description="0 off .. 5 most sensitive")
    rate_hz: float = Field(100.0, gt=0, le=250, description="streaming rate in servo mode, Hz")
    settle_tol_rad: float = Field(0.01, gt=0, le=0.02, description="largest measured joint error accepted at "
                                  "a trajectory's end, rad (strict: the xArm7 repeats to 0.1 mm; the SDK has "
                                  "no position check of its own, its wait_move only watches the state)")
    ready_timeout_s: float = Field(3.0, gt=0, description="wait for the controller to report ready "
                                   "after set_state(0), s")
    max_acceleration_rad_s2: float = Field(8.0, gt=0, description="joint acceleration limit, rad/s^2")
    check_workspace: bool = Field(True, description="refuse commands putting the hand outside the box")
    safety: SafetyConfig = Field(SafetyConfig(max_step_rad=0.05, velocity_scale=0.5), description="safety")

    @field_validator("ip")
    @classmethod
    def _ipv4(cls, v: str) -> str:
        try:
            ipaddress.IPv4Address(v)
        except ValueError:
            raise ValueError(f"'{v}' is not an IPv4 address; give the controller's IP "
                             "(the SDK opens anything else as a serial port), e.g. 192.168.1.209") from None
        return v


def describe_error(code: int) -> str:
    """``controller error 31 (Collision Caused Abnormal Current)`` with the SDK's own title if available."""
    try:
        from xarm.core.config.x_code import ControllerError

        title = ControllerError(code).title["en"]
    except Exception:  # SDK not installed or unknown code
        title = CONTROLLER_ERRORS.get(code, "see the xArm manual")
    return f"controller error {code} ({title})"


def sdk_ports(command_port: int, report_port: int) -> None:
    """Point the SDK at other ports (it has no option for it: ``XCONF.SocketConf`` is read at connect).

    Process-wide (set before each connect); other than 502/30002 only for the emulator. The SDK picks
    the report layout by the port number, so the rich layout (30002) is mapped onto ``report_port``.
    """
    from xarm.core.config.x_config import XCONF
    from xarm.x3 import base as x3_base
    from xarm.x3.report import ReportDataStructure

    XCONF.SocketConf.TCP_CONTROL_PORT = command_port
    XCONF.SocketConf.TCP_REPORT_RICH_PORT = report_port
    original = getattr(ReportDataStructure.create, "__func__", ReportDataStructure.create)
    original = getattr(original, "_ifgrasp_original", original)

    def create(cls, sock_port, **kwargs):
        port = XCONF.SocketConf.TCP_REPORT_RICH_PORT
        return original(cls, DEFAULT_REPORT_PORT if sock_port == port else sock_port, **kwargs)

    create._ifgrasp_original = original
    x3_base.ReportDataStructure.create = classmethod(create)


class XArm7(ArmDriver):
    """The uFactory xArm7 (see module docstring)."""

    def __init__(self, config: XarmConfig | None = None, limits: JointLimits | None = None,
                 api_factory: Callable[[XarmConfig], XArmApiLike] | None = None, fk=None,
                 clear_errors: bool = False, read_only: bool = False, **kwargs):
        self.config = config or XarmConfig()
        limits = limits or arm_limits(self.config.max_acceleration_rad_s2)
        if fk is None and self.config.check_workspace:
            fk = arm_hand_points_fk()
        super().__init__(limits, self.config.safety, fk=fk, **kwargs)
        self.rate_hz = self.config.rate_hz
        self.settle_tol_rad = self.config.settle_tol_rad
        self._api_factory = api_factory or _sdk_api
        self.clear_errors, self.read_only = clear_errors, read_only
        self.api: XArmApiLike | None = None
        self._link_lost: str | None = None  # once lost, calls fail at once (no 2 s SDK timeouts) until reconnect

    @property
    def _where(self) -> str:
        return f"the xArm controller at {self.config.ip}"

    def _check(self, code: int, what: str) -> None:
        if code in LINK_LOST:
            self._link_lost = self._link_lost_message(code, what)
            raise DriverError(self._link_lost)
        if code != 0:
            err = getattr(self.api, "error_code", 0)
            if code == 1 and not err:  # the report (10 Hz) may lag the reply's error bit: ask
                ret = self.api.get_err_warn_code()
                err = ret[1][0] if ret[0] == 0 else 0
            raise DriverError(f"xArm {what} failed: code {code} ({API_CODES.get(code, 'unknown')})"
                              + (f"; {describe_error(err)}" if err else ""))

    def _link_lost_message(self, code: int, what: str) -> str:
        return (f"lost the link to {self._where} during {what} ({LINK_LOST[code]}); the controller holds its "
                "last target. Check the Ethernet cable and the control box, then recover() (it reconnects)")

    def _connect(self) -> None:
        try:
            self.api = self._api_factory(self.config)
            self.api.connect()
        except Exception as exc:  # the SDK raises bare Exception('connect socket failed')
            raise DriverError(f"cannot reach {self._where} (port {self.config.command_port}): {exc}; check "
                              "the cable, that the control box is on, and the IP (arm.xarm.ip / --ip)") from None
        if not self.api.connected:
            raise DriverError(f"cannot reach {self._where}; check the cable, the control box and the IP")
        self._link_lost = None
        code, (err, warn) = self._err_warn()
        if err and not self.clear_errors:
            raise DriverError(f"the arm reports {describe_error(err)}; fix the cause, then clear it on the "
                              "pendant / xArm Studio or connect with --clear-errors (clear_errors=True)")
        if self.read_only:
            if err:
                self.api.clean_error()
                self.api.clean_warn()
            return
        self._recover()
        cfg = self.config
        # configuration calls stop the arm (mode 0, state 5): they go before the final mode/state
        self._check(self.api.set_collision_sensitivity(cfg.collision_sensitivity), "set_collision_sensitivity")
        self._wait_ready(None, "set_collision_sensitivity")  # the SDK's own set_state(0) after it
        self._check(self.api.set_tcp_load(cfg.payload_kg, list(cfg.payload_cog_mm)), "set_tcp_load")
        self._enter_servo_mode()

    def _err_warn(self) -> tuple[int, list]:
        code, ew = self.api.get_err_warn_code()
        self._check(code, "get_err_warn_code")
        return code, list(ew)

    def _recover(self) -> None:
        """clean_error, clean_warn, motion_enable, set_mode(1), set_state(0), then wait for ready.

        After a lost link: a fresh SDK connection and the whole connect sequence (the controller may
        have restarted and lost payload and sensitivity); ``recover()`` is a request, so it clears errors.
        """
        if self._link_lost:
            self.api.disconnect()
            clear, self.clear_errors = self.clear_errors, True
            try:
                self._connect()
            finally:
                self.clear_errors = clear
            return
        api = self.api
        code = api.clean_error()  # 1 while the cause persists (e-stop held): the read below names it
        self._check(0 if code in (1, 2) else code, "clean_error")
        code = api.clean_warn()
        self._check(0 if code in (1, 2) else code, "clean_warn")
        _, (err, _w) = self._err_warn()
        if err:
            raise DriverError(f"the arm is in an error state that cannot be cleared: {describe_error(err)}")
        self._check(api.motion_enable(True), "motion_enable")
        self._enter_servo_mode()

    def _enter_servo_mode(self) -> None:
        """set_mode(1), set_state(0), then poll until the controller reports mode 1 and a ready state."""
        api = self.api
        self._check(api.set_mode(SERVO_MODE), "set_mode(1)")
        self._check(api.set_state(0), "set_state(0)")
        self._wait_ready(SERVO_MODE, "set_state(0)")

    def _wait_ready(self, mode: int | None, after: str) -> None:
        """Poll the controller until it reports a ready state (and ``mode``), as uFactory's examples do; an
        error fails at once, once the controller confirms it (the SDK's cached code may be a late report)."""
        api = self.api
        deadline = self.clock() + self.config.ready_timeout_s
        while True:
            code, state = api.get_state()
            self._check(code, "get_state")
            if state in (0, 1, 2) and (mode is None or api.mode == mode):
                return
            err = api.error_code
            if err:  # the SDK's cached code: a report sent before a clean_error may land after it
                _, (err, _w) = self._err_warn()
            if err or self.clock() > deadline:
                why = describe_error(err) if err else f"state {state}, mode {api.mode}"
                raise DriverError(f"the xArm did not become ready{'' if mode is None else f' in mode {mode}'} "
                                  f"within {self.config.ready_timeout_s} s after {after} ({why})")
            self.sleep(0.02)

    def _disconnect(self) -> None:
        if self.api is not None:
            self.api.disconnect()  # servo mode holds the last target (the measured pose after stop())

    def emergency_stop(self) -> None:
        self.safety.stop()
        if self.api is not None and not self.read_only:
            self.api.emergency_stop()
        self.fault = "emergency stop"

    def _read(self) -> JointState:
        if self._link_lost:
            raise DriverError(self._link_lost)
        ret = self.api.get_joint_states(is_radian=True)
        code = ret[0]
        if code in LINK_LOST:
            self._link_lost = self._link_lost_message(code, "a state read")
            raise DriverError(self._link_lost)
        if code != 0:
            raise DriverError(f"xArm state read failed: code {code} ({API_CODES.get(code, 'unknown')})")
        pos, vel, eff = ret[1]
        err = self.api.error_code
        return JointState(self.names, np.asarray(pos, float), np.asarray(vel, float), np.asarray(eff, float),
                          np.full(7, np.nan), self.clock(), "N*m", (describe_error(err),) if err else ())

    def _write(self, q_rad: np.ndarray) -> None:
        if self.read_only:
            raise DriverError("the xArm was connected read-only (dry run): no command is sent")
        if self._link_lost:
            raise DriverError(self._link_lost)
        self._check(self.api.set_servo_angle_j(q_rad.tolist(), is_radian=True), "set_servo_angle_j")


def _sdk_api(config: XarmConfig) -> XArmApiLike:
    from xarm.wrapper import XArmAPI

    sdk_ports(config.command_port, config.report_port)  # also puts 502/30002 back after an emulator
    return XArmAPI(config.ip, is_radian=True, do_not_open=True)


def make_xarm(section: dict, **kwargs) -> XArm7:
    """Registry factory: ``section`` is the ``arm.xarm`` part of config/drivers.yaml."""
    return XArm7(XarmConfig.from_dict(section), **kwargs)
