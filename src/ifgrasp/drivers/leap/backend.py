"""LEAP Hand backend over ``dynamixel-sdk``: 16 XC330 motors, 4 Mbaud, current-based position control.

At ``connect()``: open the port (a busy port names its holder, a missing one says to plug it in),
ping every ID (missing IDs listed; no answer at all -> the other baud rates are tried and named),
then per motor (one block read of its control table): where the EEPROM settings differ (operating
mode 5 = current-based position, Return Delay Time = ``return_delay_time``, LEAP: 0) torque off and
write them; PID (softer on the side-to-side joints) and goal current (refused above
``current_hard_max_ma`` or the motor's Current Limit); a motor with torque off gets goal = present
position then torque on, a motor already holding keeps its goal (a reconnect does not drop a
grasp); last the Bus Watchdog (address 98) is armed: if the host sends nothing for
``bus_watchdog_ms`` the motors stop, i.e. the goal becomes the present position and the squeeze
ends. ``disconnect()`` holds and disarms it, so an orderly shutdown keeps the grasp.

A state is one Fast Sync Read (or one Sync Read) of the contiguous present-state block (current,
velocity, position, voltage, temperature); the alert bit of each motor's status byte says when to
read its Hardware Error Status. States are read at most ``state_rate_hz`` times per second, lowered
to the bus budget (``bus_budget``: baud, packet sizes, return delay, USB latency timer); a faster
``read_state()`` returns the last state. Writes are one Sync Write of Goal Position. Joint order =
motor ID order. ``recover()`` reboots only the motors with a hardware error, waits for each to
answer a ping again, clears a tripped Bus Watchdog, and configures again without taking torque off
the healthy motors.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from typing import Protocol

import numpy as np
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.drivers.base import JointState
from ifgrasp.drivers.hand import HandDriver
from ifgrasp.drivers.leap import control_table as ct
from ifgrasp.drivers.leap.bus_budget import (DEFAULT_LATENCY_TIMER_MS, BusBudget, bus_budget,
                                             usb_serial_latency_timer_ms)
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
    current_limit_ma: int = Field(550, gt=0, description="goal current per motor, mA (full hand, XC330-M288-T: 550; lite: 350)")
    current_hard_max_ma: int = Field(550, gt=0, description="refuse current limits above this, mA")
    temperature_max_c: float = Field(65.0, description="at or above: fault and hold (the grasp is kept)")
    return_delay_time: int = Field(0, ge=0, le=254, description="Return Delay Time written at connect, "
                                   "units of 2 us (LEAP: 0; factory 250 = 500 us)")
    bus_watchdog_ms: float = Field(1000.0, ge=0, le=2540, description="Bus Watchdog: the motors stop (the "
                                   "squeeze ends) when the host sends nothing this long, ms; 0 = off")
    state_rate_hz: float = Field(100.0, gt=0, description="state reads per second at most (lowered to the "
                                 "bus budget); faster read_state() calls get the last state")
    fast_sync_read: bool = Field(True, description="one Fast Sync Read reply per state (else one Sync Read)")
    latency_timer_ms: float | None = Field(None, gt=0, description="USB latency timer for the bus budget, ms; "
                                           "None: read from sysfs (16 ms, the FTDI default, where unreadable)")
    bus_share: float = Field(0.5, gt=0, le=1, description="fraction of the bus the state reads + goal "
                             "writes may use")
    reboot_timeout_s: float = Field(2.0, gt=0, description="how long a rebooted motor may take to answer")
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

    connect_faults_fatal = False  # a hot or overloaded motor at start: connected, faulted, holding
    ATTEMPTS = 5  # per transaction (see _txrx); the SDK times a reply out after ~34 ms of wall time

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
        self._hw_errors = np.zeros(len(self._ids), dtype=np.int64)  # (J,) last Hardware Error Status
        self._cached: JointState | None = None
        self._last_read_s: float | None = None
        self._last_bus_s: float | None = None  # last instruction packet sent (Bus Watchdog)
        self.latency_timer_ms: float | None = None  # read from sysfs at connect (None: not a USB adapter)
        self.bus_budget: BusBudget | None = None
        self.eeprom_changes: list[str] = []  # what the last configure changed, in words
        self.state_period_s = 1.0 / self.config.state_rate_hz

    # -- connection ----------------------------------------------------------------------------------
    def _connect(self) -> None:
        import dynamixel_sdk as dxl
        from serial import SerialException

        cfg = self.config
        self._sdk = dxl
        self._ph = dxl.PacketHandler(2.0)
        if not os.path.exists(cfg.port):
            raise DriverError(f"LEAP port {cfg.port} does not exist: plug in the U2D2 adapter and check "
                              "ls /dev/serial/by-id/ (set hand.leap.port or the node's port parameter)")
        port = dxl.PortHandler(cfg.port)
        try:
            opened = port.openPort()
        except SerialException as exc:
            busy = isinstance(exc.__context__, OSError) and exc.__context__.errno == errno.EBUSY
            raise DriverError(self._busy_msg() if busy else f"cannot open LEAP port {cfg.port}: {exc}; check "
                              "its permissions (dialout group)") from exc
        if not opened:
            raise DriverError(f"cannot open LEAP port {cfg.port}")
        try:  # an advisory exclusive lock: a second program (or a second driver) gets a clear message
            fcntl.flock(port.ser.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            port.closePort()
            raise DriverError(self._busy_msg()) from None
        self._port = port
        try:
            self._set_baud(cfg.baud)
            self._check_motors()
            self._make_groups()
            self._configure(self._ids)
            self.latency_timer_ms = usb_serial_latency_timer_ms(cfg.port)
            self.bus_budget = self.budget()
            self.state_period_s = 1.0 / self.state_rate_hz
        except BaseException:
            self._close_port()
            raise

    def budget(self) -> BusBudget:
        """The bus budget of this hand's settings (latency timer: config, else sysfs, else 16 ms)."""
        cfg = self.config
        latency = cfg.latency_timer_ms or self.latency_timer_ms or DEFAULT_LATENCY_TIMER_MS
        return bus_budget(cfg.baud, len(self._ids), ct.STATE_BLOCK[1], cfg.return_delay_time * ct.RETURN_DELAY_UNIT_US,
                          latency, fast=cfg.fast_sync_read, goal_bytes=ct.GOAL_POSITION[1], bus_share=cfg.bus_share)

    @property
    def state_rate_hz(self) -> float:
        """States per second actually read: ``state_rate_hz`` capped by the bus budget."""
        return min(self.config.state_rate_hz, self.budget().max_state_rate_hz)

    def _set_baud(self, baud: int) -> None:
        if not self._port.setBaudRate(baud):
            raise DriverError(f"baud rate {baud} not supported; use one of {sorted(ct.BAUD_RATES.values())}")
        fcntl.flock(self._port.ser.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # setBaudRate reopens the port

    def _busy_msg(self) -> str:
        holders = _port_holders(self.config.port)
        who = f" by {', '.join(holders)}" if holders else ""
        return (f"LEAP port {self.config.port} is busy: held{who} by another program (Dynamixel Wizard, "
                "another driver?); close it and retry")

    def _txrx(self, fn, *args, attempts: int | None = None):
        """One SDK transaction ``fn(port, *args)`` -> its result tuple, tried ``ATTEMPTS`` times while the
        reply is missing or corrupt (a lost status packet is not yet a fault); the last result returned."""
        for _ in range(attempts or self.ATTEMPTS):
            self._drop_stale_input()
            out = fn(self._port, *args)
            self._last_bus_s = self.clock()
            res = out[0] if len(out) == 2 else out[1]
            if res == self._sdk.COMM_SUCCESS:
                break
        return out

    def _drop_stale_input(self) -> None:
        """Discard bytes left from a reply that came after its timeout: the SDK would read them as the
        next transaction's reply (a status packet of another instruction -> garbage or IndexError)."""
        self._port.ser.reset_input_buffer()

    def _ping(self, dxl_id: int, attempts: int | None = None) -> bool:
        _, res, _ = self._txrx(self._ph.ping, dxl_id, attempts=attempts)
        return res == self._sdk.COMM_SUCCESS

    def _check_motors(self) -> None:
        found, missing = [], []
        for i in self._ids:
            (found if self._ping(i) else missing).append(i)
        if not found:
            cfg = self.config
            other = self._answering_baud()
            if other is not None:
                raise DriverError(f"no motor answered on {cfg.port} at {cfg.baud} baud: wrong baud rate, the motors "
                                  f"answer at {other} baud; set hand.leap.baud: {other} (config/drivers.yaml)")
            raise DriverError(f"no motor answered on {cfg.port} at {cfg.baud} baud (nor at any other baud rate): "
                              f"hand not powered (5 V) or cable unplugged; expected IDs {self._ids}")
        if missing:
            raise DriverError(f"LEAP motors missing: IDs {missing} did not answer (found {found}); check their "
                              "cables and IDs")

    def _answering_baud(self) -> int | None:
        """The first other baud rate at which the first motor answers (the port is set back)."""
        try:
            for baud in sorted(ct.BAUD_RATES.values(), reverse=True):
                if baud != self.config.baud:
                    self._set_baud(baud)
                    if self._ping(self._ids[0], attempts=2):
                        return baud
            return None
        finally:
            self._set_baud(self.config.baud)

    def _make_groups(self) -> None:
        sdk = self._sdk
        self._reader = sdk.GroupSyncRead(self._port, self._ph, *ct.STATE_BLOCK)
        self._bw_reader = sdk.GroupSyncRead(self._port, self._ph, *ct.BUS_WATCHDOG)
        self._writer = sdk.GroupSyncWrite(self._port, self._ph, *ct.GOAL_POSITION)
        for i in self._ids:
            self._reader.addParam(i)
            self._bw_reader.addParam(i)

    def _configure(self, ids) -> None:
        """Configure ``ids`` (see module docstring); motors already holding keep torque and goal."""
        cfg = self.config
        self.eeprom_changes = []
        start, n = 0, ct.PRESENT_TEMPERATURE[0] + 1
        for i in ids:
            data, res, _ = self._txrx(self._ph.readTxRx, i, start, n)
            if res != self._sdk.COMM_SUCCESS:
                raise DriverError(f"motor {i}: no reply reading its control table ({self._ph.getTxRxResult(res)})")
            tab = np.frombuffer(bytes(data), dtype=np.uint8)[None]  # (1, n)
            get = lambda reg: int(ct.block_field(tab, start, reg)[0])  # noqa: E731
            torque = get(ct.TORQUE_ENABLE) == 1
            motor_max = get(ct.CURRENT_LIMIT)  # mA on XC330
            if cfg.current_limit_ma > motor_max:
                raise DriverError(f"motor {i}: current_limit_ma = {cfg.current_limit_ma} is above its Current "
                                  f"Limit register ({motor_max} mA)")
            eeprom = {ct.OPERATING_MODE: ct.CURRENT_BASED_POSITION_MODE, ct.RETURN_DELAY_TIME: cfg.return_delay_time}
            todo = {reg: v for reg, v in eeprom.items() if get(reg) != v}
            if todo and torque:
                self._write_reg(i, ct.TORQUE_ENABLE, 0)  # EEPROM is locked while torque is on
                torque = False
            for reg, v in todo.items():
                self._write_reg(i, reg, v)
                self.eeprom_changes.append(f"motor {i}: address {reg[0]} {get(reg)} -> {v}")
            if get(ct.BUS_WATCHDOG) == ct.BUS_WATCHDOG_TRIPPED:
                self._write_reg(i, ct.BUS_WATCHDOG, 0)  # clears the error; goals writable again
            scale = cfg.side_gain_scale if i in cfg.side_ids else 1.0
            self._write_reg(i, ct.POSITION_P_GAIN, int(cfg.kp * scale))
            self._write_reg(i, ct.POSITION_I_GAIN, cfg.ki)
            self._write_reg(i, ct.POSITION_D_GAIN, int(cfg.kd * scale))
            self._write_reg(i, ct.GOAL_CURRENT, cfg.current_limit_ma)
            if not torque:
                self._write_reg(i, ct.GOAL_POSITION, self._read_reg(i, ct.PRESENT_POSITION))  # no jump at torque on
                self._write_reg(i, ct.TORQUE_ENABLE, 1)
            if cfg.bus_watchdog_ms > 0:
                self._write_reg(i, ct.BUS_WATCHDOG, max(1, round(cfg.bus_watchdog_ms / ct.BUS_WATCHDOG_UNIT_MS)))

    def _write_reg(self, dxl_id: int, reg: tuple[int, int], value: int) -> None:
        addr, size = reg
        fn = {1: self._ph.write1ByteTxRx, 2: self._ph.write2ByteTxRx, 4: self._ph.write4ByteTxRx}[size]
        res, err = self._txrx(fn, dxl_id, addr, int(value) % (1 << (8 * size)))
        if res != self._sdk.COMM_SUCCESS or err & 0x7F:
            raise DriverError(f"motor {dxl_id}: writing {value} at address {addr} failed: "
                              f"{self._ph.getTxRxResult(res) if res else self._ph.getRxPacketError(err)}")

    def _read_reg(self, dxl_id: int, reg: tuple[int, int]) -> int:
        addr, size = reg
        fn = {1: self._ph.read1ByteTxRx, 2: self._ph.read2ByteTxRx, 4: self._ph.read4ByteTxRx}[size]
        value, res, _ = self._txrx(fn, dxl_id, addr)
        if res != self._sdk.COMM_SUCCESS:
            raise DriverError(f"motor {dxl_id}: no reply reading address {addr} ({self._ph.getTxRxResult(res)})")
        return value

    def _close_port(self) -> None:
        if self._port is not None and self._port.is_open:
            self._port.closePort()  # closing the file releases the flock
        self._port = None

    def _disconnect(self) -> None:
        """Disarm the Bus Watchdog (the motors keep holding the last goal after we leave), close."""
        try:
            if self.config.bus_watchdog_ms > 0 and self._port is not None:
                w = self._sdk.GroupSyncWrite(self._port, self._ph, *ct.BUS_WATCHDOG)
                for i in self._ids:
                    w.addParam(i, bytes([0]))
                w.txPacket()
        finally:
            self._close_port()

    def _recover(self) -> None:
        """Reboot the motors with a hardware error and wait for each to answer again, then configure
        every motor (the healthy ones keep torque and goal; a tripped Bus Watchdog is cleared)."""
        self._cached = None
        for k, i in enumerate(self._ids):
            try:
                self._hw_errors[k] = self._read_reg(i, ct.HARDWARE_ERROR_STATUS)
            except DriverError:
                pass  # a silent motor: _check_motors names it
        rebooted = [i for k, i in enumerate(self._ids) if self._hw_errors[k]]
        for i in rebooted:
            self._ph.reboot(self._port, i)
        for i in rebooted:
            self._wait_for_boot(i)
        self._hw_errors[:] = 0
        self._check_motors()
        self._configure(self._ids)

    def _wait_for_boot(self, dxl_id: int) -> None:
        """Ping a rebooted motor until it answers (``reboot_timeout_s``)."""
        deadline = time.monotonic() + self.config.reboot_timeout_s
        while time.monotonic() < deadline:
            if self._ping(dxl_id, attempts=1):
                return
            time.sleep(0.02)
        raise DriverError(f"motor {dxl_id} did not answer within {self.config.reboot_timeout_s} s of its reboot: "
                          "check its cable and power, then recover again")

    def torque_off(self) -> None:
        """Dry runs only: torque off on every motor (the hand goes limp); commands refused after it."""
        self.safety.stop()
        for i in self._ids:
            self._write_reg(i, ct.TORQUE_ENABLE, 0)

    # -- I/O -------------------------------------------------------------------------------------------
    def _read_block(self) -> tuple[np.ndarray, np.ndarray]:
        """One transaction (tried ``ATTEMPTS`` times): raw present-state blocks (J, n) uint8 and status
        error bytes (J,); ``DriverError`` naming the silent motors when no reply comes."""
        for _ in range(self.ATTEMPTS):
            self._drop_stale_input()
            out, res = self._read_block_once()
            if out is not None:
                return out
        ph = self._ph
        silent = [i for i in self._ids if not self._ping(i, attempts=1)] if self.fault is None else []
        who = f"motor IDs {silent} do not answer" if 0 < len(silent) < len(self._ids) else "no motor answers"
        raise DriverError(f"LEAP bus timeout: {who} ({ph.getTxRxResult(res)}); holding, check the cable and "
                          "power, then recover")

    def _read_block_once(self):
        sdk, ph, r = self._sdk, self._ph, self._reader
        n, N = ct.STATE_BLOCK[1], len(self._ids)
        self._last_bus_s = self.clock()
        if self.config.fast_sync_read:
            res = r.fastSyncReadTxPacket()
            if res == sdk.COMM_SUCCESS:
                raw, res, _ = ph.fastSyncReadRx(self._port, sdk.BROADCAST_ID, (n + 4) * N)
            if res == sdk.COMM_SUCCESS and len(raw) == (n + 4) * N:
                seg = np.frombuffer(bytes(raw), dtype=np.uint8).reshape(N, n + 4)  # err, id, data, crc
                if list(seg[:, 1]) == self._ids:
                    return (seg[:, 2:2 + n], seg[:, 0].astype(np.int64)), res
                res = sdk.COMM_RX_CORRUPT
        else:
            res = r.txPacket()
            blocks, errs = [], []
            for i in self._ids if res == sdk.COMM_SUCCESS else []:
                data, res, err = ph.readRx(self._port, i, n)
                if res != sdk.COMM_SUCCESS:
                    break
                blocks.append(data)
                errs.append(err)
            if res == sdk.COMM_SUCCESS:
                return (np.asarray(blocks, dtype=np.uint8), np.asarray(errs, dtype=np.int64)), res
        return None, res

    def _read(self) -> JointState:
        now = self.clock()
        if self._cached is not None and now - self._last_read_s < self.state_period_s:
            return self._cached  # within the bus budget: the last state
        bw_s = 1e-3 * self.config.bus_watchdog_ms
        check_bw = bw_s > 0 and self._last_bus_s is not None and now - self._last_bus_s > 0.5 * bw_s
        data, status = self._read_block()
        self._last_read_s = now
        start = ct.STATE_BLOCK[0]
        alert = (status & ct.STATUS_ALERT_BIT) != 0  # (J,)
        for k in np.flatnonzero(alert):
            try:
                self._hw_errors[k] = self._read_reg(self._ids[k], ct.HARDWARE_ERROR_STATUS)
            except DriverError:
                pass
        self._hw_errors[~alert] = 0
        errors = [f"motor {i}: {ct.describe_hardware_error(int(b))}" for i, b in zip(self._ids, self._hw_errors) if b]
        if check_bw:  # the host was silent long enough for the motors' watchdog to trip
            if self._bw_reader.txRxPacket() == self._sdk.COMM_SUCCESS:
                errors += [f"motor {i}: Bus Watchdog tripped (the host sent nothing for over "
                           f"{self.config.bus_watchdog_ms:.0f} ms): it stopped and refuses goals; call recover"
                           for i in self._ids if self._bw_reader.getData(i, *ct.BUS_WATCHDOG) == ct.BUS_WATCHDOG_TRIPPED]
        temp = ct.block_field(data, start, ct.PRESENT_TEMPERATURE).astype(np.float64)  # (J,) degC
        errors += [f"motor {i}: temperature {t:.0f} C >= {self.config.temperature_max_c:.0f} C; let it cool, "
                   "then recover" for i, t in zip(self._ids, temp) if t >= self.config.temperature_max_c]
        self._cached = JointState(
            names=self.names,
            position_rad=ct.ticks_to_rad(ct.block_field(data, start, ct.PRESENT_POSITION)),
            velocity_rad_s=ct.signed(ct.block_field(data, start, ct.PRESENT_VELOCITY), 4) * ct.RAD_S_PER_UNIT,
            effort=ct.signed(ct.block_field(data, start, ct.PRESENT_CURRENT), 2) * ct.A_PER_UNIT,
            temperature_c=temp, stamp_s=now, effort_unit="A", errors=tuple(errors))
        return self._cached

    def _write(self, q_rad: np.ndarray) -> None:
        ticks = ct.rad_to_ticks(q_rad)  # (J,)
        w = self._writer
        w.clearParam()
        for i, t in zip(self._ids, ticks):
            w.addParam(i, (int(t) % (1 << 32)).to_bytes(4, "little"))
        res = w.txPacket()
        self._last_bus_s = self.clock()
        if res != self._sdk.COMM_SUCCESS:
            raise DriverError(f"LEAP goal write failed: {self._ph.getTxRxResult(res)}")


def make_leap(section: dict, **kwargs) -> LeapHand:
    """Registry factory: ``section`` is the ``hand.leap`` part of config/drivers.yaml."""
    return LeapHand(LeapConfig.from_dict(section), **kwargs)
