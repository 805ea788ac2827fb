"""Is the object held? Decided from what the robot measures, never from a simulator's ground truth.

The execute stage drives the hand's closing joints past the grasp (``ifgrasp.hand.joints.squeezed``:
the thumb's ``SQUEEZE_RAD``, each other finger's ``SQUEEZE_FINGER_SHARE`` of it): with an object
between them, the current-limited fingers stop short of those targets and draw current; with
nothing there, they reach them. So after the lift:

* a finger is *blocked* when one of its closing joints sits more than ``block_rad`` short of its
  target in the closing direction (position error, rad), and, where the hand reports motor
  current (``effort_unit == "A"``, LEAP / Dynamixel present current), that joint draws at least
  ``min_current_a``;
* where the arm reports a wrist force, the load (N) must exceed ``min_load_n``;
* where the camera sees the target again after the lift, its points must have risen at least
  ``min_rise_m``: both their median and their top (``camera_rise_m``; an object pinched but
  pivoting on its base stays mostly low; not the lowest points: a mug held by its handle tilts,
  its rim swinging down; not the median alone: the lifted hand hides an unmoved object's lower half);
* held = the camera's rise where the camera sees the object (fingers that hook a handle without
  being blocked carry it too; a pinched object pivoting on the table is not lifted), else at least
  ``min_blocked_fingers`` fingers blocked; and the load check where there is one;
* except that blocked fingers win over a camera rise short of ``min_rise_m`` when the camera sees
  the object come up with the hand all the same: a rise of at least ``min_sag_rise_m`` with its
  lowest points (``low_percentile``) at least ``min_sag_clearance_m`` higher than before, clear
  of the table. A mug held by its handle sags, swinging its body down under the hand, which hides
  its upper part: the visible points rose 2.5 cm while the mug was carried 9 of 12 cm (a false
  DROPPED, issue 24); an object left on the table (pivoting, knocked over, unmoved) keeps its
  lowest points there.

``HoldVerdict.evidence`` says what was measured, for the user.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ifgrasp.hand.joints import CLOSING_MASK, FINGERS, JOINT_FINGER


@dataclass(frozen=True)
class HoldCheck:
    """Thresholds of the held decision (radians, amperes, newtons)."""

    block_rad: float = 0.04
    min_blocked_fingers: int = 1
    min_current_a: float = 0.05
    min_load_n: float = 1.0
    min_rise_m: float = 0.04
    top_percentile: float = 95.0
    min_sag_rise_m: float = 0.02
    min_sag_clearance_m: float = 0.03
    low_percentile: float = 5.0


@dataclass(frozen=True)
class HoldVerdict:
    """``held``; ``blocked`` (4,) per finger in ``FINGERS`` order; ``shortfall_rad`` (4,) the largest
    closing-joint shortfall of each finger; ``evidence`` in words."""

    held: bool
    blocked: np.ndarray
    shortfall_rad: np.ndarray
    evidence: str


def cloud_height_m(points_camera_m: np.ndarray, T_base_camera: np.ndarray, q: float = 50.0) -> float:
    """Height (base z, m) of an object's cloud (N, 3), camera frame: its ``q``-th percentile."""
    z = np.asarray(points_camera_m, float) @ np.asarray(T_base_camera, float)[2, :3] + T_base_camera[2, 3]
    return float(np.percentile(z, q)) if len(z) else float("nan")


def camera_rise_m(before_camera_m: np.ndarray, T_base_camera0: np.ndarray, after_camera_m: np.ndarray,
                  T_base_camera1: np.ndarray, top_percentile: float = 95.0) -> tuple[float, float, float]:
    """How far an object's cloud rose between two views (m): (the smaller of the two below, the
    median's rise, the top's rise (``top_percentile``-th percentile)). Clouds (N, 3) camera frame.

    Each alone is fooled by what the hand hides: an unmoved object whose lower half the lifted hand
    hides has a higher median, but not a higher top; hand points taken for the object's raise the
    top, hardly the median. A lifted object raises both."""
    med = cloud_height_m(after_camera_m, T_base_camera1) - cloud_height_m(before_camera_m, T_base_camera0)
    top = (cloud_height_m(after_camera_m, T_base_camera1, top_percentile)
           - cloud_height_m(before_camera_m, T_base_camera0, top_percentile))
    return min(med, top), med, top


def camera_low_rise_m(before_camera_m: np.ndarray, T_base_camera0: np.ndarray, after_camera_m: np.ndarray,
                      T_base_camera1: np.ndarray, low_percentile: float = 5.0) -> float:
    """How far an object's lowest points (their ``low_percentile``-th height percentile) rose between
    two views (m); clouds (N, 3) camera frame. Near 0 for an object still on the table."""
    return (cloud_height_m(after_camera_m, T_base_camera1, low_percentile)
            - cloud_height_m(before_camera_m, T_base_camera0, low_percentile))


def verify_hold(q_target_rad: np.ndarray, q_measured_rad: np.ndarray, effort: np.ndarray | None = None,
                effort_unit: str = "", wrist_load_n: float | None = None, rise_m: float | None = None,
                check: HoldCheck = HoldCheck(), low_rise_m: float | None = None) -> HoldVerdict:
    """The held decision from the hand's squeeze targets and its reading (16,) each, motor order;
    ``effort`` (16,) in ``effort_unit`` (only ``"A"``, motor current, is used); ``wrist_load_n``: the
    wrist force's change since before the grasp (N), None where no sensor; ``rise_m``: how far the
    target's points rose in the camera (m; ``camera_rise_m``), None where not seen; ``low_rise_m``:
    how far its lowest points rose (m; ``camera_low_rise_m``), None where not measured."""
    q_t = np.asarray(q_target_rad, float).reshape(16)
    q_m = np.asarray(q_measured_rad, float).reshape(16)
    short = np.where(CLOSING_MASK, q_t - q_m, 0.0)  # > 0: stopped before the target (closing = growing angle)
    joint_blocked = short > check.block_rad
    use_current = effort is not None and effort_unit == "A" and len(effort) == 16
    if use_current:
        joint_blocked &= np.abs(np.asarray(effort, float)) >= check.min_current_a
    blocked = np.zeros(len(FINGERS), bool)
    np.logical_or.at(blocked, JOINT_FINGER, joint_blocked)
    shortfall = np.zeros(len(FINGERS))
    np.maximum.at(shortfall, JOINT_FINGER, short)
    fingers_held = held = int(blocked.sum()) >= check.min_blocked_fingers
    parts = [f"{int(blocked.sum())} of {len(FINGERS)} fingers stopped short of their squeeze targets by the object "
             f"(shortfall {', '.join(f'{f} {s:.2f}' for f, s in zip(FINGERS, shortfall))} rad; blocked when "
             f"> {check.block_rad:.2f} rad"]
    if use_current:
        cur = np.zeros(len(FINGERS))
        np.maximum.at(cur, JOINT_FINGER, np.where(CLOSING_MASK, np.abs(np.asarray(effort, float)), 0.0))
        parts.append(f"; current {', '.join(f'{f} {c:.2f}' for f, c in zip(FINGERS, cur))} A")
    parts.append(")")
    if rise_m is not None:
        held = rise_m >= check.min_rise_m
        parts.append(f"; the camera sees it {100 * rise_m:.1f} cm higher than before (held needs >= "
                     f"{100 * check.min_rise_m:.0f} cm)")
        if low_rise_m is not None and not held and fingers_held:
            held = rise_m >= check.min_sag_rise_m and low_rise_m >= check.min_sag_clearance_m
            parts.append(f", its lowest points {100 * low_rise_m:.1f} cm higher: "
                         + ("held by the fingers, sagging in the hand" if held else
                            f"not up with the hand (a sagging object held needs >= {100 * check.min_sag_rise_m:.0f} "
                            f"cm and its lowest points >= {100 * check.min_sag_clearance_m:.0f} cm)"))
    if wrist_load_n is not None:
        held = held and wrist_load_n >= check.min_load_n
        parts.append(f"; wrist load {wrist_load_n:.1f} N (held needs >= {check.min_load_n:.1f} N)")
    return HoldVerdict(bool(held), blocked, shortfall, "".join(parts))
