"""The real LEAP Hand's finger strength, gains and fingertip friction, from one source of truth: the
LEAP driver's settings (``config/drivers.yaml``, section ``hand.leap``, typed by
:class:`ifgrasp.drivers.leap.backend.LeapConfig`). The teacher's physics validation reads them here, so
the simulated hand is as strong as the real one is set to be.

Motor: Dynamixel XC330-M288-T (LEAP Hand), run by the driver in current-based position control mode.

* **Torque limit** from the current limit (``current_limit_ma``, the motors' Goal Current). The
  ROBOTIS e-manual's XC330-M288-T specification (emanual.robotis.com/docs/en/dxl/x/xc330-m288/) gives
  three stall points: 0.69 N m at 1.34 A (3.7 V), 0.93 N m at 1.80 A (5.0 V), 1.10 N m at 2.15 A
  (6.0 V). Torque is proportional to current in a DC motor; the least-squares line through the origin
  and these points is ``XC330_NM_PER_A`` = 0.514 N m/A (residuals <= 0.02 N m), so 550 mA (the LEAP
  API's setting for the full hand's XC330-M288-T motors, leap-hand/LEAP_Hand_API ``python/main.py`` and
  readme; our default) gives 0.28 N m at the joint and 350 mA (its setting for the lite hand) 0.18 N m. The motor's rating: its
  stall current at the recommended 5.0 V, 1.80 A; a current limit above it is refused.
* **Position gains**: the X-series position controller (e-manual, "Position PID Gain (80, 82, 84)")
  scales the control-table values as ``K_P = KPP(TBL) / 128`` and ``K_D = KPD(TBL) / 16``; in
  current-based position mode its output is a current command in the Goal Current unit (1 mA on the
  XC330) from a position error in encoder pulses (4096 per revolution). So
  ``kp [N m/rad] = KPP/128 [mA/pulse] * 4096/(2 pi) [pulse/rad] * 1e-3 [A/mA] * XC330_NM_PER_A`` =
  600 -> 1.57 N m/rad. The D term acts on the error's change per control period; taking the X series'
  1 ms period, ``kd [N m s/rad] = KPD/16 * 4096/(2 pi) * 1e-3 * 1e-3 * XC330_NM_PER_A`` = 200 ->
  4.2e-3 N m s/rad. The driver scales the side-to-side (MCP abduction) motors' gains by
  ``side_gain_scale``. With these gains a finger reaches its current limit 0.18 rad (550 mA; 350 mA:
  0.11 rad) short of its target, so the thumb held 0.15 rad short (the squeeze past the grasp,
  ``SQUEEZE_RAD``) presses at 0.24 N m, 83% of the limit, and the other fingers (half of it,
  ``SQUEEZE_FINGER_SHARE``) at 0.12 N m: springs, not torque-saturated.
* **Fingertip friction**: the LEAP Hand's fingertips and finger skins are 3D-printed TPU
  (thermoplastic polyurethane; LEAP Hand assembly guide, v2.leaphand.com/assembly: "remove the PLA
  from the TPU"). ``TPU_FRICTION`` = 0.6: no measured TPU-on-household-object coefficient was found in
  a citable source this session; 0.6 is the value of the independent LEAP benchmark issue 21 compares
  against (an open item: replace it by a measurement, docs/experiments.md).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ifgrasp.errors import ConfigError

if TYPE_CHECKING:
    from ifgrasp.drivers.leap.backend import LeapConfig

MOTOR = "XC330-M288-T"
#: (current A, stall torque N m) at 3.7, 5.0 and 6.0 V: ROBOTIS e-manual, XC330-M288-T specifications.
XC330_STALL_POINTS = ((1.34, 0.69), (1.80, 0.93), (2.15, 1.10))
_I, _T = np.array(XC330_STALL_POINTS).T
#: Joint torque per motor current, N m/A: least squares through the origin and the stall points.
XC330_NM_PER_A = float((_I * _T).sum() / (_I * _I).sum())
#: The motor's rated maximum current, mA (stall current at the recommended 5.0 V).
XC330_RATED_CURRENT_MA = 1800.0
PULSES_PER_RAD = 4096 / (2 * math.pi)
CONTROL_PERIOD_S = 1e-3
CURRENT_UNIT_A = 1e-3  # Goal Current unit of the XC330, A
#: Sliding friction of the LEAP Hand's TPU fingertips (see the module docstring for its source).
TPU_FRICTION = 0.6


class FingerStrength(NamedTuple):
    """Per joint (16,), motor order: position gain N m/rad, damping N m s/rad, torque limit N m;
    ``friction``: sliding friction of the hand's skin."""

    kp_nm_per_rad: np.ndarray
    kd_nm_s_per_rad: np.ndarray
    torque_limit_nm: np.ndarray
    friction: float


def torque_from_current_nm(current_ma: float) -> float:
    """Joint torque (N m) an XC330-M288-T delivers at ``current_ma`` (mA); ConfigError above its rating."""
    if current_ma > XC330_RATED_CURRENT_MA:
        raise ConfigError(f"hand.leap.current_limit_ma = {current_ma:g} mA exceeds the {MOTOR}'s rating of "
                          f"{XC330_RATED_CURRENT_MA:g} mA (stall current at 5.0 V): lower current_limit_ma")
    if current_ma <= 0:
        raise ConfigError(f"hand.leap.current_limit_ma must be positive, got {current_ma:g} mA")
    return XC330_NM_PER_A * current_ma * 1e-3


def kp_nm_per_rad(kp_units: float) -> float:
    """Position P gain in Dynamixel control-table units -> N m/rad at the joint (module docstring)."""
    return kp_units / 128 * PULSES_PER_RAD * CURRENT_UNIT_A * XC330_NM_PER_A


def kd_nm_s_per_rad(kd_units: float) -> float:
    """Position D gain in Dynamixel control-table units -> N m s/rad at the joint (module docstring)."""
    return kd_units / 16 * PULSES_PER_RAD * CURRENT_UNIT_A * CONTROL_PERIOD_S * XC330_NM_PER_A


def finger_strength(leap: LeapConfig) -> FingerStrength:
    """The simulated fingers of a LEAP Hand driven with ``leap`` (the driver's own settings)."""
    from ifgrasp.hand.joints import NUM_JOINTS

    torque = torque_from_current_nm(leap.current_limit_ma)
    scale = np.ones(NUM_JOINTS)
    for motor in leap.side_ids:
        if motor in leap.motor_ids:
            scale[list(leap.motor_ids).index(motor)] = leap.side_gain_scale
    return FingerStrength(kp_nm_per_rad(leap.kp) * scale, kd_nm_s_per_rad(leap.kd) * scale,
                          np.full(NUM_JOINTS, torque), TPU_FRICTION)


def driver_leap_config(path: str | Path | None = None) -> LeapConfig:
    """The ``hand.leap`` section of the drivers config (default ``config/drivers.yaml``)."""
    import yaml

    from ifgrasp.drivers.leap.backend import LeapConfig
    from ifgrasp.paths import CONFIG_DIR

    path = Path(path) if path is not None else CONFIG_DIR / "drivers.yaml"
    if not path.is_file():
        raise ConfigError(f"drivers config not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    section = (data.get("hand") or {}).get("leap")
    if section is None:
        raise ConfigError(f"{path} has no hand.leap section (the LEAP driver's settings)")
    return LeapConfig.from_dict(section)
