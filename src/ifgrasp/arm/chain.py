"""A serial revolute chain read from a URDF: fixed joint origins, axes and limits.

The URDF is the single source of truth for the arm's numbers; this module only parses it into
arrays that the batched kinematics (``ifgrasp.arm.kinematics``) multiplies.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ifgrasp.errors import KinematicsError, known


def rpy_to_matrix(rpy: np.ndarray) -> np.ndarray:
    """URDF roll-pitch-yaw (fixed axes x, y, z; radians) -> rotation matrix, ``R = Rz Ry Rx``.

    ``rpy`` (..., 3) -> (..., 3, 3).
    """
    r, p, y = np.moveaxis(np.asarray(rpy, dtype=float), -1, 0)
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.stack(
        [
            np.stack([cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr], -1),
            np.stack([sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr], -1),
            np.stack([-sp, cp * sr, cp * cr], -1),
        ],
        -2,
    )


def origin_transform(elem: ET.Element | None) -> np.ndarray:
    """(4, 4) transform of a URDF ``<origin xyz rpy>`` element (identity when absent)."""
    T = np.eye(4)
    if elem is None:
        return T
    T[:3, :3] = rpy_to_matrix(np.array([float(v) for v in elem.get("rpy", "0 0 0").split()]))
    T[:3, 3] = [float(v) for v in elem.get("xyz", "0 0 0").split()]
    return T


@dataclass(frozen=True)
class SerialChain:
    """Revolute joints from ``base_link`` to ``tip_link`` in order.

    ``T_parent_joint`` (J, 4, 4): each joint's origin in its parent link frame;
    ``axis`` (J, 3): unit rotation axis in the joint (child link) frame;
    ``lower``/``upper`` (J,) rad; ``velocity`` (J,) rad/s; ``effort`` (J,) N m;
    ``T_last_tip`` (4, 4): fixed transform from the last joint's child link to ``tip_link``.
    """

    joint_names: tuple[str, ...]
    base_link: str
    tip_link: str
    T_parent_joint: np.ndarray
    axis: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray
    T_last_tip: np.ndarray

    @classmethod
    def from_urdf(cls, path: str | Path, base_link: str, tip_link: str) -> "SerialChain":
        """Walk the URDF's joint tree from ``tip_link`` back to ``base_link``."""
        root = ET.parse(path).getroot()
        by_child = {j.find("child").get("link"): j for j in root.findall("joint")}
        links = {link.get("name") for link in root.findall("link")}
        for name in (base_link, tip_link):
            if name not in links:
                raise KinematicsError(f"link '{name}' not in {path}; known: {known(links)}")
        path_joints = []
        link = tip_link
        while link != base_link:
            if link not in by_child:
                raise KinematicsError(f"'{tip_link}' is not below '{base_link}' in {path}")
            joint = by_child[link]
            path_joints.append(joint)
            link = joint.find("parent").get("link")
        path_joints.reverse()

        names, T_joint, axes, lo, hi, vel, eff = [], [], [], [], [], [], []
        T_fixed = np.eye(4)  # fixed joints accumulated since the last revolute joint
        for joint in path_joints:
            T = T_fixed @ origin_transform(joint.find("origin"))
            jtype = joint.get("type")
            if jtype == "fixed":
                T_fixed = T
                continue
            if jtype not in ("revolute", "continuous"):
                raise KinematicsError(f"joint '{joint.get('name')}' has type '{jtype}'; known: revolute, continuous, fixed")
            limit = joint.find("limit")
            axis = np.array([float(v) for v in joint.find("axis").get("xyz", "1 0 0").split()])
            names.append(joint.get("name"))
            T_joint.append(T)
            axes.append(axis / np.linalg.norm(axis))
            lo.append(float(limit.get("lower", -np.pi)) if jtype == "revolute" else -np.pi)
            hi.append(float(limit.get("upper", np.pi)) if jtype == "revolute" else np.pi)
            vel.append(float(limit.get("velocity", np.inf)))
            eff.append(float(limit.get("effort", np.inf)))
            T_fixed = np.eye(4)
        return cls(
            joint_names=tuple(names),
            base_link=base_link,
            tip_link=tip_link,
            T_parent_joint=np.stack(T_joint),
            axis=np.stack(axes),
            lower=np.array(lo),
            upper=np.array(hi),
            velocity=np.array(vel),
            effort=np.array(eff),
            T_last_tip=T_fixed,
        )
