"""LEAP Hand (right): joint table, URDF and batched differentiable torch kinematics.

    from ifgrasp.hand import LeapHandModel, JOINTS, PREGRASP_JOINTS_RAD
    hand = LeapHandModel()                      # float32 on CPU; hand.to("cuda")
    pts = hand.surface_points(wrist_pos, wrist_rot, joints)   # (B, P, 3) world
    depth = HandSelfCollision(hand).max_depth(joints)         # (B,) exact self-penetration, m
"""

from ifgrasp.hand.joints import (
    FINGER_AXIS_IN_HAND,
    FINGERS,
    JOINT_NAMES,
    JOINTS,
    NUM_JOINTS,
    OPEN_JOINTS_RAD,
    PALM_CENTER_IN_HAND,
    PALM_NORMAL_IN_HAND,
    PREGRASP_JOINTS_RAD,
    HandJoint,
    from_hardware_rad,
    to_hardware_rad,
)
from ifgrasp.hand.model import LeapHandModel
from ifgrasp.hand.self_collision import SELF_PENETRATION_LIMIT_M, HandSelfCollision

__all__ = [
    "FINGERS", "FINGER_AXIS_IN_HAND", "HandJoint", "HandSelfCollision", "SELF_PENETRATION_LIMIT_M", "JOINTS", "JOINT_NAMES", "LeapHandModel", "NUM_JOINTS",
    "OPEN_JOINTS_RAD", "PALM_CENTER_IN_HAND", "PALM_NORMAL_IN_HAND", "PREGRASP_JOINTS_RAD",
    "from_hardware_rad", "to_hardware_rad",
]
