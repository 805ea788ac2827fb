"""One small interface per device kind; every backend (sim, xarm, leap) implements it.

``JointDriver`` holds the shared logic (the safety layer, the watchdog, stop/enable, the context
manager); a backend implements five hooks: ``_connect``, ``_disconnect``, ``_read``, ``_write`` and
optionally ``_on_fault``. A ROS node wraps a driver thinly: a timer calls ``read_state()`` (which
also services the watchdog) and publishes it; an action calls ``execute_trajectory`` with
``feedback_cb``/``should_cancel``; services call ``stop()``, ``enable()`` and ``recover()``.

Torque policy: ``stop()``, a fault, the watchdog and ``disconnect()`` all leave the device holding
with torque on: at ``_hold_position(measured)``, the measured position for the arm, the latched
squeeze goal for a hand holding a grasp (``HandDriver``); nothing turns torque off except the
explicit ``torque_off()`` of the LEAP backend (dry runs, docs/hardware.md).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ifgrasp.drivers.limits import JointLimits
from ifgrasp.drivers.safety import PointsFk, SafetyConfig, SafetyFilter
from ifgrasp.errors import DriverError, SafetyError


@dataclass
class JointState:
    """One reading of a device, joints in table order, (J,) arrays.

    ``effort`` is in ``effort_unit`` (``"A"`` motor current for the hand, ``"N*m"`` for the arm);
    ``temperature_c`` is NaN where the device does not report it; ``errors`` lists the active faults
    in words (empty = healthy); ``stamp_s`` is the driver clock (monotonic seconds).
    """

    names: tuple[str, ...]
    position_rad: np.ndarray
    velocity_rad_s: np.ndarray
    effort: np.ndarray
    temperature_c: np.ndarray
    stamp_s: float
    effort_unit: str = "A"
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class TrajectoryFeedback:
    """Sent to ``feedback_cb`` at each streamed sample: desired/measured (J,) and the time (s)."""

    time_s: float
    index: int
    q_desired_rad: np.ndarray
    q_measured_rad: np.ndarray

    @property
    def error_rad(self) -> np.ndarray:
        return self.q_desired_rad - self.q_measured_rad


class JointDriver(ABC):
    """Base of every joint-space device driver (arm, hand; real or simulated)."""

    effort_unit = "A"
    #: A device fault seen at connect: True -> hold and raise; False -> stay connected, faulted and
    #: holding (the node stays alive and reports it; ``recover()`` clears it).
    connect_faults_fatal: bool = True

    def __init__(self, limits: JointLimits, safety: SafetyConfig | None = None, fk: PointsFk | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.safety = SafetyFilter(limits, safety, fk)
        self.clock = clock
        self._connected = False
        self._last_state: JointState | None = None
        self.fault: str | None = None

    # -- backend hooks -----------------------------------------------------------------------------
    @abstractmethod
    def _connect(self) -> None: ...

    @abstractmethod
    def _disconnect(self) -> None: ...

    @abstractmethod
    def _read(self) -> JointState: ...

    @abstractmethod
    def _write(self, q_rad: np.ndarray) -> None:
        """Send one position target (J,), already through the safety layer."""

    # -- public API --------------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def names(self) -> tuple[str, ...]:
        return self.limits.names

    def connect(self) -> "JointDriver":
        if self._connected:
            return self
        self._connect()
        self._connected = True
        self.fault = None
        self.safety.enable()
        state = self.read_state()
        if not state.ok and self.connect_faults_fatal:
            self.stop()
            raise DriverError(f"{type(self).__name__} connected but reports faults: {'; '.join(state.errors)}")
        return self

    def read_state(self) -> JointState:
        """Read the device; services the watchdog; a communication fault -> hold and ``DriverError``."""
        self._require_connected()
        try:
            state = self._read()
        except DriverError as exc:
            self._enter_fault(str(exc))
            raise
        self._last_state = state
        now = self.clock()
        if self.safety.watchdog_expired(now):
            self._send_hold(state.position_rad, now)
        if state.errors and self.fault is None:
            self._enter_fault("; ".join(state.errors))
        return state

    def send_command(self, q_target) -> np.ndarray:
        """Send a position target (J,) rad; returns the command actually sent after the limits."""
        self._require_connected()
        if self.fault is not None:
            raise SafetyError(f"command refused: the driver is faulted ({self.fault}); clear it first")
        q_measured = self._measured()
        q = self.safety.filter(q_target, q_measured, self.clock())
        try:
            self._write(q)
        except DriverError as exc:
            self._enter_fault(str(exc))
            raise
        return q

    def stop(self) -> None:
        """Hold (``_hold_position``) and refuse commands until ``enable()``; any state, idempotent."""
        self.safety.stop()
        if not self._connected:
            return
        try:
            self._send_hold(self._measured(fresh=True), self.clock())
        except DriverError:
            pass  # the device is unreachable; the fault is already recorded and reported

    def enable(self) -> None:
        """Accept commands again after ``stop()`` (a fault needs ``recover()`` / reconnect)."""
        self._require_connected()
        if self.fault is not None:
            raise DriverError(f"cannot enable: the driver is faulted ({self.fault}); call recover() first")
        self.safety.enable()

    def _recover(self) -> None:
        """Backend recovery hook (clear device errors, re-enable); default: nothing to clear."""

    def recover(self) -> None:
        """Clear a fault or a stop and accept commands again (one call); holds the measured position."""
        self._require_connected()
        self._recover()
        self.fault = None
        self.safety.enable()
        state = self.read_state()
        if not state.ok:
            raise DriverError(f"recovery did not clear the faults: {'; '.join(state.errors)}")
        self._send_hold(state.position_rad, self.clock())

    def check_watchdog(self) -> bool:
        """Hold if no fresh command arrived in time (for a timer between reads); True if it held."""
        now = self.clock()
        if self._connected and self.safety.watchdog_expired(now):
            self._send_hold(self._measured(fresh=True), now)
            return True
        return False

    def disconnect(self) -> None:
        """Hold (torque stays on) and release the connection; safe to call twice."""
        if not self._connected:
            return
        try:
            self.stop()
        finally:
            self._connected = False
            self._disconnect()

    def __enter__(self) -> "JointDriver":
        return self.connect()

    def __exit__(self, *exc) -> None:
        self.disconnect()

    # -- shared helpers ----------------------------------------------------------------------------
    def _require_connected(self) -> None:
        if not self._connected:
            raise DriverError(f"{type(self).__name__} is not connected; call connect() first")

    def _measured(self, fresh: bool = False) -> np.ndarray:
        if fresh or self._last_state is None:
            try:
                self._last_state = self._read()
            except DriverError:
                if self._last_state is None:
                    raise
        return self._last_state.position_rad

    def _hold_position(self, q_measured: np.ndarray) -> np.ndarray:
        """(J,) what a hold keeps the device at, given the measured position (J,); arm: measured."""
        return q_measured

    def _send_hold(self, q_measured: np.ndarray, now_s: float) -> np.ndarray:
        q = self.safety.hold_target(self._hold_position(q_measured), now_s)
        self._write(q)
        return q

    def _enter_fault(self, reason: str) -> None:
        """Record the fault, refuse commands and try to hold the last measured position."""
        self.fault = reason
        self.safety.stop()
        if self._last_state is not None:
            try:
                self._send_hold(self._last_state.position_rad, self.clock())
            except DriverError:
                pass
