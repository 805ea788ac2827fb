"""An emulated Dynamixel Protocol 2.0 bus on a real pseudo-terminal, for tests and dry runs.

``EmulatedDynamixelBus(ids)`` opens a PTY (``os.openpty()``); ``bus.port`` is the slave device path
that the real ``dynamixel-sdk`` opens like a USB serial adapter. A forked process answers PING, READ, WRITE,
SYNC_READ, SYNC_WRITE, FAST_SYNC_READ and REBOOT with CRC-16 (poly 0x8005) status packets, byte stuffing
included, from a per-motor X-series control table (``ifgrasp.drivers.leap.control_table``).
Motors follow a first-order response towards their goal while torque is on (time constant
``tau_s``), stopped by an optional obstacle (``block``: the finger meets an object, the current
rises to the goal current: the squeeze); EEPROM writes with torque on are refused like the
firmware does (access error).

With ``wire_timing`` (benchmarks, dry runs; off by default: on a loaded CI machine the extra
wake-up per reply can exceed the SDK's 34 ms reply timeout) the timing is the wire's: a request takes its bytes x 10 bits / ``baud``; each status packet follows
after its motor's Return Delay Time register (2 us per unit, factory 250) and its own bytes, one
motor after the other on a sync read, one packet on a fast sync read; the reply reaches the host
``latency_timer_ms`` after its last byte (the USB adapter's latency timer); packets queue behind
the bus. The Bus Watchdog (address 98, x 20 ms) trips when a torqued motor receives no instruction
packet for that long: the motor stops (goal = present position), the register reads -1 and goal
writes are refused until 0 is written. A REBOOT answers, then the motor is silent for ``boot_s``
and comes back with its RAM at defaults (torque off, goal = present, watchdog off).

Injectable faults: ``missing_ids`` (never answer), ``set_hardware_error`` (e.g. overload: alert bit
in every status packet, torque off), ``set_temperature``, ``silent`` (motors obey but no reply comes
back: timeouts), ``deaf`` (a pulled cable: nothing is received either), and a wrong baud rate (the motors only
answer when the port runs at ``baud``).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import select
import struct
import termios
import time
import tty

import numpy as np

from ifgrasp.drivers.leap import control_table as ct

INST_PING, INST_READ, INST_WRITE, INST_REBOOT, INST_STATUS = 0x01, 0x02, 0x03, 0x08, 0x55
INST_SYNC_READ, INST_SYNC_WRITE, INST_FAST_SYNC_READ = 0x82, 0x83, 0x8A
BROADCAST_ID = 0xFE
ERR_INSTRUCTION, ERR_DATA_RANGE, ERR_DATA_LIMIT, ERR_ACCESS = 0x02, 0x04, 0x06, 0x07
_HEADER = b"\xff\xff\xfd\x00"


def crc16(data: bytes) -> int:
    """Dynamixel Protocol 2.0 CRC-16 (polynomial 0x8005, initial 0, no reflection)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _stuff(body: bytes) -> bytes:
    return body.replace(b"\xff\xff\xfd", b"\xff\xff\xfd\xfd")


def _unstuff(body: bytes) -> bytes:
    return body.replace(b"\xff\xff\xfd\xfd", b"\xff\xff\xfd")


def status_packet(dxl_id: int, error: int, params: bytes = b"") -> bytes:
    """A complete status packet (header .. CRC) with byte stuffing."""
    body = _stuff(bytes([INST_STATUS, error]) + params)
    pkt = _HEADER + bytes([dxl_id]) + struct.pack("<H", len(body) + 2) + body
    return pkt + struct.pack("<H", crc16(pkt))


def _wait_until(deadline: float) -> None:
    """Sleep until ``deadline`` (monotonic s). On a loaded machine the wake-up comes a scheduler slice
    late (measured ~16 ms median at load 9 on 2 cores, vs the ~1.6 ms emulated): bus benchmarks
    need an idle machine; spinning instead was slower still (it competes with the SDK's own polling)."""
    left = deadline - time.monotonic()
    if left > 0:
        time.sleep(left)


class EmulatedDynamixelBus:
    """Emulated X-series motors with the given IDs on a PTY; use as a context manager."""

    def __init__(self, ids, baud: int = 4_000_000, model_number: int = ct.MODEL_XC330_M288,
                 tau_s: float = 0.02, initial_position_rad: float = 0.0, wire_timing: bool = False,
                 latency_timer_ms: float = 1.0, boot_s: float = 0.3):
        self.ids = [int(i) for i in ids]
        self.baud = baud
        self.tau_s = tau_s
        self.wire_timing = wire_timing
        self.latency_timer_ms = latency_timer_ms
        self.boot_s = boot_s
        # State lives in shared memory: the bus is served by a forked process, so the SDK's busy
        # polling in the test process cannot starve the emulated motors of the GIL.
        ctx = mp.get_context("fork")
        n = len(self.ids)
        self._lock = ctx.RLock()
        self._flags = ctx.RawArray("b", 3)  # silent, deaf, busy
        self._missing = ctx.RawArray("b", 256)
        raw = memoryview(ctx.RawArray("B", 256 * n)).cast("B")
        self._tables = {i: raw[k * 256:(k + 1) * 256] for k, i in enumerate(self.ids)}
        self._pos = np.frombuffer(ctx.RawArray("d", n), dtype=np.float64)  # (M,) ticks
        self._vel = np.frombuffer(ctx.RawArray("d", n), dtype=np.float64)  # (M,) ticks/s
        self._tnow = np.frombuffer(ctx.RawArray("d", 1), dtype=np.float64)
        self._obstacle = np.frombuffer(ctx.RawArray("d", n), dtype=np.float64)  # (M,) ticks, +inf = none
        self._obstacle[:] = np.inf
        self._last_rx = np.frombuffer(ctx.RawArray("d", 1), dtype=np.float64)  # last instruction packet
        self._booting = np.frombuffer(ctx.RawArray("d", 256), dtype=np.float64)  # silent until (monotonic s)
        self._last_rx[0] = time.monotonic()
        self._packets = ctx.RawArray("q", 1)  # instruction packets received (valid CRC, right baud)
        self._torque_drops = ctx.RawArray("i", 256)  # per ID: times torque went from on to off
        self._pos[:] = float(ct.rad_to_ticks(initial_position_rad))
        self._tnow[0] = time.monotonic()
        for i, tab in self._tables.items():
            self._put(tab, ct.MODEL_NUMBER, model_number)
            self._put(tab, ct.ID, i)
            self._put(tab, ct.BAUD_RATE, {v: k for k, v in ct.BAUD_RATES.items()}.get(baud, 3))
            self._put(tab, ct.RETURN_DELAY_TIME, 250)
            self._put(tab, ct.OPERATING_MODE, 3)
            self._put(tab, ct.TEMPERATURE_LIMIT, 70)
            self._put(tab, ct.CURRENT_LIMIT, 1750)
            self._put(tab, ct.POSITION_P_GAIN, 800)
            self._put(tab, ct.GOAL_CURRENT, 1750)
            self._put(tab, ct.PRESENT_INPUT_VOLTAGE, 50)
            self._put(tab, ct.PRESENT_TEMPERATURE, 30)
            self._put(tab, ct.GOAL_POSITION, int(self._pos[0]))
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = ctx.Event()
        self._proc = ctx.Process(target=self._serve, name="dxl-emulator", daemon=True)
        self._proc.start()

    # -- shared flags ----------------------------------------------------------------------------
    @property
    def missing_ids(self) -> set[int]:
        return {i for i in range(256) if self._missing[i]}

    @missing_ids.setter
    def missing_ids(self, ids) -> None:
        ids = set(ids)
        for i in range(256):
            self._missing[i] = i in ids

    silent = property(lambda self: bool(self._flags[0]), lambda self, v: self._flags.__setitem__(0, bool(v)))
    deaf = property(lambda self: bool(self._flags[1]), lambda self, v: self._flags.__setitem__(1, bool(v)))
    _busy = property(lambda self: bool(self._flags[2]), lambda self, v: self._flags.__setitem__(2, bool(v)))

    # -- test controls ---------------------------------------------------------------------------
    def set_hardware_error(self, dxl_id: int, bit: int = 5) -> None:
        """Raise a Hardware Error Status bit (5 = overload); the motor drops torque like the firmware."""
        with self._lock:
            tab = self._tables[dxl_id]
            self._put(tab, ct.HARDWARE_ERROR_STATUS, self._get(tab, ct.HARDWARE_ERROR_STATUS) | (1 << bit))
            self._torque_drops[dxl_id] += self._get(tab, ct.TORQUE_ENABLE)
            self._put(tab, ct.TORQUE_ENABLE, 0)

    def block(self, dxl_id: int, position_rad: float = np.inf) -> None:
        """An object stops this motor's finger at ``position_rad`` (closing = increasing angle); inf: none."""
        with self._lock:
            self._step()
            self._obstacle[self.ids.index(dxl_id)] = float(ct.rad_to_ticks(position_rad)) if np.isfinite(
                position_rad) else np.inf

    def currents_ma(self) -> np.ndarray:
        """(M,) present currents, mA (the squeeze: at the goal current while a finger presses)."""
        return np.array([self.register(i, ct.PRESENT_CURRENT, signed=True) for i in self.ids], dtype=float)

    @property
    def packets(self) -> int:
        """Instruction packets the motors received so far (one per bus transaction)."""
        self.flush()
        return int(self._packets[0])

    def torque_drops(self, dxl_id: int) -> int:
        """How many times this motor's torque went from on to off (a dropped grasp)."""
        self.flush()
        return int(self._torque_drops[dxl_id])

    def set_temperature(self, dxl_id: int, celsius: int) -> None:
        with self._lock:
            self._put(self._tables[dxl_id], ct.PRESENT_TEMPERATURE, int(celsius))

    def flush(self, timeout_s: float = 0.5) -> None:
        """Wait until every byte written to the bus so far has been handled (no-reply writes too)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pending, _, _ = select.select([self._master], [], [], 0)
            if not pending and not self._busy:
                return
            time.sleep(0.0005)

    def register(self, dxl_id: int, reg: tuple[int, int], signed: bool = False) -> int:
        """Current value of a control-table register of one motor (dynamics brought up to date)."""
        self.flush()
        with self._lock:
            self._step()
            v = self._get(self._tables[dxl_id], reg)
            return int(ct.signed(v, reg[1])) if signed else v

    def positions_rad(self) -> np.ndarray:
        """(M,) present positions of all motors, our convention."""
        return np.array([ct.ticks_to_rad(self.register(i, ct.PRESENT_POSITION)) for i in self.ids])

    def goals_rad(self) -> np.ndarray:
        """(M,) goal positions of all motors, our convention."""
        return np.array([ct.ticks_to_rad(self.register(i, ct.GOAL_POSITION)) for i in self.ids])

    def close(self) -> None:
        self._stop.set()
        self._proc.join(timeout=1.0)
        if self._proc.is_alive():
            self._proc.terminate()
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> "EmulatedDynamixelBus":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- control table -----------------------------------------------------------------------------
    @staticmethod
    def _get(tab: memoryview, reg: tuple[int, int]) -> int:
        addr, size = reg
        return int.from_bytes(tab[addr:addr + size], "little")

    @staticmethod
    def _put(tab: memoryview, reg: tuple[int, int], value: int) -> None:
        addr, size = reg
        tab[addr:addr + size] = (int(value) % (1 << (8 * size))).to_bytes(size, "little")

    def _step(self) -> None:
        """Advance every motor's first-order dynamics to now and refresh its present-state registers."""
        now = time.monotonic()
        dt = max(now - self._tnow[0], 0.0)
        self._tnow[0] = now
        for k, i in enumerate(self.ids):
            tab = self._tables[i]
            on = self._get(tab, ct.TORQUE_ENABLE) == 1
            goal = float(ct.signed(self._get(tab, ct.GOAL_POSITION), 4))
            old = self._pos[k]
            if on and dt > 0:
                self._pos[k] = min(goal + (old - goal) * np.exp(-dt / self.tau_s), max(old, self._obstacle[k]))
            self._vel[k] = (self._pos[k] - old) / dt if dt > 1e-6 else self._vel[k] * on
            limit = self._get(tab, ct.GOAL_CURRENT)
            current = np.clip(5.0 * (goal - self._pos[k]), -limit, limit) if on else 0.0
            self._put(tab, ct.PRESENT_POSITION, int(round(self._pos[k])))
            self._put(tab, ct.PRESENT_VELOCITY, int(round(self._vel[k] / (0.229 * 4096 / 60.0))))
            self._put(tab, ct.PRESENT_CURRENT, int(round(current)))

    def _check_watchdog(self, now: float) -> None:
        """Trip the Bus Watchdog of torqued motors that heard no instruction packet for too long."""
        silent_s = now - self._last_rx[0]
        for k, i in enumerate(self.ids):
            tab = self._tables[i]
            bw = self._get(tab, ct.BUS_WATCHDOG)
            if 0 < bw <= 127 and self._get(tab, ct.TORQUE_ENABLE) and silent_s > bw * ct.BUS_WATCHDOG_UNIT_MS * 1e-3:
                self._step()
                self._put(tab, ct.GOAL_POSITION, int(round(self._pos[k])))  # stop: the squeeze ends
                self._put(tab, ct.BUS_WATCHDOG, ct.BUS_WATCHDOG_TRIPPED)

    def _reboot(self, dxl_id: int) -> None:
        """Clear hardware errors, RAM back to defaults, silent for ``boot_s``."""
        tab = self._tables[dxl_id]
        k = self.ids.index(dxl_id)
        self._torque_drops[dxl_id] += self._get(tab, ct.TORQUE_ENABLE)
        for reg, v in ((ct.HARDWARE_ERROR_STATUS, 0), (ct.TORQUE_ENABLE, 0), (ct.BUS_WATCHDOG, 0),
                       (ct.POSITION_P_GAIN, 800), (ct.POSITION_I_GAIN, 0), (ct.POSITION_D_GAIN, 0),
                       (ct.GOAL_CURRENT, self._get(tab, ct.CURRENT_LIMIT)), (ct.GOAL_POSITION, int(round(self._pos[k])))):
            self._put(tab, reg, v)
        self._booting[dxl_id] = time.monotonic() + self.boot_s

    def _reply_delay_s(self, request: bytes, reply: bytes) -> float:
        """Bus time of a request and its reply: bytes on the wire plus each status packet's Return
        Delay Time (the mean of the motors' registers)."""
        byte_s = 10.0 / self.baud
        if not reply:
            return len(request) * byte_s
        rdt_us = np.mean([self._get(self._tables[i], ct.RETURN_DELAY_TIME) for i in self.ids]) * ct.RETURN_DELAY_UNIT_US
        return (len(request) + len(reply)) * byte_s + reply.count(_HEADER) * rdt_us * 1e-6

    def _alert(self, dxl_id: int) -> int:
        return ct.STATUS_ALERT_BIT if self._get(self._tables[dxl_id], ct.HARDWARE_ERROR_STATUS) else 0

    def _write_reg(self, dxl_id: int, addr: int, data: bytes) -> int:
        """Apply a write like the firmware: returns the status error code (0 = done)."""
        tab = self._tables[dxl_id]
        if addr < ct.TORQUE_ENABLE[0] and self._get(tab, ct.TORQUE_ENABLE):
            return ERR_ACCESS  # EEPROM area is locked while torque is on
        if addr <= ct.GOAL_CURRENT[0] < addr + len(data) and len(data) >= 2:
            off = ct.GOAL_CURRENT[0] - addr
            if int.from_bytes(data[off:off + 2], "little") > self._get(tab, ct.CURRENT_LIMIT):
                return ERR_DATA_LIMIT
        if self._get(tab, ct.BUS_WATCHDOG) == ct.BUS_WATCHDOG_TRIPPED and addr < ct.GOAL_POSITION[0] + 4 and \
                addr + len(data) > ct.BUS_WATCHDOG[0] + 2:
            return ERR_DATA_RANGE  # goal values are read-only until the watchdog error is cleared
        if addr <= ct.TORQUE_ENABLE[0] < addr + len(data) and self._get(tab, ct.HARDWARE_ERROR_STATUS):
            if data[ct.TORQUE_ENABLE[0] - addr] == 1:
                return ERR_ACCESS  # torque stays off until the motor is rebooted
        if addr <= ct.TORQUE_ENABLE[0] < addr + len(data) and data[ct.TORQUE_ENABLE[0] - addr] == 0:
            self._torque_drops[dxl_id] += self._get(tab, ct.TORQUE_ENABLE)
        tab[addr:addr + len(data)] = bytes(data)
        return 0

    # -- serving -----------------------------------------------------------------------------------
    def _baud_matches(self) -> bool:
        speed = termios.tcgetattr(self._slave)[5]
        return speed == getattr(termios, f"B{self.baud}", None)

    def _serve(self) -> None:
        buf = bytearray()
        bus_free = 0.0  # when the wire is free again (monotonic s)
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.01)
                if not ready:
                    with self._lock:
                        self._check_watchdog(time.monotonic())
                    continue
                self._busy = True
                chunk = os.read(self._master, 4096)
                t_rx = time.monotonic()
            except OSError:
                return
            if self.deaf:
                self._busy = False
                continue
            buf += chunk
            while True:
                start = buf.find(_HEADER)
                if start < 0:
                    del buf[:-3]
                    break
                del buf[:start]
                if len(buf) < 7:
                    break
                length = struct.unpack_from("<H", buf, 5)[0]
                if len(buf) < 7 + length:
                    break
                pkt, buf = bytes(buf[:7 + length]), buf[7 + length:]
                if crc16(pkt[:-2]) != struct.unpack("<H", pkt[-2:])[0]:
                    continue  # a motor drops a corrupt packet silently
                if not self._baud_matches():
                    continue  # at the wrong baud the motors see only noise
                with self._lock:
                    self._check_watchdog(time.monotonic())
                    self._last_rx[0] = time.monotonic()
                    self._packets[0] += 1
                    self._step()
                    reply = self._handle(pkt[4], pkt[7], _unstuff(pkt[8:-2]))
                    if self.silent:
                        reply = b""
                    t_start = max(t_rx, bus_free)
                    bus_free = t_start + self._reply_delay_s(pkt, reply)
                if reply:
                    if self.wire_timing:
                        _wait_until(bus_free + 1e-3 * self.latency_timer_ms)
                    os.write(self._master, reply)
            self._busy = False

    def _handle(self, dxl_id: int, inst: int, p: bytes) -> bytes:
        now = time.monotonic()
        present = [i for i in self.ids if i not in self.missing_ids and self._booting[i] <= now]
        if inst == INST_PING:
            targets = present if dxl_id == BROADCAST_ID else [dxl_id] if dxl_id in present else []
            return b"".join(status_packet(i, self._alert(i), struct.pack("<HB", self._get(
                self._tables[i], ct.MODEL_NUMBER), 52)) for i in targets)
        if inst == INST_READ and dxl_id in present:
            addr, n = struct.unpack_from("<HH", p)
            return status_packet(dxl_id, self._alert(dxl_id), bytes(self._tables[dxl_id][addr:addr + n]))
        if inst == INST_WRITE:
            addr = struct.unpack_from("<H", p)[0]
            targets = present if dxl_id == BROADCAST_ID else [dxl_id] if dxl_id in present else []
            errs = {i: self._write_reg(i, addr, p[2:]) for i in targets}
            if dxl_id == BROADCAST_ID or dxl_id not in present:
                return b""
            return status_packet(dxl_id, errs[dxl_id] | self._alert(dxl_id))
        if inst in (INST_SYNC_READ, INST_FAST_SYNC_READ):
            addr, n = struct.unpack_from("<HH", p)
            ids = list(p[4:])
            if inst == INST_SYNC_READ:  # each motor answers in turn; a missing one leaves a gap
                return b"".join(status_packet(i, self._alert(i), bytes(self._tables[i][addr:addr + n]))
                                for i in ids if i in present)
            if any(i not in present for i in ids):
                return b""
            return self._fast_sync_reply(ids, addr, n)
        if inst == INST_REBOOT and dxl_id in present:  # answers, then boots (silent for boot_s)
            self._reboot(dxl_id)
            return status_packet(dxl_id, 0)
        if inst == INST_SYNC_WRITE:
            addr, n = struct.unpack_from("<HH", p)
            for k in range(4, len(p), n + 1):
                i = p[k]
                if i in present:
                    self._write_reg(i, addr, p[k + 1:k + 1 + n])
            return b""
        if dxl_id in present:
            return status_packet(dxl_id, ERR_INSTRUCTION)
        return b""

    def _fast_sync_reply(self, ids: list[int], addr: int, n: int) -> bytes:
        """One status packet for all motors: per motor [error, id, data(n), crc16(2)] (e-Manual)."""
        body = bytearray([INST_STATUS])
        for i in ids:
            seg = bytes([self._alert(i), i]) + bytes(self._tables[i][addr:addr + n])
            body += seg + struct.pack("<H", crc16(seg))
        pkt = _HEADER + bytes([BROADCAST_ID]) + struct.pack("<H", len(body) + 2) + bytes(body)
        return pkt + struct.pack("<H", crc16(pkt))
