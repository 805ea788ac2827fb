"""IK properties: FK -> IK -> FK round trip, limits always respected, clear failure when unreachable."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ifgrasp.arm import T_FLANGE_HAND, Xarm7Kinematics
from ifgrasp.arm.ik import unwrap_toward
from ifgrasp.errors import KinematicsError

KIN = Xarm7Kinematics()
unit = arrays(np.float64, (7,), elements=st.floats(0.0, 1.0))


def rot_angle(Ra, Rb):
    c = (np.trace(Ra.swapaxes(-1, -2) @ Rb, axis1=-2, axis2=-1) - 1) / 2
    return np.arccos(np.clip(c, -1, 1))


@given(u=unit, seed=st.integers(0, 1000))
def test_fk_ik_fk_round_trip(u, seed):
    q_true = KIN.lower + u * (KIN.upper - KIN.lower)  # anywhere inside the limits
    T = KIN.fk(q_true)
    res = KIN.ik(T, seed=seed)
    assert res.success.all(), (res.pos_err_m, res.rot_err_rad)
    T_back = KIN.fk(res.q)
    assert np.linalg.norm(T_back[0, :3, 3] - T[0, :3, 3]) <= 1e-3
    assert rot_angle(T_back[0, :3, :3], T[0, :3, :3]) <= 1e-2
    np.testing.assert_allclose(res.pos_err_m, np.linalg.norm(T_back[:, :3, 3] - T[:, :3, 3], axis=-1), atol=1e-9)


@given(
    xyz=arrays(np.float64, (3,), elements=st.floats(-1.5, 1.5)),
    rotvec=arrays(np.float64, (3,), elements=st.floats(-3.0, 3.0)),
    seed_u=unit,
)
def test_ik_never_leaves_limits(xyz, rotvec, seed_u):
    from scipy.spatial.transform import Rotation

    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
    T[:3, 3] = xyz  # often unreachable: the answer must still respect the limits
    q_seed = KIN.lower - 1.0 + seed_u * (KIN.upper - KIN.lower + 2.0)  # seed may even lie outside
    res = KIN.ik(T, q_seed=q_seed, max_iters=20, max_rounds=1)
    assert KIN.within_limits(res.q).all()
    assert res.q.shape == (1, 7) and res.success.shape == (1,)


def test_batched_targets_mixed_reachability():
    rng = np.random.default_rng(4)
    q = rng.uniform(np.maximum(KIN.lower, -np.pi), np.minimum(KIN.upper, np.pi), (16, 7))
    T = KIN.fk(q)
    T[3, :3, 3] = [2.0, 0.0, 0.5]  # 2 m away: out of reach (arm reach ~0.7 m)
    res = KIN.ik(T)
    assert res.q.shape == (16, 7)
    assert not res.success[3] and res.pos_err_m[3] > 1.0
    assert np.delete(res.success, 3).all()
    assert KIN.within_limits(res.q).all()


def test_unreachable_pose_raises_with_errors():
    T = np.eye(4)
    T[:3, 3] = [2.0, 0.0, 0.3]
    with pytest.raises(KinematicsError, match=r"position error 1\.\d+ m.*orientation error"):
        KIN.solve_or_raise(T)


def test_prefers_solution_near_seed():
    q_seed = np.array([0.3, -0.2, 0.1, 1.2, -0.2, 1.0, 0.4])
    q_goal = q_seed + np.array([0.05, -0.04, 0.03, 0.05, -0.02, 0.04, 0.03])
    res = KIN.ik(KIN.fk(q_goal), q_seed=q_seed, num_seeds=8)
    assert res.success.all()
    assert np.linalg.norm(res.q[0] - q_seed) < 0.3  # not another arm/elbow branch


def test_unwrap_toward_stays_in_limits_and_keeps_pose():
    q = np.array([[3.0, 0.0, -3.0, 1.0, 2.9, 0.5, -3.1]])
    ref = np.array([[-3.0, 0.0, 3.0, 1.0, -3.0, 0.5, 3.0]])
    out = unwrap_toward(q, ref, KIN.lower, KIN.upper)
    np.testing.assert_allclose(out[0, [0, 2, 4, 6]], q[0, [0, 2, 4, 6]] + 2 * np.pi * np.array([-1, 1, -1, 1]))
    np.testing.assert_allclose(KIN.fk(out), KIN.fk(q), atol=1e-12)


def test_hand_ik_round_trip():
    q = np.array([[0.1, 0.3, 0.0, 1.4, 0.0, 1.1, 0.2]])
    T_hand = KIN.fk_hand(q)
    np.testing.assert_allclose(T_hand, KIN.fk(q) @ T_FLANGE_HAND)
    res = KIN.ik_hand(T_hand, q_seed=q)
    assert res.success.all()
    np.testing.assert_allclose(KIN.fk_hand(res.q)[0, :3, 3], T_hand[0, :3, 3], atol=1e-3)
