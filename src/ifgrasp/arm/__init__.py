"""xArm7 kinematics (FK, Jacobian, multi-seed IK) and the combined xArm7 + LEAP Hand model."""

from ifgrasp.arm.ik import IKResult
from ifgrasp.arm.kinematics import XARM7_URDF, Xarm7Kinematics
from ifgrasp.arm.mount import T_FLANGE_HAND

__all__ = ["IKResult", "T_FLANGE_HAND", "XARM7_URDF", "Xarm7Kinematics"]
