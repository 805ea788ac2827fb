"""Read a hand URDF into flat numpy arrays: the kinematic tree by depth level and its box geometry.

Only what the hand model needs: revolute and fixed joints, box collision geometry. The result is
plain arrays so the torch model can evaluate every link of one depth level in a single batched op.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ifgrasp.errors import ModelError, known
from ifgrasp.hand.joints import JOINT_NAMES
from ifgrasp.paths import URDF_DIR

#: The committed LEAP Hand (right) URDF, written by :mod:`ifgrasp.hand.author_urdf`.
URDF_PATH = URDF_DIR / "leap_hand_right.urdf"


@dataclass(frozen=True)
class HandTree:
    """A URDF tree flattened for batched forward kinematics.

    ``link_names`` (L,) root first, parents before children; ``parent`` (L,) index (-1 for the root);
    ``T_parent_joint`` (L, 4, 4) joint origin in the parent link frame (identity for the root);
    ``axis`` (L, 3) unit joint axis in the child frame (zero for fixed joints and the root);
    ``joint_index`` (L,) column of the (B, 16) joint vector driving the link, -1 if none;
    ``levels`` link indices grouped by depth (root excluded), each (n_d,);
    ``box_link`` (K,), ``T_link_box`` (K, 4, 4), ``box_half`` (K, 3) metres: collision boxes.
    """

    link_names: tuple[str, ...]
    parent: np.ndarray
    T_parent_joint: np.ndarray
    axis: np.ndarray
    joint_index: np.ndarray
    levels: tuple[np.ndarray, ...]
    box_link: np.ndarray
    T_link_box: np.ndarray
    box_half: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def _pose(elem: ET.Element | None) -> np.ndarray:
    T = np.eye(4)
    if elem is not None:
        T[:3, :3] = Rotation.from_euler("xyz", [float(v) for v in elem.get("rpy", "0 0 0").split()]).as_matrix()
        T[:3, 3] = [float(v) for v in elem.get("xyz", "0 0 0").split()]
    return T


def parse_hand_urdf(path: Path, joint_names: tuple[str, ...] = JOINT_NAMES) -> HandTree:
    """Parse ``path``; revolute joints must be exactly ``joint_names`` (they get columns in that order)."""
    root = ET.parse(path).getroot()
    links = [link.get("name") for link in root.findall("link")]
    joints = root.findall("joint")
    child_of = {j.find("child").get("link"): j for j in joints}
    roots = [name for name in links if name not in child_of]
    if len(roots) != 1:
        raise ModelError(f"{path}: expected one root link, found {roots}")
    revolute = [j.get("name") for j in joints if j.get("type") == "revolute"]
    if sorted(revolute) != sorted(joint_names):
        raise ModelError(f"{path}: revolute joints {known(revolute)} differ from the table's {known(joint_names)}")
    for j in joints:
        if j.get("type") not in ("revolute", "fixed"):
            raise ModelError(f"{path}: joint '{j.get('name')}' has type {j.get('type')}; known: fixed, revolute")

    depth = {roots[0]: 0}
    order = [roots[0]]
    frontier = [roots[0]]
    while frontier:  # breadth first: parents always precede children
        nxt = [c for p in frontier for c, j in child_of.items() if j.find("parent").get("link") == p]
        for c in nxt:
            depth[c] = depth[child_of[c].find("parent").get("link")] + 1
        order += nxt
        frontier = nxt
    index = {name: i for i, name in enumerate(order)}

    L = len(order)
    parent = -np.ones(L, dtype=np.int64)
    T_parent_joint = np.tile(np.eye(4), (L, 1, 1))
    axis = np.zeros((L, 3))
    joint_index = -np.ones(L, dtype=np.int64)
    lower, upper = np.zeros(len(joint_names)), np.zeros(len(joint_names))
    for name, j in child_of.items():
        i = index[name]
        parent[i] = index[j.find("parent").get("link")]
        T_parent_joint[i] = _pose(j.find("origin"))
        if j.get("type") == "revolute":
            a = np.array([float(v) for v in j.find("axis").get("xyz").split()])
            axis[i] = a / np.linalg.norm(a)
            col = joint_names.index(j.get("name"))
            joint_index[i] = col
            lim = j.find("limit")
            lower[col], upper[col] = float(lim.get("lower")), float(lim.get("upper"))
    max_depth = max(depth.values())
    levels = tuple(np.array([index[n] for n in order if depth[n] == d]) for d in range(1, max_depth + 1))

    box_link, T_link_box, box_half = [], [], []
    for link in root.findall("link"):
        for col in link.findall("collision"):
            box = col.find("geometry/box")
            if box is None:
                kind = [g.tag for g in col.find("geometry")]
                raise ModelError(f"link '{link.get('name')}' has collision geometry {kind}; known: box")
            box_link.append(index[link.get("name")])
            T_link_box.append(_pose(col.find("origin")))
            box_half.append([0.5 * float(v) for v in box.get("size").split()])
    return HandTree(tuple(order), parent, T_parent_joint, axis, joint_index, levels,
                    np.array(box_link, dtype=np.int64), np.array(T_link_box), np.array(box_half), lower, upper)
