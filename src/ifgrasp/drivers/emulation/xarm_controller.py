"""An emulated uFactory xArm7 controller on loopback TCP that the real ``xarm.wrapper.XArmAPI`` drives.

Wire protocol as ``xarm-python-sdk`` 1.18.4 defines it (``xarm/core/comm``, ``xarm/core/wrapper``):

- Command port (502 on a real controller): private Modbus-TCP frames. Request: transaction id (u16
  big-endian), protocol id (u16, 2, or 3 once the SDK switches), length (u16 = 1 + payload), register
  (u8, ``XCONF.UxbusReg``), payload. Reply: the same transaction id / protocol id, length (u16 = 2 + n),
  register, a status byte (0x40 uncleared error, 0x20 uncleared warning, 0x10 not ready to move,
  0x08 invalid), n data bytes. Floats are little-endian fp32, integers big-endian.
- Report port (30002, "rich", on a real controller): a frame every ``1 / report_hz`` s; u32 length,
  state | mode << 4, cmdnum, 7 joint angles (rad), pose, 7 joint torques, brake and enable bit masks,
  error and warning codes, payload, collision sensitivity, ..., arm type and axis, joint motion limits,
  servo codes and temperatures (252 bytes, the SDK's ``__handle_report_rich`` layout).

Controller behaviour emulated (what the driver depends on): states 1 moving, 2 ready/idle, 3 paused,
4 stopped, 5 stopped by a configuration change; modes 0 position, 1 servo. ``set_mode`` takes effect at
the next ``set_state(0)``, which completes after ``state_settle_s`` (the state stays 4/5 until then, so
a client must wait for it). Configuration calls (payload, collision sensitivity, teach sensitivity, TCP
offset, gravity direction) stop the arm and drop it to mode 0, state 5. ``set_servo_angle_j`` moves the
arm only in mode 1 and a ready state: in mode 0 it is accepted and ignored; stopped (4/5) it is refused
(not-ready bit: the SDK returns 9). A controller error (``inject_error``: 22 self-collision, 31 collision
current, 1 e-stop button) stops the arm (state 4, mode 0) and disables the motors; ``clean_error`` clears
it (not while the e-stop button is held), then ``motion_enable``, ``set_mode``, ``set_state(0)``.
``emergency_stop()`` of the SDK is ``set_state(4)``. Joints follow the servo target with a first-order
response (time constant ``tau_s``, integrated by a 250 Hz loop of its own) rate-limited to
``max_speed_rad_s``; torques are reported as 0 (no
dynamics model). Link loss: ``drop_link()`` closes every connection and refuses new ones (the SDK then
answers ``(-1, 'xArm is not connect')``), ``drop_link(silent=True)`` stops answering (replies time out: 3).

Firmware reported: v2.0.101 (below 2.0.102, so the SDK does not use the motion-feedback channel, which
is not emulated). Ports: ``command_port=0`` / ``report_port=0`` bind free loopback ports; the SDK is
pointed at them by ``ifgrasp.drivers.xarm.backend.sdk_ports``.
"""

from __future__ import annotations

import math
import socket
import struct
import threading
import time

import numpy as np

# registers (xarm/core/config/x_config.py, XCONF.UxbusReg)
GET_VERSION, GET_ROBOT_SN, MOTION_EN, SET_STATE, GET_STATE, GET_CMDNUM, GET_ERROR = 1, 2, 11, 12, 13, 14, 15
CLEAN_ERR, CLEAN_WAR, SET_MODE, MOVE_SERVOJ = 16, 17, 19, 29
SET_TCP_OFFSET, SET_LOAD_PARAM, SET_COLLIS_SENS, SET_TEACH_SENS, SET_GRAVITY_DIR = 35, 36, 37, 38, 51
GET_TCP_POSE, GET_JOINT_POS = 41, 42
CONFIG_REGISTERS = (SET_TCP_OFFSET, SET_LOAD_PARAM, SET_COLLIS_SENS, SET_TEACH_SENS, SET_GRAVITY_DIR)
# reply status bits (UxbusCmdTcp.check_private_protocol)
ST_ERROR, ST_WARN, ST_NOT_READY, ST_INVALID = 0x40, 0x20, 0x10, 0x08
#: xArm7 joint limits, rad (XCONF.Robot.JOINT_LIMITS[7][XARM7_X4]).
XARM7_LOWER = np.radians([-360.0, -118.0, -360.0, -11.0, -360.0, -97.0, -360.0])
XARM7_UPPER = np.radians([360.0, 120.0, 360.0, 225.0, 360.0, 180.0, 360.0])
FIRMWARE = "7,7,XI1303000001,AC1303000001,v2.0.101"  # axis, type, arm SN, box SN, version
REPORT_SIZE = 252


class XArmControllerEmulator:
    """See the module docstring. Use as a context manager or call ``start()`` / ``close()``."""

    def __init__(self, q0_rad=None, host: str = "127.0.0.1", command_port: int = 0, report_port: int = 0,
                 report_hz: float = 10.0, tau_s: float = 0.03, max_speed_rad_s: float = math.pi,
                 state_settle_s: float = 0.15, estop_button_pressed: bool = False, error_code: int = 0,
                 lower_rad=XARM7_LOWER, upper_rad=XARM7_UPPER):
        self.host = host
        self.report_hz, self.tau_s, self.max_speed = report_hz, tau_s, max_speed_rad_s
        self.state_settle_s = state_settle_s
        self.lower, self.upper = np.asarray(lower_rad, float), np.asarray(upper_rad, float)
        self.q = np.zeros(7) if q0_rad is None else np.asarray(q0_rad, float).copy()  # (7,) rad
        self.v = np.zeros(7)  # (7,) rad/s
        self.target = self.q.copy()  # (7,) rad, the servo target being tracked
        self.mode, self.state, self.pending_mode = 0, 4, 0
        self.error_code, self.warn_code = 0, 0
        self.motors_enabled = False
        self.estop_button_pressed = estop_button_pressed
        self.tcp_load = (0.0, (0.0, 0.0, 0.0))  # kg, mm
        self.collision_sensitivity, self.teach_sensitivity = 3, 3
        self.servo_targets: list[np.ndarray] = []  # every servo target that moved the arm
        self.calls: list[tuple[int, int]] = []  # (client number, register) of every request
        self._ready_at: float | None = None  # set_state(0) completes at this time
        self._t_phys = time.monotonic()
        self._lock = threading.RLock()
        self._link = "up"  # up | closed | silent
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._running = False
        if estop_button_pressed:
            error_code = 1
        if error_code:
            self._error(error_code)
        self._cmd_srv = self._listen(command_port)
        self._rep_srv = self._listen(report_port)
        self.command_port = self._cmd_srv.getsockname()[1]
        self.report_port = self._rep_srv.getsockname()[1]

    # -- life cycle ------------------------------------------------------------------------------
    def _listen(self, port: int) -> socket.socket:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((self.host, port))
        srv.listen(8)
        srv.settimeout(0.1)
        return srv

    def start(self) -> "XArmControllerEmulator":
        self._running = True
        th = threading.Thread(target=self._control_loop, daemon=True)
        th.start()
        self._threads.append(th)
        for target, which in ((self._serve_commands, "_cmd_srv"), (self._serve_reports, "_rep_srv")):
            th = threading.Thread(target=self._accept_loop, args=(which, target), daemon=True)
            th.start()
            self._threads.append(th)
        return self

    def close(self) -> None:
        self._running = False
        self._close_conns()
        for th in self._threads:
            th.join(timeout=2.0)
        self._cmd_srv.close()
        self._rep_srv.close()

    def __enter__(self) -> "XArmControllerEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- faults for tests and dry runs -------------------------------------------------------------
    def inject_error(self, code: int) -> None:
        """A controller error (22 self-collision, 31 collision current, ...): stop, mode 0, motors off."""
        with self._lock:
            self._advance()
            self._error(code)

    def inject_warning(self, code: int) -> None:
        """A controller warning (e.g. 11 buffer overflow): reported, the arm keeps moving."""
        with self._lock:
            self.warn_code = code

    def press_estop(self, pressed: bool = True) -> None:
        """The e-stop button on the control box: error 1 while held (``clean_error`` cannot clear it)."""
        with self._lock:
            self.estop_button_pressed = pressed
            if pressed:
                self._advance()
                self._error(1)

    def drop_link(self, silent: bool = False) -> None:
        """Lose the network link: close every connection and refuse new ones (or, ``silent``, stop
        answering while connections stay open)."""
        with self._lock:
            self._link = "silent" if silent else "closed"
        if not silent:
            self._cmd_srv.close()
            self._rep_srv.close()
            self._close_conns()

    def restore_link(self) -> None:
        """The link is back: listen again on the same ports."""
        with self._lock:
            if self._link == "closed":
                self._cmd_srv = self._listen(self.command_port)
                self._rep_srv = self._listen(self.report_port)
            self._link = "up"

    def set_config_from_another_client(self, collision_sensitivity: int) -> None:
        """What xArm Studio changing a setting does to us: the configuration reset (mode 0, state 5)."""
        with self._lock:
            self._configure(SET_COLLIS_SENS, bytes([collision_sensitivity]))

    # -- controller model ----------------------------------------------------------------------------
    def _error(self, code: int) -> None:
        self.error_code, self.state, self.mode, self.pending_mode = code, 4, 0, 0
        self.motors_enabled, self._ready_at = False, None
        self.v[:] = 0.0
        self.target = self.q.copy()

    def _stop(self, state: int) -> None:
        self.state, self.mode, self._ready_at = state, 0, None
        self.v[:] = 0.0
        self.target = self.q.copy()

    def _advance(self, now: float | None = None) -> None:
        """Integrate the joint tracker and finish a pending ``set_state(0)``; call with the lock held."""
        now = time.monotonic() if now is None else now
        dt = max(now - self._t_phys, 0.0)
        self._t_phys = now
        if self._ready_at is not None and now >= self._ready_at:
            self._ready_at, self.mode, self.state = None, self.pending_mode, 2
            self.target = self.q.copy()
        if self.state in (1, 2) and dt > 0:
            step = (self.target - self.q) * (1.0 - math.exp(-dt / self.tau_s))
            step = np.clip(step, -self.max_speed * dt, self.max_speed * dt)
            self.q = self.q + step
            self.v = step / dt
            if self.state == 1 and np.max(np.abs(self.target - self.q)) < 1e-6:
                self.state, self.v = 2, np.zeros(7)

    def _control_loop(self, period_s: float = 0.004) -> None:
        """The controller's own 250 Hz loop: joints keep tracking with no client connected."""
        while self._running:
            with self._lock:
                self._advance()
            time.sleep(period_s)

    @property
    def ready_to_move(self) -> bool:
        return self.error_code == 0 and self.motors_enabled and self.state in (0, 1, 2) and self._ready_at is None

    def _status(self) -> int:
        st = 0
        if self.error_code:
            st |= ST_ERROR
        if self.warn_code:
            st |= ST_WARN
        if not self.ready_to_move:
            st |= ST_NOT_READY
        return st

    def _configure(self, reg: int, payload: bytes) -> None:
        """A configuration call: applied, then the arm stops and drops to mode 0, state 5."""
        if reg == SET_LOAD_PARAM:
            m, x, y, z = struct.unpack("<4f", payload[:16])
            self.tcp_load = (m, (x, y, z))
        elif reg == SET_COLLIS_SENS:
            self.collision_sensitivity = payload[0]
        elif reg == SET_TEACH_SENS:
            self.teach_sensitivity = payload[0]
        self._advance()
        self._stop(5)
        self.pending_mode = 0

    def handle(self, reg: int, payload: bytes) -> tuple[int, bytes]:
        """One request -> (status byte, data bytes). Public so the protocol can be tested frame-free."""
        with self._lock:
            self._advance()
            if reg in CONFIG_REGISTERS:
                status = self._status()  # the state in which the controller accepted the call
                self._configure(reg, payload)
                return status, b""
            data = b""
            if reg == GET_VERSION:
                data = FIRMWARE.encode().ljust(40, b"\0")
            elif reg == GET_ROBOT_SN:
                data = b"XI1303000001\0AC1303000001".ljust(40, b"\0")
            elif reg == GET_STATE:
                data = bytes([self.state])
            elif reg == GET_CMDNUM:
                data = struct.pack(">H", 0)
            elif reg == GET_ERROR:
                data = bytes([self.error_code, self.warn_code])
            elif reg == CLEAN_ERR:
                if not self.estop_button_pressed:
                    self.error_code = 0
            elif reg == CLEAN_WAR:
                self.warn_code = 0
            elif reg == MOTION_EN:
                if self.error_code == 0:
                    self.motors_enabled = bool(payload[1]) if len(payload) > 1 else True
                    if not self.motors_enabled:
                        self._stop(4)
            elif reg == SET_MODE:
                if not payload or payload[0] > 11:
                    return self._status() | ST_INVALID, b""
                self.pending_mode = payload[0]
            elif reg == SET_STATE:
                s = payload[0] if payload else 0
                if s == 0 and self.error_code == 0 and self.motors_enabled and self._ready_at is None:
                    if self.state in (1, 2, 3) and self.pending_mode == self.mode:
                        self.state = 1 if self.state == 1 else 2  # resume / already ready
                    else:  # leaving a stop, or a mode change: ready after state_settle_s
                        self.state = 5 if self.state in (1, 2, 3) else self.state
                        self._ready_at = time.monotonic() + self.state_settle_s
                elif s == 3:
                    self.state = 3
                elif s in (4, 6):
                    self._stop(4)
            elif reg == MOVE_SERVOJ:
                return self._servo_j(payload)
            elif reg == GET_JOINT_POS:
                n = (payload[0] & 0x0F) if payload else 1
                rows = [self.q, self.v, np.zeros(7)][: max(1, min(n, 3))]
                data = struct.pack(f"<{7 * len(rows)}f", *np.concatenate(rows))
            elif reg == GET_TCP_POSE:
                return self._status() | ST_INVALID, b""  # no kinematics in the emulator
            else:
                return self._status() | ST_INVALID, b""
            return self._status(), data

    def _servo_j(self, payload: bytes) -> tuple[int, bytes]:
        q = np.asarray(struct.unpack("<10f", payload[:40])[:7], float)
        status = self._status()
        if not self.ready_to_move or self.mode != 1:
            return status, b""  # refused (not-ready bit) or, in mode 0, accepted and ignored
        if np.any(q < self.lower - 1e-4) or np.any(q > self.upper + 1e-4):
            self._error(23)
            return self._status(), b""
        self.target, self.state = q, 1
        self.servo_targets.append(q)
        return status, b""

    # -- network ----------------------------------------------------------------------------------
    def _accept_loop(self, which: str, serve) -> None:
        n = 0
        while self._running:
            if self._link == "closed":
                time.sleep(0.05)
                continue
            try:
                conn, _ = getattr(self, which).accept()
            except socket.timeout:
                continue
            except OSError:  # closed by drop_link under us
                time.sleep(0.05)
                continue
            if self._link != "up":
                conn.close()
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.append(conn)
            n += 1
            th = threading.Thread(target=serve, args=(conn, n), daemon=True)
            th.start()
            self._threads.append(th)

    def _close_conns(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _serve_commands(self, conn: socket.socket, client: int) -> None:
        buf = b""
        conn.settimeout(0.2)
        while self._running:
            try:
                chunk = conn.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while len(buf) >= 6:
                n = struct.unpack(">H", buf[4:6])[0] + 6
                if len(buf) < n:
                    break
                frame, buf = buf[:n], buf[n:]
                if self._link == "silent":
                    continue
                trans_id, prot_id, _ = struct.unpack(">HHH", frame[:6])
                if prot_id not in (2, 3) or n < 7:
                    continue  # heartbeat (protocol 1) and standard Modbus are not answered
                reg = frame[6]
                self.calls.append((client, reg))
                status, data = self.handle(reg, frame[7:])
                reply = struct.pack(">HHHBB", trans_id, prot_id, len(data) + 2, reg, status) + data
                try:
                    conn.sendall(reply)
                except OSError:
                    return

    def _report_frame(self) -> bytes:
        with self._lock:
            self._advance()
            mask = 0xFF if self.motors_enabled else 0x00
            f = bytearray(REPORT_SIZE)
            struct.pack_into(">I", f, 0, REPORT_SIZE)
            f[4] = (self.state & 0x0F) | (self.mode << 4)
            struct.pack_into("<7f", f, 7, *self.q)
            struct.pack_into("<7f", f, 59, *np.zeros(7))
            f[87], f[88], f[89], f[90] = mask, mask, self.error_code, self.warn_code
            struct.pack_into("<4f", f, 115, self.tcp_load[0], *self.tcp_load[1])
            f[131], f[132] = self.collision_sensitivity, self.teach_sensitivity
            struct.pack_into("<3f", f, 133, 0.0, 0.0, -1.0)
            f[145:151] = bytes([7, 7, 0, 0, 0, 0])
            f[151:181] = FIRMWARE.encode()[:30].ljust(30, b"\0")
            struct.pack_into("<5f", f, 181, 1000.0, 1.0, 50000.0, 0.1, 1000.0)  # TCP jerk, acc, speed
            struct.pack_into("<5f", f, 201, 20.0, 0.01, 20.0, 0.0001, self.max_speed)  # joint
            struct.pack_into("<2f", f, 221, 2.3, 2.7)
            f[245:252] = bytes([30] * 7)  # motor temperatures, deg C
            return bytes(f)

    def _serve_reports(self, conn: socket.socket, client: int) -> None:
        period = 1.0 / self.report_hz
        t_next = time.monotonic()
        while self._running:
            if self._link == "up":
                try:
                    conn.sendall(self._report_frame())
                except OSError:
                    return
            elif self._link == "closed":
                return
            t_next += period
            time.sleep(max(0.0, t_next - time.monotonic()))


def _serve_forever(conn, kwargs: dict) -> None:
    emu = XArmControllerEmulator(**kwargs).start()
    conn.send((emu.command_port, emu.report_port))
    conn.recv()  # anything (or EOF) ends it
    emu.close()


class EmulatorProcess:
    """The emulator in a process of its own (benchmarks: no shared GIL with the SDK's threads).

    ``with EmulatorProcess(q0_rad=...) as (command_port, report_port): ...``
    """

    def __init__(self, **kwargs):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve_forever, args=(child, kwargs), daemon=True)

    def __enter__(self) -> tuple[int, int]:
        self._proc.start()
        if not self._conn.poll(30.0):
            self._proc.kill()
            raise RuntimeError("the xArm controller emulator process did not start within 30 s")
        return self._conn.recv()

    def __exit__(self, *exc) -> None:
        try:
            self._conn.send(None)
        except OSError:
            pass
        self._proc.join(timeout=5.0)
        if self._proc.is_alive():
            self._proc.kill()
