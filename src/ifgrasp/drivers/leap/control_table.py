"""Dynamixel X-series (XC330-M288-T, the LEAP Hand's motors) control table, Protocol 2.0.

Addresses, sizes and units from the ROBOTIS e-Manual (XC330-M288 / XL330 control tables, the same
layout as every X-series motor). Conversions are vectorised: arrays of raw register values <-> SI.
The LEAP zero convention (``ifgrasp.hand.joints``): hardware angle = our angle + pi, i.e. the flat
hand is 2048 ticks on every motor.
"""

from __future__ import annotations

import numpy as np

from ifgrasp.hand.joints import HARDWARE_ZERO_OFFSET_RAD

# (address, size in bytes)
MODEL_NUMBER = (0, 2)
ID = (7, 1)
BAUD_RATE = (8, 1)
RETURN_DELAY_TIME = (9, 1)
OPERATING_MODE = (11, 1)
TEMPERATURE_LIMIT = (31, 1)
CURRENT_LIMIT = (38, 2)
TORQUE_ENABLE = (64, 1)
HARDWARE_ERROR_STATUS = (70, 1)
BUS_WATCHDOG = (98, 1)  # signed: 0 off, 1..127 armed (x 20 ms), -1 tripped
POSITION_D_GAIN = (80, 2)
POSITION_I_GAIN = (82, 2)
POSITION_P_GAIN = (84, 2)
GOAL_CURRENT = (102, 2)
GOAL_POSITION = (116, 4)
PRESENT_CURRENT = (126, 2)
PRESENT_VELOCITY = (128, 4)
PRESENT_POSITION = (132, 4)
PRESENT_INPUT_VOLTAGE = (144, 2)
PRESENT_TEMPERATURE = (146, 1)

#: One sync read covers present current .. present temperature (126..146 inclusive).
STATE_BLOCK = (126, 21)

MODEL_XC330_M288 = 1240
CURRENT_BASED_POSITION_MODE = 5
RETURN_DELAY_UNIT_US = 2.0
BUS_WATCHDOG_UNIT_MS = 20.0
BUS_WATCHDOG_TRIPPED = 0xFF  # -1 as an unsigned byte
#: Factory values this driver changes (e-Manual): Return Delay Time 250 (500 us), mode 3.
FACTORY_RETURN_DELAY_TIME = 250
#: Baud Rate register value -> bit/s (X series).
BAUD_RATES = {0: 9600, 1: 57600, 2: 115200, 3: 1_000_000, 4: 2_000_000, 5: 3_000_000, 6: 4_000_000}

TICKS_PER_REV = 4096
RAD_PER_TICK = 2 * np.pi / TICKS_PER_REV
RAD_S_PER_UNIT = 0.229 * 2 * np.pi / 60.0  # velocity unit 0.229 rev/min
A_PER_UNIT = 0.001  # XC330: current unit 1 mA
ZERO_OFFSET_RAD = HARDWARE_ZERO_OFFSET_RAD  # hardware = ours + pi (ifgrasp.hand.joints)

#: Hardware Error Status bits -> words (e-Manual "Hardware Error Status").
HARDWARE_ERROR_BITS = {
    0: "input voltage error",
    2: "overheating",
    3: "motor encoder error",
    4: "electrical shock",
    5: "overload",
}
#: Status-packet error byte: the alert bit says "read Hardware Error Status".
STATUS_ALERT_BIT = 0x80


def signed(raw: np.ndarray, size: int) -> np.ndarray:
    """Reinterpret unsigned little-endian register values of ``size`` bytes as two's complement."""
    raw = np.asarray(raw, dtype=np.int64)
    bits = 8 * size
    return np.where(raw >= 1 << (bits - 1), raw - (1 << bits), raw)


def ticks_to_rad(ticks: np.ndarray) -> np.ndarray:
    """(..., J) position ticks -> our joint angles, rad."""
    return signed(ticks, 4) * RAD_PER_TICK - ZERO_OFFSET_RAD


def rad_to_ticks(q_rad: np.ndarray) -> np.ndarray:
    """(..., J) our joint angles, rad -> goal position ticks (int64)."""
    return np.rint((np.asarray(q_rad) + ZERO_OFFSET_RAD) / RAD_PER_TICK).astype(np.int64)


def describe_hardware_error(bits: int) -> str:
    words = [w for b, w in HARDWARE_ERROR_BITS.items() if bits & (1 << b)]
    return ", ".join(words) if words else f"unknown hardware error 0x{bits:02x}"


def block_field(data: np.ndarray, block_start: int, reg: tuple[int, int]) -> np.ndarray:
    """(J,) unsigned little-endian values of register ``reg`` from raw blocks ``data`` (J, n) uint8
    read from address ``block_start``."""
    off, size = reg[0] - block_start, reg[1]
    chunk = np.asarray(data, dtype=np.int64)[:, off:off + size]  # (J, size)
    return (chunk << (8 * np.arange(size))).sum(axis=1)
