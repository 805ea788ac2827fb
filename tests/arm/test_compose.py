"""The combined xArm7 + LEAP Hand URDF: up to date, loads in MuJoCo, hand placed by T_FLANGE_HAND."""

import xml.etree.ElementTree as ET

import mujoco
import numpy as np
import pytest

from ifgrasp.arm import T_FLANGE_HAND, Xarm7Kinematics
from ifgrasp.arm.compose import COMBINED_URDF, HAND_URDF, MOUNT_JOINT, compose_xml
from ifgrasp.arm.mount import ADAPTER_THICKNESS_M


@pytest.fixture(scope="module")
def model():
    return mujoco.MjModel.from_xml_path(str(COMBINED_URDF))


def test_committed_file_equals_generated():
    assert COMBINED_URDF.read_text() == compose_xml(), "run `python -m ifgrasp.arm.compose` and commit"


def test_names_kept_and_mount_joint_added():
    hand = ET.parse(HAND_URDF).getroot()
    both = ET.parse(COMBINED_URDF).getroot()
    names = [j.get("name") for j in both.findall("joint")]
    hand_names = [j.get("name") for j in hand.findall("joint")]
    assert names[-len(hand_names) - 1 : -1] == hand_names  # hand joints unchanged, in order
    assert names[-1] == MOUNT_JOINT and names[:7] == [f"joint{i}" for i in range(1, 8)]


def test_loads_in_mujoco_with_7_plus_16_joints(model):
    assert model.njnt == 23
    names = [model.joint(i).name for i in range(model.njnt)]
    hand = ET.parse(HAND_URDF).getroot()
    hand_revolute = [j.get("name") for j in hand.findall("joint") if j.get("type") != "fixed"]
    # arm joints first in chain order; MuJoCo orders the hand's joints by its own tree walk, so
    # compare them as a set (simulation code maps hand joints by name)
    assert names[:7] == [f"joint{i}" for i in range(1, 8)]
    assert sorted(names[7:]) == sorted(hand_revolute) and len(hand_revolute) == 16


def test_hand_pose_in_mujoco_matches_fk_hand(model):
    kin = Xarm7Kinematics()
    data = mujoco.MjData(model)
    palm = model.body("palm").id
    rng = np.random.default_rng(5)
    q = rng.uniform(kin.lower, kin.upper, size=(10, 7))
    T = kin.fk_hand(q)  # (10, 4, 4)
    for i in range(len(q)):
        data.qpos[:7] = q[i]
        mujoco.mj_kinematics(model, data)
        np.testing.assert_allclose(T[i, :3, 3], data.xpos[palm], atol=1e-9)
        np.testing.assert_allclose(T[i, :3, :3], data.xmat[palm].reshape(3, 3), atol=1e-9)


def test_mount_palm_faces_out_of_the_flange():
    np.testing.assert_allclose(T_FLANGE_HAND[:3, :3] @ [0, 0, -1], [0, 0, 1])  # palm normal = flange +z
    np.testing.assert_allclose(T_FLANGE_HAND[:3, :3] @ [1, 0, 0], [1, 0, 0])  # fingers along flange +x
    assert abs(np.linalg.det(T_FLANGE_HAND[:3, :3]) - 1) < 1e-12


def test_no_contact_between_hand_and_arm_at_a_working_pose(model):
    data = mujoco.MjData(model)
    data.qpos[:7] = [0.0, -0.3, 0.0, 0.9, 0.0, 1.2, 0.0]
    mujoco.mj_forward(model, data)
    # the hand's back face sits on the adapter plate: nothing of the hand is behind the flange
    palm_geoms = [g for g in range(model.ngeom) if model.geom_bodyid[g] == model.body("palm").id]
    assert palm_geoms
    assert data.ncon == 0, [(model.body(model.geom_bodyid[c.geom1]).name, model.body(model.geom_bodyid[c.geom2]).name) for c in data.contact[: data.ncon]]
    flange_z = data.xmat[model.body("link_eef").id].reshape(3, 3)[:, 2]
    flange_p = data.xpos[model.body("link_eef").id]
    assert min(float((data.geom_xpos[g] - flange_p) @ flange_z) for g in palm_geoms) > ADAPTER_THICKNESS_M
