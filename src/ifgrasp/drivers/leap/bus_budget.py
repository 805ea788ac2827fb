"""Dynamixel bus time budget: seconds per state read and per goal write, and the state rate it allows.

Protocol 2.0 packet sizes (ROBOTIS e-Manual, "Protocol 2.0"): an instruction packet is 10 bytes +
its parameters (header 4, ID, length 2, instruction, CRC 2); a status packet 11 + its data (plus
the error byte). One byte on the wire is 10 bits (start, 8 data, stop). Per read:

    sync read       request 14 + N bytes; N replies of 11 + n bytes, each after the motor's Return
                    Delay Time (2 us per unit), one after the other
    fast sync read  request 14 + N bytes; one reply of 10 + N * (n + 4) bytes after one delay
    + the USB adapter's latency timer (the FTDI chip holds the reply tail up to that long; 16 ms
      by default, 1 ms recommended by LEAP) + ``usb_overhead_s`` per transfer.
A sync write of N goals of n bytes is 14 + N * (n + 1) bytes, no reply.
``max_state_rate_hz`` = ``bus_share`` / (read + write): a state read and a goal write per cycle,
the rest of the bus left for pings, status reads and jitter.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BITS_PER_BYTE = 10
RETURN_DELAY_UNIT_S = 2e-6
#: The FTDI default, assumed where the latency timer cannot be read.
DEFAULT_LATENCY_TIMER_MS = 16.0


def sync_read_request_bytes(n_motors: int) -> int:
    return 14 + n_motors


def status_bytes(data_bytes: int) -> int:
    return 11 + data_bytes


def fast_sync_reply_bytes(n_motors: int, data_bytes: int) -> int:
    return 10 + n_motors * (data_bytes + 4)


def sync_write_bytes(n_motors: int, data_bytes: int) -> int:
    return 14 + n_motors * (data_bytes + 1)


def usb_serial_latency_timer_ms(port: str, sysfs: str = "/sys") -> float | None:
    """The latency timer (ms) of the USB serial adapter behind ``port`` (symlinks such as
    /dev/serial/by-id/... resolved) from /sys/bus/usb-serial/devices/<tty>/latency_timer; None when
    the port is not a USB serial adapter (a PTY, a missing device)."""
    try:
        tty = os.path.basename(os.path.realpath(port))
        return float(Path(f"{sysfs}/bus/usb-serial/devices/{tty}/latency_timer").read_text().strip())
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class BusBudget:
    """Bus time of one state read and one goal write (s) and the state rate they allow (Hz)."""

    baud: int
    n_motors: int
    read_bytes: int  # one state read: request + replies
    write_bytes: int  # one goal write
    return_delay_us: float
    latency_timer_ms: float
    fast: bool
    read_s: float
    write_s: float
    bus_share: float

    @property
    def max_state_rate_hz(self) -> float:
        return self.bus_share / (self.read_s + self.write_s)

    def describe(self) -> str:
        kind = "fast sync read" if self.fast else "sync read"
        return (f"bus budget at {self.baud} baud, {self.n_motors} motors, return delay {self.return_delay_us:.0f} us, "
                f"latency timer {self.latency_timer_ms:g} ms: {kind} {self.read_bytes} B = {1e3 * self.read_s:.2f} ms "
                f"per state, goal write {self.write_bytes} B = {1e3 * self.write_s:.2f} ms; at most "
                f"{self.max_state_rate_hz:.0f} states/s using {100 * self.bus_share:.0f}% of the bus")


def bus_budget(baud: int, n_motors: int, data_bytes: int, return_delay_us: float, latency_timer_ms: float,
               fast: bool = True, goal_bytes: int = 4, bus_share: float = 0.5,
               usb_overhead_s: float = 0.125e-3) -> BusBudget:
    """The ``BusBudget`` of reading ``data_bytes`` from each of ``n_motors`` and writing ``goal_bytes``
    to each (see the module docstring for the model)."""
    byte_s = BITS_PER_BYTE / baud
    request = sync_read_request_bytes(n_motors)
    if fast:
        replies, delays = fast_sync_reply_bytes(n_motors, data_bytes), 1
    else:
        replies, delays = n_motors * status_bytes(data_bytes), n_motors
    read_s = (request + replies) * byte_s + delays * return_delay_us * 1e-6 + latency_timer_ms * 1e-3 + 2 * usb_overhead_s
    write = sync_write_bytes(n_motors, goal_bytes)
    write_s = write * byte_s + usb_overhead_s
    return BusBudget(baud, n_motors, request + replies, write, return_delay_us, latency_timer_ms, fast, read_s,
                     write_s, bus_share)
