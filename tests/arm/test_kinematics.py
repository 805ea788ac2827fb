"""xArm7 FK and Jacobian against the user manual, MuJoCo (independent FK) and finite differences."""

import mujoco
import numpy as np
import pytest

from ifgrasp.arm import XARM7_URDF, Xarm7Kinematics
from ifgrasp.errors import InputError


@pytest.fixture(scope="module")
def kin():
    return Xarm7Kinematics()


def random_q(kin, n, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(kin.lower, kin.upper, size=(n, kin.dof))


def test_zero_pose_flange_matches_user_manual(kin):
    T = kin.fk(np.zeros(7))[0]
    np.testing.assert_allclose(T[:3, 3], [0.206, 0.0, 0.1205], atol=1e-9)
    np.testing.assert_allclose(T[:3, 2], [0.0, 0.0, -1.0], atol=1e-9)  # flange z points down
    np.testing.assert_allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-12)


def test_limits_and_names_from_urdf(kin):
    assert kin.joint_names == tuple(f"joint{i}" for i in range(1, 8))
    np.testing.assert_allclose(kin.lower[[1, 3, 5]], [-2.059, -0.19198, -1.69297])
    np.testing.assert_allclose(kin.upper[[1, 3, 5]], [2.0944, 3.927, np.pi])
    np.testing.assert_allclose(kin.velocity_limits, 3.14)


def test_fk_matches_mujoco(kin):
    model = mujoco.MjModel.from_xml_path(str(XARM7_URDF))
    data = mujoco.MjData(model)
    assert [model.joint(i).name for i in range(model.njnt)] == list(kin.joint_names)
    flange = model.body("link_eef").id
    q = random_q(kin, 20, seed=1)
    T = kin.fk(q)  # (20, 4, 4)
    for i in range(len(q)):
        data.qpos[:] = q[i]
        mujoco.mj_kinematics(model, data)
        np.testing.assert_allclose(T[i, :3, 3], data.xpos[flange], atol=1e-9)
        np.testing.assert_allclose(T[i, :3, :3], data.xmat[flange].reshape(3, 3), atol=1e-9)


def test_jacobian_matches_mujoco_and_finite_differences(kin):
    q = random_q(kin, 10, seed=2)
    J = kin.jacobian(q)  # (10, 6, 7)
    eps = 1e-6
    T0 = kin.fk(q)
    for j in range(7):
        dq = np.zeros(7)
        dq[j] = eps
        Tp, Tm = kin.fk(q + dq), kin.fk(q - dq)
        v = (Tp[:, :3, 3] - Tm[:, :3, 3]) / (2 * eps)
        dR = (Tp[:, :3, :3] - Tm[:, :3, :3]) / (2 * eps)  # dR/dq = [w]x R
        W = dR @ np.swapaxes(T0[:, :3, :3], -1, -2)
        w = np.stack([W[:, 2, 1], W[:, 0, 2], W[:, 1, 0]], axis=-1)
        np.testing.assert_allclose(J[:, :3, j], v, atol=1e-7)
        np.testing.assert_allclose(J[:, 3:, j], w, atol=1e-7)

    model = mujoco.MjModel.from_xml_path(str(XARM7_URDF))
    data = mujoco.MjData(model)
    jacp, jacr = np.zeros((3, 7)), np.zeros((3, 7))
    data.qpos[:] = q[0]
    mujoco.mj_kinematics(model, data)
    mujoco.mj_comPos(model, data)
    mujoco.mj_jacBody(model, data, jacp, jacr, model.body("link_eef").id)
    np.testing.assert_allclose(J[0], np.vstack([jacp, jacr]), atol=1e-9)


def test_batched_equals_looped(kin):
    q = random_q(kin, 5, seed=3)
    np.testing.assert_allclose(kin.fk(q), np.concatenate([kin.fk(qi) for qi in q]), atol=1e-12)


def test_bad_shape_names_expected_shape(kin):
    with pytest.raises(InputError, match=r"\(B, 7\)"):
        kin.fk(np.zeros((2, 6)))


def test_invert_transform_undoes_a_rigid_transform_in_batches():
    from scipy.spatial.transform import Rotation

    from ifgrasp.geometry import invert_transform

    rng = np.random.default_rng(0)
    T = np.tile(np.eye(4), (5, 1, 1))
    T[:, :3, :3] = Rotation.random(5, random_state=rng).as_matrix()
    T[:, :3, 3] = rng.normal(size=(5, 3))
    np.testing.assert_allclose(invert_transform(T), np.linalg.inv(T), atol=1e-12)
    np.testing.assert_allclose(invert_transform(T[0]) @ T[0], np.eye(4), atol=1e-12)
