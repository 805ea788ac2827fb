"""The joint table, the committed URDF and the hand-frame constants agree with each other and
with MuJoCo's reading of the URDF."""

import xml.etree.ElementTree as ET

import mujoco
import numpy as np
import pytest

from ifgrasp.errors import KinematicsError
from ifgrasp.hand import author_urdf
from ifgrasp.hand.joints import (
    FINGER_AXIS_IN_HAND, FINGERS, JOINT_NAMES, JOINTS, LOWER_RAD, OPEN_JOINTS_RAD, PALM_CENTER_IN_HAND,
    PALM_NORMAL_IN_HAND, PREGRASP_JOINTS_RAD, UPPER_RAD, from_hardware_rad, joint_index, to_hardware_rad,
)

URDF = author_urdf.URDF_PATH


def test_table_is_in_motor_order_with_leap_roles():
    assert [j.motor_id for j in JOINTS] == list(range(16))
    assert [j.finger for j in JOINTS] == [f for f in FINGERS for _ in range(4)]
    # LEAP API: per long finger MCP side (+-1.047 rad), MCP forward, PIP, DIP; thumb 12..15
    for f in range(3):
        assert [JOINTS[4 * f + k].role for k in range(4)] == ["mcp_side", "mcp_flex", "pip", "dip"]
        assert (JOINTS[4 * f].lower_rad, JOINTS[4 * f].upper_rad) == (-1.047, 1.047)
    assert (JOINTS[1].lower_rad, JOINTS[1].upper_rad) == (-0.314, 2.23)
    assert [(j.lower_rad, j.upper_rad) for j in JOINTS[12:]] == [(-0.349, 2.094), (-0.47, 2.443), (-1.2, 1.9),
                                                                  (-1.34, 1.88)]
    assert all(j.max_velocity_rad_s == 8.48 and j.effort_nm == 0.95 for j in JOINTS)


def test_hardware_offset_is_pi_and_round_trips():
    q = np.linspace(-1, 1, 16)
    np.testing.assert_allclose(to_hardware_rad(OPEN_JOINTS_RAD), np.full(16, np.pi))
    np.testing.assert_allclose(from_hardware_rad(to_hardware_rad(q)), q)


def test_named_poses_inside_limits_and_constants_are_unit():
    for q in (OPEN_JOINTS_RAD, PREGRASP_JOINTS_RAD):
        assert np.all(q >= LOWER_RAD) and np.all(q <= UPPER_RAD)
    assert np.linalg.norm(PALM_NORMAL_IN_HAND) == pytest.approx(1.0)
    assert np.linalg.norm(FINGER_AXIS_IN_HAND) == pytest.approx(1.0)
    assert PALM_CENTER_IN_HAND.shape == (3,)


def test_joint_index_names_valid_choices():
    assert joint_index("thumb_ip") == 15
    with pytest.raises(KinematicsError, match="known: .*index_dip"):
        joint_index("index_abd")


def test_committed_urdf_is_what_the_author_module_writes():
    assert URDF.read_text() == author_urdf.urdf_text(), "run python -m ifgrasp.hand.author_urdf"


def test_urdf_revolute_joints_are_motor_order_with_table_limits():
    root = ET.parse(URDF).getroot()
    revolute = [j for j in root.findall("joint") if j.get("type") == "revolute"]
    assert [j.get("name") for j in revolute] == list(JOINT_NAMES)
    for j, row in zip(revolute, JOINTS):
        lim = j.find("limit")
        assert float(lim.get("lower")) == row.lower_rad and float(lim.get("upper")) == row.upper_rad
        assert float(lim.get("velocity")) == row.max_velocity_rad_s and float(lim.get("effort")) == row.effort_nm
    assert not root.findall(".//mesh"), "primitives only"


def _mujoco_at(q):
    model = mujoco.MjModel.from_xml_path(str(URDF))
    data = mujoco.MjData(model)
    for i, name in enumerate(JOINT_NAMES):
        data.qpos[model.jnt_qposadr[model.joint(name).id]] = q[i]
    mujoco.mj_forward(model, data)
    return model, data


def test_mujoco_loads_with_table_limits_and_published_mass():
    model, _ = _mujoco_at(OPEN_JOINTS_RAD)
    assert model.njnt == 16
    for row in JOINTS:
        np.testing.assert_allclose(model.jnt_range[model.joint(row.name).id], [row.lower_rad, row.upper_rad])
    assert model.body_mass.sum() == pytest.approx(0.746, abs=1e-6)  # published LEAP link masses


def test_frame_constants_match_the_kinematics():
    _, flat = _mujoco_at(OPEN_JOINTS_RAD)
    tip, knuckle = flat.body("middle_tip").xpos, flat.body("middle_knuckle").xpos
    axis = (tip - knuckle) / np.linalg.norm(tip - knuckle)
    assert axis @ FINGER_AXIS_IN_HAND > 0.98
    # flexing the fingers (MCP flex) and swinging the thumb (CMC) both move the tips along the palm normal
    q = OPEN_JOINTS_RAD.copy()
    q[[1, 5, 9, 12]] = 1.0
    _, bent = _mujoco_at(q)
    for f in FINGERS:
        move = bent.body(f"{f}_tip").xpos - flat.body(f"{f}_tip").xpos
        assert move @ PALM_NORMAL_IN_HAND > 0.02, f
    # positive mcp_side swings the index toward the middle finger (-y)
    q = OPEN_JOINTS_RAD.copy()
    q[0] = 0.3
    _, side = _mujoco_at(q)
    assert side.body("index_tip").xpos[1] < flat.body("index_tip").xpos[1] - 0.01
    # the palm centre lies on the palmar face, under the palm, behind the knuckles
    assert PALM_CENTER_IN_HAND[0] < knuckle[0] and PALM_CENTER_IN_HAND[2] < knuckle[2]


def test_the_thumb_squeezes_past_the_grasp_twice_as_far_as_the_fingers():
    from ifgrasp.hand.joints import CLOSING_MASK, JOINT_FINGER, SQUEEZE_RAD, squeezed

    q = np.full(16, 0.5)
    step = squeezed(q) - q
    thumb = JOINT_FINGER == FINGERS.index("thumb")
    np.testing.assert_allclose(step[CLOSING_MASK & thumb], SQUEEZE_RAD)
    np.testing.assert_allclose(step[CLOSING_MASK & ~thumb], SQUEEZE_RAD / 2)
    np.testing.assert_array_equal(step[~CLOSING_MASK], 0.0)  # side-to-side and thumb rotation stay
    np.testing.assert_allclose(squeezed(q, 0.1, (1, 1, 1, 1)) - q, 0.1 * CLOSING_MASK)  # the v1 squeeze
