"""LEAP Hand backend over ``dynamixel-sdk``: 16 XC330 motors, 4 Mbaud, current-based position control.

At ``connect()``: open the port (refused with a clear message when another program holds it),
ping every ID (missing IDs listed; no answer at all -> wrong baud, power or cable), then per motor:
torque off, operating mode 5 (current-based position), PID (softer on the side-to-side joints),
goal current = the configured current limit (refused above ``current_hard_max_ma`` or the motor's own
Current Limit register), goal = present position, torque on. Reads are one GroupSyncRead of the
present-state block (current, velocity, position, voltage, temperature) plus one of the Hardware
Error Status; writes are one GroupSyncWrite of Goal Position. Joint order = motor ID order.
"""

from __future__ import annotations

import errno
import fcntl
import os
from typing import Protocol

import numpy as np
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.drivers.base import JointState
from ifgrasp.drivers.hand import HandDriver
from ifgrasp.drivers.leap import control_table as ct
from ifgrasp.drivers.limits import JointLimits, hand_limits
from ifgrasp.drivers.safety import SafetyConfig
from ifgrasp.errors import ConfigError, DriverError


class PortHandlerLike(Protocol):
    """What we use of ``dynamixel_sdk.PortHandler``."""

    ser: object
    is_open: bool

    def openPort(self) -> bool: ...
    def setBaudRate(self, baudrate: int) -> bool: ...
    def closePort(self) -> None: ...


class LeapConfig(Config):
    """LEAP Hand bus and motor settings (LEAP Hand API defaults)."""

    port: str = Field("/dev/ttyUSB0", description="serial device; prefer /dev/serial/by-id/...")
    baud: int = Field(4_000_000, description="bus baud rate, bit/s (LEAP ships at 4 Mbaud)")
    motor_ids: tuple[int, ...] = Field(tuple(range(16)), description="motor IDs in joint order")
    kp: int = Field(600, ge=0, le=16383, description="Position P gain (LEAP: 600-800)")
    ki: int = Field(0, ge=0, le=16383, description="Position I gain")
    kd: int = Field(200, ge=0, le=16383, description="Position D gain (LEAP: 200)")
    side_ids: tuple[int, ...] = Field((0, 4, 8), description="side-to-side (abduction) motors")
    side_gain_scale: float = Field(0.75, gt=0, le=1, description="P/D scale on side-to-side motors")
    current_limit_ma: int = Field(350, gt=0, description="goal current per motor, mA (lite 350, full 550)")
    current_hard_max_ma: int = Field(550, gt=0, description="refuse current limits above this, mA")
    temperature_max_c: float = Field(65.0, description="at or above: fault and hold")
    status_every: int = Field(1, ge=1, description="read Hardware Error Status every N reads")
    q_open_rad: tuple[float, ...] | None = Field(None, description="open pose (None: the hand table's)")
    safety: SafetyConfig = Field(SafetyConfig(max_step_rad=0.3), description="safety layer")


def _port_holders(path: str) -> list[str]:
    """``"pid (name)"`` of other processes with ``path`` open (Linux /proc scan, best effort)."""
    try:
        target = os.path.realpath(path)
    except OSError:
        return []
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.path.realpath(f"/proc/{pid}/fd/{fd}") == target for fd in fds):
                name = open(f"/proc/{pid}/comm").read().strip()
                out.append(f"{pid} ({name})")
        except OSError:
            continue
    return out


class LeapHand(HandDriver):
    """The LEAP Hand on a Dynamixel bus (see module docstring)."""

    def __init__(self, config: LeapConfig | None = None, limits: JointLimits | None = None, **kwargs):
        self.config = config or LeapConfig()
        limits = limits or hand_limits()
        if len(self.config.motor_ids) != limits.dof:
            raise ConfigError(f"{len(self.config.motor_ids)} motor IDs for {limits.dof} joints")
        if self.config.current_limit_ma > self.config.current_hard_max_ma:
            raise ConfigError(f"current_limit_ma = {self.config.current_limit_ma} is above the safe maximum "
                              f"current_hard_max_ma = {self.config.current_hard_max_ma} mA")
        if self.config.q_open_rad is not None:
            q_open = np.asarray(self.config.q_open_rad)
        else:
            from ifgrasp.hand.joints import OPEN_JOINTS_RAD

            q_open = OPEN_JOINTS_RAD if len(OPEN_JOINTS_RAD) == limits.dof else None
        super().__init__(limits, self.config.safety, q_open_rad=q_open, **kwargs)
        self._ids = list(self.config.motor_ids)
        self._port: PortHandlerLike | None = None
        self._reads = 0
        self._hw_errors = np.zeros(len(self._ids), dtype=np.int64)  # (J,) last Hardware Error Status

    # -- connection ----------------------------------------------------------------------------------
    def _connect(self) -> None:
        import dynamixel_sdk as dxl
        from serial import SerialException

        cfg = self.config
        self._sdk = dxl
        self._ph = dxl.PacketHandler(2.0)
        port = dxl.PortHandler(cfg.port)
        try:
            opened = port.openPort()
        except SerialException as exc:
            busy = isinstance(exc.__context__, OSError) and exc.__context__.errno == errno.EBUSY
            raise DriverError(self._busy_msg() if busy else f"cannot open LEAP port {cfg.port}: {exc}") from exc
        if not opened:
            raise DriverError(f"cannot open LEAP port {cfg.port}")
        try:  # an advisory exclusive lock: a second program (or a second driver) gets a clear message
            fcntl.flock(port.ser.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            port.closePort()
            raise DriverError(self._busy_msg()) from None
        self._port = port
        try:
            if not port.setBaudRate(cfg.baud):
                raise DriverError(f"baud rate {cfg.baud} not supported; use one of {sorted(ct.BAUD_RATES.values())}")
            fcntl.flock(port.ser.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # setBaudRate reopens the port
            self._check_motors()
            self._configure()
        except BaseException:
            self._close_port()
            raise

    def _busy_msg(self) -> str:
        holders = _port_holders(self.config.port)
        who = f" by {', '.join(holders)}" if holders else ""
        return (f"LEAP port {self.config.port} is busy: held{who} by another program (Dynamixel Wizard, "
                "another driver?); close it and retry")

    def _check_motors(self) -> None:
        found, missing = [], []
        for i in self._ids:
            _, res, _ = self._ph.ping(self._port, i)
            (found if res == self._sdk.COMM_SUCCESS else missing).append(i)
        if not found:
            raise DriverError(f"no motor answered on {self.config.port} at {self.config.baud} baud: wrong baud "
                              "rate, hand not powered (5 V) or cable unplugged; expected IDs "
                              f"{self._ids}")
        if missing:
            raise DriverError(f"LEAP motors missing: IDs {missing} did not answer (found {found}); check their "
                              "cables and IDs")

    def _configure(self) -> None:
        cfg = self.config
        for i in self._ids:
            self._write_reg(i, ct.TORQUE_ENABLE, 0)
            self._write_reg(i, ct.OPERATING_MODE, ct.CURRENT_BASED_POSITION_MODE)
            motor_max = self._read_reg(i, ct.CURRENT_LIMIT)  # mA on XC330
            if cfg.current_limit_ma > motor_max:
                raise DriverError(f"motor {i}: current_limit_ma = {cfg.current_limit_ma} is above its Current "
                                  f"Limit register ({motor_max} mA)")
            scale = cfg.side_gain_scale if i in cfg.side_ids else 1.0
            self._write_reg(i, ct.POSITION_P_GAIN, int(cfg.kp * scale))
            self._write_reg(i, ct.POSITION_I_GAIN, cfg.ki)
            self._write_reg(i, ct.POSITION_D_GAIN, int(cfg.kd * scale))
            self._write_reg(i, ct.GOAL_CURRENT, cfg.current_limit_ma)
            self._write_reg(i, ct.GOAL_POSITION, self._read_reg(i, ct.PRESENT_POSITION))  # no jump at torque on
            self._write_reg(i, ct.TORQUE_ENABLE, 1)
        self._reader = self._sdk.GroupSyncRead(self._port, self._ph, *ct.STATE_BLOCK)
        self._err_reader = self._sdk.GroupSyncRead(self._port, self._ph, *ct.HARDWARE_ERROR_STATUS)
        self._writer = self._sdk.GroupSyncWrite(self._port, self._ph, *ct.GOAL_POSITION)
        for i in self._ids:
            self._reader.addParam(i)
            self._err_reader.addParam(i)

    def _write_reg(self, dxl_id: int, reg: tuple[int, int], value: int) -> None:
        addr, size = reg
        fn = {1: self._ph.write1ByteTxRx, 2: self._ph.write2ByteTxRx, 4: self._ph.write4ByteTxRx}[size]
        res, err = fn(self._port, dxl_id, addr, int(value) % (1 << (8 * size)))
        if res != self._sdk.COMM_SUCCESS or err & 0x7F:
            raise DriverError(f"motor {dxl_id}: writing {value} at address {addr} failed: "
                              f"{self._ph.getTxRxResult(res) if res else self._ph.getRxPacketError(err)}")

    def _read_reg(self, dxl_id: int, reg: tuple[int, int]) -> int:
        addr, size = reg
        fn = {1: self._ph.read1ByteTxRx, 2: self._ph.read2ByteTxRx, 4: self._ph.read4ByteTxRx}[size]
        value, res, _ = fn(self._port, dxl_id, addr)
        if res != self._sdk.COMM_SUCCESS:
            raise DriverError(f"motor {dxl_id}: no reply reading address {addr} ({self._ph.getTxRxResult(res)})")
        return value

    def _close_port(self) -> None:
        if self._port is not None and self._port.is_open:
            self._port.closePort()  # closing the file releases the flock
        self._port = None

    def _disconnect(self) -> None:
        self._close_port()

    def _recover(self) -> None:
        """Reboot motors with a hardware error (clears it, torque off), then configure again."""
        for k, i in enumerate(self._ids):
            if self._hw_errors[k]:
                self._ph.reboot(self._port, i)
        self._hw_errors[:] = 0
        self._check_motors()
        self._configure()

    def torque_off(self) -> None:
        """Dry runs only: torque off on every motor (the hand goes limp); commands refused after it."""
        self.safety.stop()
        for i in self._ids:
            self._write_reg(i, ct.TORQUE_ENABLE, 0)

    # -- I/O -------------------------------------------------------------------------------------------
    def _read(self) -> JointState:
        sdk, r = self._sdk, self._reader
        res = r.txRxPacket()
        if res != sdk.COMM_SUCCESS:
            # the SDK reads replies in ID order and stops at the first silent motor
            first = next((i for i in self._ids if not r.data_dict.get(i)), self._ids[0])
            raise DriverError(f"LEAP bus timeout: no reply from motor ID {first} onwards "
                              f"({self._ph.getTxRxResult(res)}); holding, check the cable")
        raw = np.array([[r.getData(i, a, n) for (a, n) in (ct.PRESENT_CURRENT, ct.PRESENT_VELOCITY,
                                                           ct.PRESENT_POSITION, ct.PRESENT_TEMPERATURE)]
                        for i in self._ids], dtype=np.int64)  # (J, 4)
        self._reads += 1
        if self._reads % self.config.status_every == 0:
            if self._err_reader.txRxPacket() == sdk.COMM_SUCCESS:
                self._hw_errors = np.array([self._err_reader.getData(i, *ct.HARDWARE_ERROR_STATUS)
                                            for i in self._ids], dtype=np.int64)
        temp = raw[:, 3].astype(np.float64)  # (J,) degC
        errors = [f"motor {i}: {ct.describe_hardware_error(int(b))}" for i, b in zip(self._ids, self._hw_errors) if b]
        errors += [f"motor {i}: temperature {t:.0f} C >= {self.config.temperature_max_c:.0f} C"
                   for i, t in zip(self._ids, temp) if t >= self.config.temperature_max_c]
        return JointState(
            names=self.names,
            position_rad=ct.ticks_to_rad(raw[:, 2]),
            velocity_rad_s=ct.signed(raw[:, 1], 4) * ct.RAD_S_PER_UNIT,
            effort=ct.signed(raw[:, 0], 2) * ct.A_PER_UNIT,
            temperature_c=temp, stamp_s=self.clock(), effort_unit="A", errors=tuple(errors))

    def _write(self, q_rad: np.ndarray) -> None:
        ticks = ct.rad_to_ticks(q_rad)  # (J,)
        w = self._writer
        w.clearParam()
        for i, t in zip(self._ids, ticks):
            w.addParam(i, (int(t) % (1 << 32)).to_bytes(4, "little"))
        res = w.txPacket()
        if res != self._sdk.COMM_SUCCESS:
            raise DriverError(f"LEAP goal write failed: {self._ph.getTxRxResult(res)}")


def make_leap(section: dict, **kwargs) -> LeapHand:
    """Registry factory: ``section`` is the ``hand.leap`` part of config/drivers.yaml."""
    return LeapHand(LeapConfig.from_dict(section), **kwargs)
