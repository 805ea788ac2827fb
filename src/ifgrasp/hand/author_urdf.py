"""Authors ``urdf/leap_hand_right.urdf`` from the published LEAP Hand kinematics.

Run ``python -m ifgrasp.hand.author_urdf`` to rewrite the file; a test checks the committed file
equals what this module writes, so the URDF and the joint table cannot drift apart.

Sources (facts, not code, are reused):
- joint origins and axes: leap-hand/LEAP_Hand_Sim ``assets/leap_hand/robot.urdf`` (the published
  LEAP URDF; our link frames are its link frames, ``palm`` = its ``palm_lower``);
- fingertip tip points (0, -0.048, 0.015) / thumb (0, -0.06, -0.015): dexsuite/dex-urdf
  ``leap_hand_right.urdf`` ``*_tip_head`` links;
- masses, centres of mass and principal inertias: google-deepmind/mujoco_menagerie
  ``leap_hand/right_hand.xml`` (total 0.746 kg as published);
- collision boxes: simplified (merged, thin plates dropped) from the box sets of the same two
  files. The thumb base motor box sits at x = -0.0075 in its frame (its joint 13 origin is 15 mm
  closer than the finger PIP origin), as in the menagerie file.
Limits come from :mod:`ifgrasp.hand.joints`.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.spatial.transform import Rotation

from ifgrasp.hand.joints import JOINTS
from ifgrasp.hand.urdf import URDF_PATH
ROOT_LINK = "palm"
_H = np.pi / 2


class Box(NamedTuple):
    """Axis-aligned box in its link frame: centre (m) and half extents (m)."""

    center: tuple[float, float, float]
    half: tuple[float, float, float]


class Inertial(NamedTuple):
    """Mass (kg), centre of mass (m), principal-axes orientation quat (w, x, y, z), diagonal (kg m^2)."""

    mass: float
    com: tuple[float, float, float]
    quat_wxyz: tuple[float, float, float, float]
    diag: tuple[float, float, float]


class Joint(NamedTuple):
    name: str
    parent: str
    child: str
    xyz: tuple[float, float, float]
    rpy: tuple[float, float, float]
    revolute: bool


_PALM_BOXES = (
    Box((-0.009, -0.037, -0.011), (0.011, 0.058, 0.017)),  # knuckle motors
    Box((-0.040, -0.035, -0.0115), (0.020, 0.060, 0.023)),  # palm body
    Box((-0.078, -0.058, -0.0115), (0.022, 0.031, 0.023)),  # heel, ring side
    Box((-0.078, -0.003, 0.010), (0.022, 0.028, 0.002)),  # back plate over the thumb motor
)
_KNUCKLE_BOXES = (
    Box((-0.027, 0.042, 0.015), (0.014, 0.020, 0.010)),  # side (abduction) motor
    Box((0.0, 0.018, 0.0147), (0.010, 0.003, 0.017)),  # bracket on the MCP horn
    Box((-0.0262, 0.020, 0.0146), (0.017, 0.003, 0.010)),  # bracket plate
)
_PROXIMAL_BOXES = (Box((0.0075, -0.0002, -0.011), (0.017, 0.013, 0.011)),)  # PIP motor
_MEDIAL_BOXES = (
    Box((0.0075, -0.035, 0.015), (0.017, 0.011, 0.013)),  # DIP motor
    Box((0.0, -0.018, 0.015), (0.010, 0.004, 0.017)),  # bracket
)
_DISTAL_BOXES = (
    Box((0.0, -0.017, 0.015), (0.010, 0.003, 0.015)),  # bracket
    Box((-0.002, -0.035, 0.015), (0.009, 0.015, 0.011)),  # fingertip pad, ends at y = -0.05
)
_THUMB_BASE_BOXES = (Box((-0.0075, -0.0002, -0.011), (0.017, 0.013, 0.011)),)
_THUMB_PROXIMAL_BOXES = (Box((0.0, 0.0, -0.009), (0.009, 0.017, 0.009)),)  # U bracket, filled
_THUMB_MEDIAL_BOXES = (
    Box((0.0, 0.0118, -0.014), (0.010, 0.0212, 0.012)),  # motor + bracket
    Box((-0.0135, 0.0175, -0.0117), (0.005, 0.012, 0.009)),  # horn bump, back side
)
_THUMB_DISTAL_BOXES = (
    Box((0.0, -0.0095, -0.015), (0.010, 0.021, 0.012)),  # motor + bracket
    Box((0.015, -0.0175, -0.0115), (0.004, 0.012, 0.009)),  # bump, back side
    Box((-0.002, -0.046, -0.015), (0.009, 0.0155, 0.011)),  # thumb pad, ends at y = -0.0615
)

_FINGER_INERTIALS = (  # knuckle, proximal, medial, distal (menagerie if_bs, if_px, if_md, if_ds)
    Inertial(0.044, (-0.022516, 0.033882, 0.016359), (0.388092, 0.677951, -0.247713, 0.573067),
             (1.74972e-05, 1.61504e-05, 7.21342e-06)),
    Inertial(0.032, (0.0075, -0.0002, -0.011), (0.0, 0.707107, 0.0, 0.707107),
             (4.8853e-06, 4.3733e-06, 3.0933e-06)),
    Inertial(0.037, (0.0054215, -0.029148, 0.015), (0.687228, 0.687228, 0.166487, 0.166487),
             (8.28004e-06, 8.1598e-06, 5.39516e-06)),
    Inertial(0.016, (-0.0008794, -0.027019, 0.014594), (0.702905, 0.710643, -0.0212937, -0.0214203),
             (3.71863e-06, 3.02396e-06, 1.6518e-06)),
)
_THUMB_INERTIALS = (  # menagerie th_mp, th_bs, th_px, th_ds (th_mp's COM moved onto its box)
    Inertial(0.032, (-0.0075, -0.0002, -0.011), (0.0, 0.707107, 0.0, 0.707107),
             (4.8853e-06, 4.3733e-06, 3.0933e-06)),
    Inertial(0.003, (0.0, 0.0, -0.0070806), (0.707107, 0.707107, 0.0, 0.0),
             (6.1932e-07, 5.351e-07, 2.1516e-07)),
    Inertial(0.038, (-0.0020593, 0.015912, -0.013733), (0.698518, 0.697382, -0.104933, 0.121324),
             (9.87104e-06, 9.32653e-06, 4.36203e-06)),
    Inertial(0.049, (0.00096191, -0.024203, -0.014419), (0.35287, 0.311272, -0.632839, 0.614904),
             (2.08591e-05, 2.0402e-05, 4.71335e-06)),
)
_PALM_INERTIAL = Inertial(0.237, (-0.049542, -0.042914, -0.010227), (0.565586, 0.427629, -0.574956, 0.408254),
                          (0.000407345, 0.000304759, 0.000180736))

_MCP_ORIGIN_Y = {"index": 0.0230578, "middle": -0.0223922, "ring": -0.0678422}


def link_specs() -> dict[str, tuple[tuple[Box, ...], Inertial | None]]:
    """Every link's collision boxes and inertial, root first."""
    specs: dict[str, tuple[tuple[Box, ...], Inertial | None]] = {ROOT_LINK: (_PALM_BOXES, _PALM_INERTIAL)}
    for finger in ("index", "middle", "ring"):
        for part, boxes, inertial in zip(("knuckle", "proximal", "medial", "distal"),
                                         (_KNUCKLE_BOXES, _PROXIMAL_BOXES, _MEDIAL_BOXES, _DISTAL_BOXES),
                                         _FINGER_INERTIALS):
            specs[f"{finger}_{part}"] = (boxes, inertial)
        specs[f"{finger}_tip"] = ((), None)
    for part, boxes, inertial in zip(("base", "proximal", "medial", "distal"),
                                     (_THUMB_BASE_BOXES, _THUMB_PROXIMAL_BOXES, _THUMB_MEDIAL_BOXES,
                                      _THUMB_DISTAL_BOXES), _THUMB_INERTIALS):
        specs[f"thumb_{part}"] = (boxes, inertial)
    specs["thumb_tip"] = ((), None)
    return specs


def joint_specs() -> list[Joint]:
    """Joints in motor-ID order (revolute), then the fixed tip joints."""
    out: list[Joint] = []
    for finger, y in _MCP_ORIGIN_Y.items():
        out += [
            Joint(f"{finger}_mcp_side", f"{finger}_knuckle", f"{finger}_proximal", (-0.0122, 0.0381, 0.0145),
                  (-_H, 0.0, _H), True),
            Joint(f"{finger}_mcp_flex", ROOT_LINK, f"{finger}_knuckle", (-0.0070952, y, -0.0187224),
                  (_H, _H, 0.0), True),
            Joint(f"{finger}_pip", f"{finger}_proximal", f"{finger}_medial", (0.015, 0.0143, -0.013),
                  (_H, -_H, 0.0), True),
            Joint(f"{finger}_dip", f"{finger}_medial", f"{finger}_distal", (0.0, -0.0361, 0.0002),
                  (0.0, 0.0, 0.0), True),
        ]
    out += [
        Joint("thumb_cmc", ROOT_LINK, "thumb_base", (-0.0693952, -0.0012422, -0.0216224), (0.0, _H, 0.0), True),
        Joint("thumb_rot", "thumb_base", "thumb_proximal", (0.0, 0.0143, -0.013), (_H, -_H, 0.0), True),
        Joint("thumb_mcp", "thumb_proximal", "thumb_medial", (0.0, 0.0145, -0.017), (-_H, 0.0, 0.0), True),
        Joint("thumb_ip", "thumb_medial", "thumb_distal", (0.0, 0.0466, 0.0002), (0.0, 0.0, np.pi), True),
    ]
    for finger in ("index", "middle", "ring"):
        out.append(Joint(f"{finger}_tip_joint", f"{finger}_distal", f"{finger}_tip", (0.0, -0.048, 0.015),
                         (0.0, 0.0, 0.0), False))
    out.append(Joint("thumb_tip_joint", "thumb_distal", "thumb_tip", (0.0, -0.06, -0.015), (0.0, 0.0, 0.0), False))
    return out


def _f(values) -> str:
    return " ".join(f"{float(v):.9g}" for v in values)


def _inertial_xml(inertial: Inertial) -> str:
    w, x, y, z = inertial.quat_wxyz
    rot = Rotation.from_quat([x, y, z, w]).as_matrix()
    inertia = rot @ np.diag(inertial.diag) @ rot.T  # full tensor in the link frame
    names = ("ixx", "ixy", "ixz", "iyy", "iyz", "izz")
    values = (inertia[0, 0], inertia[0, 1], inertia[0, 2], inertia[1, 1], inertia[1, 2], inertia[2, 2])
    tensor = " ".join(f'{n}="{v:.6g}"' for n, v in zip(names, values))
    return (f'    <inertial>\n      <origin xyz="{_f(inertial.com)}" rpy="0 0 0"/>\n'
            f'      <mass value="{inertial.mass:.9g}"/>\n      <inertia {tensor}/>\n'
            f"    </inertial>\n")


def _geom_xml(tag: str, box: Box, colour: str | None) -> str:
    size = _f(2.0 * np.asarray(box.half))
    material = f'\n      <material name="{colour}"/>' if colour else ""
    return (f'    <{tag}>\n      <origin xyz="{_f(box.center)}" rpy="0 0 0"/>\n'
            f'      <geometry><box size="{size}"/></geometry>{material}\n    </{tag}>\n')


def urdf_text() -> str:
    """The full URDF document as a string."""
    limits = {j.name: j for j in JOINTS}
    parts = [
        '<?xml version="1.0"?>\n',
        "<!-- LEAP Hand (right), generated by ifgrasp.hand.author_urdf: edit that module, not this file.\n"
        "     Root frame 'palm' = published LEAP 'palm_lower': +x toward the fingertips, +y toward the\n"
        "     thumb/index side, +z out of the back of the hand; the palm faces -z. Joint angles are 0 at the\n"
        "     flat hand (the LEAP API reads pi there). Revolute joints appear in motor-ID order 0..15. -->\n",
        '<robot name="leap_hand_right">\n',
        '  <mujoco>\n    <compiler discardvisual="false" fusestatic="false" balanceinertia="true"/>\n  </mujoco>\n',
        '  <material name="black"><color rgba="0.2 0.2 0.2 1"/></material>\n',
        '  <material name="white"><color rgba="0.9 0.9 0.9 1"/></material>\n',
    ]
    for name, (boxes, inertial) in link_specs().items():
        parts.append(f'  <link name="{name}">\n')
        for i, box in enumerate(boxes):
            pad = name.endswith("distal") and i == len(boxes) - 1
            parts.append(_geom_xml("visual", box, "white" if pad else "black"))
            parts.append(_geom_xml("collision", box, None))
        if inertial is not None:
            parts.append(_inertial_xml(inertial))
        parts.append("  </link>\n")
    for joint in joint_specs():
        kind = "revolute" if joint.revolute else "fixed"
        body = (f'    <origin xyz="{_f(joint.xyz)}" rpy="{_f(joint.rpy)}"/>\n'
                f'    <parent link="{joint.parent}"/>\n    <child link="{joint.child}"/>\n')
        if joint.revolute:
            lim = limits[joint.name]
            body += ('    <axis xyz="0 0 -1"/>\n'
                     f'    <limit lower="{lim.lower_rad:.9g}" upper="{lim.upper_rad:.9g}" '
                     f'effort="{lim.effort_nm:.9g}" velocity="{lim.max_velocity_rad_s:.9g}"/>\n'
                     '    <dynamics damping="0.03" friction="0.001"/>\n')
        parts.append(f'  <joint name="{joint.name}" type="{kind}">\n{body}  </joint>\n')
    parts.append("</robot>\n")
    return "".join(parts)


def write(path: Path = URDF_PATH) -> Path:
    """Write the URDF to ``path`` (default ``urdf/leap_hand_right.urdf``) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(urdf_text())
    return path


if __name__ == "__main__":
    print(write())
