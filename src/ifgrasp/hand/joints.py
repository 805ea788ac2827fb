"""The LEAP Hand (right) joint table: the one place that says joint order, names and limits.

Order = Dynamixel motor ID on the real hand (LEAP API convention): index 0-3, middle 4-7,
ring 8-11, thumb 12-15. Within each long finger the motor order is
``mcp_side`` (abduction, side to side), ``mcp_flex``, ``pip``, ``dip``. Note that on the LEAP Hand
the side-to-side joint sits *after* the MCP flexion joint in the kinematic chain
(palm -> mcp_flex -> knuckle -> mcp_side -> proximal -> pip -> middle -> dip -> distal),
although its motor ID comes first. Positive ``mcp_side`` swings a finger toward -y of the hand
frame (the ring-finger side); positive flexion joints curl toward the palm (-z). Thumb: ``cmc`` (swings the thumb from the palm plane
under the palm, opposition), ``rot`` (rotation about the thumb's own long axis), ``mcp``, ``ip``.

Zero convention: our zero (and the URDF's) is the flat hand, fingers straight along +x of the hand
frame, thumb straight out along +y. The real hand's LEAP API reads pi rad at that pose, so
``hardware_rad = ours_rad + pi`` (:func:`to_hardware_rad`, :func:`from_hardware_rad`).

Sources: joint limits, velocity 8.48 rad/s and effort 0.95 N m (Dynamixel XC330-M288-T) from the
published LEAP Hand URDF (leap-hand/LEAP_Hand_Sim ``assets/leap_hand/robot.urdf``) and
``LEAPsim_limits`` in leap-hand/LEAP_Hand_API ``leap_hand_utils.py``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

FINGERS: tuple[str, ...] = ("index", "middle", "ring", "thumb")
#: Finger index used for palm contacts (after the four fingers).
PALM_FINGER_INDEX = len(FINGERS)

#: The LEAP API reads this many radians at our zero (flat) pose.
HARDWARE_ZERO_OFFSET_RAD = math.pi


class HandJoint(NamedTuple):
    """One actuated joint of the LEAP Hand.

    ``lower_rad``/``upper_rad`` in our (flat = 0) convention; ``max_velocity_rad_s`` in rad/s;
    ``effort_nm`` is the stall-torque limit in N m; ``hardware_offset_rad`` is added to our angle to
    get the angle the LEAP API reads for that motor.
    """

    motor_id: int
    name: str
    finger: str
    role: str
    lower_rad: float
    upper_rad: float
    max_velocity_rad_s: float
    effort_nm: float
    hardware_offset_rad: float


_VEL, _EFF, _OFF = 8.48, 0.95, HARDWARE_ZERO_OFFSET_RAD
_LONG_FINGER = (  # role, lower, upper: LEAPsim_limits regular
    ("mcp_side", -1.047, 1.047),
    ("mcp_flex", -0.314, 2.23),
    ("pip", -0.506, 1.885),
    ("dip", -0.366, 2.042),
)
_THUMB = (("cmc", -0.349, 2.094), ("rot", -0.47, 2.443), ("mcp", -1.20, 1.90), ("ip", -1.34, 1.88))


def _build() -> tuple[HandJoint, ...]:
    rows = []
    for f, finger in enumerate(FINGERS):
        spec = _THUMB if finger == "thumb" else _LONG_FINGER
        for j, (role, lo, hi) in enumerate(spec):
            rows.append(HandJoint(4 * f + j, f"{finger}_{role}", finger, role, lo, hi, _VEL, _EFF, _OFF))
    return tuple(rows)


#: The joint table, in motor-ID order. Everything reads limits from here.
JOINTS: tuple[HandJoint, ...] = _build()
JOINT_NAMES: tuple[str, ...] = tuple(j.name for j in JOINTS)
NUM_JOINTS = len(JOINTS)
LOWER_RAD = np.array([j.lower_rad for j in JOINTS])  # (16,)
UPPER_RAD = np.array([j.upper_rad for j in JOINTS])  # (16,)
MAX_VELOCITY_RAD_S = np.array([j.max_velocity_rad_s for j in JOINTS])  # (16,)
EFFORT_NM = np.array([j.effort_nm for j in JOINTS])  # (16,)

#: Flat, open hand (all zeros: fingers straight, thumb straight out in the palm plane).
OPEN_JOINTS_RAD = np.zeros(NUM_JOINTS)
#: Slightly curled fingers with the thumb swung under the palm, opposing the fingers: the
#: configuration the grasp teacher starts from.
PREGRASP_JOINTS_RAD = np.array(
    [0.0, 0.35, 0.3, 0.2] * 3 + [1.3, 0.0, 0.5, 0.3]
)

# --- the hand frame ``palm`` -------------------------------------------------------------
# The hand's root frame is named ``palm``; it is the published LEAP URDF's ``palm_lower`` frame,
# so every published joint origin is used unchanged. Its axes at the flat pose: +x from the wrist
# toward the fingertips, +y from the ring finger toward the index finger (the thumb side),
# +z out of the back of the hand. The palmar (grasping) side faces -z.

#: Centre of the palmar face of the palm, in the ``palm`` frame, metres.
PALM_CENTER_IN_HAND = np.array([-0.045, -0.035, -0.0345])
#: Unit normal of the palmar face, pointing away from the palm toward where a held object sits.
PALM_NORMAL_IN_HAND = np.array([0.0, 0.0, -1.0])
#: Unit axis from the wrist toward the fingertips (straight fingers).
FINGER_AXIS_IN_HAND = np.array([1.0, 0.0, 0.0])


#: Roles whose angle grows as the hand closes on an object (never side-to-side or thumb rotation).
CLOSING_ROLES = frozenset({"mcp_flex", "pip", "dip", "cmc", "mcp", "ip"})
#: (16,) True on the closing joints, in motor order.
CLOSING_MASK = np.array([j.role in CLOSING_ROLES for j in JOINTS])
#: (16,) index in ``FINGERS`` of each joint's finger, in motor order.
JOINT_FINGER = np.array([FINGERS.index(j.finger) for j in JOINTS])


# The closing protocol: the teacher validates every grasp with it and an execution repeats it, so a
# grasp that passed in simulation is closed the same way on the robot. The hand waits at the
# pre-grasp (closing joints PREGRASP_OPEN_RAD short of the grasp) while the wrist reaches the grasp
# pose, then its targets ramp in CLOSE_S to SQUEEZE_RAD past the grasp (the thumb; the other fingers
# SQUEEZE_FINGER_SHARE of it). Closing from the flat hand instead sweeps the fingers through a wide
# arc and pushes the object away before it is held.
PREGRASP_OPEN_RAD = 0.3
SQUEEZE_RAD = 0.15
CLOSE_S = 0.4
#: Share of ``SQUEEZE_RAD`` each finger squeezes past the grasp (index, middle, ring, thumb). The thumb
#: opposes up to three fingers at the same joint stiffness and current limit; squeezing all four
#: equally pushed the object toward the thumb by 1-3x its weight (net), which shoved it while the hand
#: closed and moved it again when the lift took it off the table (docs/experiments.md).
SQUEEZE_FINGER_SHARE = (0.5, 0.5, 0.5, 1.0)


def pregrasp(joints_rad: np.ndarray, open_rad: float = PREGRASP_OPEN_RAD) -> np.ndarray:
    """Grasp joints (..., 16) with the closing joints opened by ``open_rad``, clipped to the limits:
    the hand shape held while the wrist moves to the grasp pose."""
    return np.clip(np.asarray(joints_rad, dtype=float) - open_rad * CLOSING_MASK, LOWER_RAD, UPPER_RAD)


def squeezed(joints_rad: np.ndarray, squeeze_rad: float = SQUEEZE_RAD,
             finger_share: tuple[float, ...] = SQUEEZE_FINGER_SHARE) -> np.ndarray:
    """Grasp joints (..., 16) with the closing joints driven further (the thumb's by ``squeeze_rad``,
    each finger's by its ``finger_share`` of it, in ``FINGERS`` order), clipped to the limits: the
    position target that makes current-limited fingers press on the object (used both by the
    teacher's physics validation and when a grasp is executed)."""
    per_joint = squeeze_rad * np.asarray(finger_share, dtype=float)[JOINT_FINGER] * CLOSING_MASK
    return np.clip(np.asarray(joints_rad, dtype=float) + per_joint, LOWER_RAD, UPPER_RAD)


def to_hardware_rad(joints_rad: np.ndarray) -> np.ndarray:
    """Our joint angles (..., 16) in rad -> the angles the LEAP API reads/commands (..., 16)."""
    return np.asarray(joints_rad, dtype=float) + np.array([j.hardware_offset_rad for j in JOINTS])


def from_hardware_rad(hardware_rad: np.ndarray) -> np.ndarray:
    """LEAP API angles (..., 16) in rad -> our joint angles (..., 16)."""
    return np.asarray(hardware_rad, dtype=float) - np.array([j.hardware_offset_rad for j in JOINTS])


def joint_index(name: str) -> int:
    """Motor ID of the joint called ``name``; raises :class:`KinematicsError` listing valid names."""
    from ifgrasp.errors import KinematicsError, known

    try:
        return JOINT_NAMES.index(name)
    except ValueError:
        raise KinematicsError(f"unknown LEAP Hand joint '{name}'; known: {known(JOINT_NAMES)}") from None
