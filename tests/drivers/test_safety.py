"""Properties of the pure safety layer (hypothesis), against independent reference checks."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ifgrasp.drivers.limits import JointLimits
from ifgrasp.drivers.safety import SafetyConfig, SafetyFilter, rate_limit
from ifgrasp.errors import InputError, SafetyError

J = 4
LIM = JointLimits(tuple(f"j{i}" for i in range(J)), np.array([-1.0, -0.5, 0.0, -2.0]),
                  np.array([1.0, 1.5, 2.0, 0.3]), np.array([1.0, 2.0, 0.5, 3.0]), np.array([5.0, 8.0, 2.0, 10.0]))
floats = st.floats(-10, 10, allow_nan=False)
vec = st.lists(floats, min_size=J, max_size=J).map(np.array)
unit = st.lists(st.floats(0, 1), min_size=J, max_size=J).map(np.array)


def inside(u):
    return LIM.lower_rad + u * (LIM.upper_rad - LIM.lower_rad)


@given(st.lists(vec, min_size=1, max_size=20), unit, st.floats(0.001, 0.05))
def test_no_command_outside_limits_or_faster_than_allowed(targets, u0, dt):
    """Random command streams: every sent command is inside limits, within v_max*dt and a_max*dt."""
    cfg = SafetyConfig(max_step_rad=100.0)
    f = SafetyFilter(LIM, cfg)
    q_meas, t, v_prev, q_prev = inside(u0), 0.0, np.zeros(J), None
    for k, q_t in enumerate([q_meas] + targets):  # start at rest: the first command is a hold
        t += dt
        q = f.filter(q_t, q_meas, t)
        assert np.all(q >= LIM.lower_rad - 1e-12) and np.all(q <= LIM.upper_rad + 1e-12)
        if q_prev is not None:
            v = (q - q_prev) / dt
            assert np.all(np.abs(v) <= LIM.velocity_rad_s + 1e-9)
            at_limit = (np.abs(q - LIM.lower_rad) < 1e-12) | (np.abs(q - LIM.upper_rad) < 1e-12)
            ok_acc = np.abs(v - v_prev) <= LIM.acceleration_rad_s2 * dt + 1e-9
            assert np.all(ok_acc | at_limit)  # position limits take precedence over braking
            v_prev = v
        q_prev = q


@given(unit, vec)
def test_jump_larger_than_max_step_is_refused_and_state_unchanged(u0, delta):
    f = SafetyFilter(LIM, SafetyConfig(max_step_rad=0.1))
    q0 = inside(u0)
    target = np.clip(q0 + delta, LIM.lower_rad, LIM.upper_rad)
    jump = np.max(np.abs(target - q0)) > 0.1
    if jump:
        with pytest.raises(SafetyError, match="max_step_rad"):
            f.filter(q0 + delta, q0, 1.0)
        assert f.last_command is None
    else:
        sent = f.filter(q0 + delta, q0, 1.0)
        # not refused: sent lies between the start and the clipped target on every joint
        assert np.all(np.abs(sent - q0) <= np.abs(target - q0) + 1e-12)
        assert np.all((sent - q0) * (target - q0) >= -1e-12)
        assert f.last_command is not None


def test_rate_limit_batched_equals_looped():
    rng = np.random.default_rng(0)
    qt, qp, vp = rng.normal(size=(3, 32, J))
    qb, vb = rate_limit(qt, qp, vp, 0.01, LIM.velocity_rad_s, LIM.acceleration_rad_s2)
    for i in range(32):
        qi, vi = rate_limit(qt[i:i + 1], qp[i:i + 1], vp[i:i + 1], 0.01, LIM.velocity_rad_s, LIM.acceleration_rad_s2)
        np.testing.assert_allclose(qb[i], qi[0])
        np.testing.assert_allclose(vb[i], vi[0])


def test_stop_refuses_until_enable_and_watchdog_holds_once():
    f = SafetyFilter(LIM, SafetyConfig(watchdog_timeout_s=0.2))
    q0 = inside(np.full(J, 0.5))
    f.filter(q0 + 0.01, q0, 0.0)
    assert not f.watchdog_expired(0.1)
    assert f.watchdog_expired(0.3)
    hold = f.hold_target(q0, 0.3)
    np.testing.assert_allclose(hold, q0)
    assert not f.watchdog_expired(1.0)  # a hold is not repeated
    assert np.all(f.last_velocity == 0)  # never continue the last velocity
    f.stop()
    f.stop()  # idempotent
    with pytest.raises(SafetyError, match="stopped"):
        f.filter(q0, q0, 1.0)
    f.enable()
    np.testing.assert_allclose(f.filter(q0, q0, 1.1), q0)


def test_workspace_box_refuses_points_outside():
    fk = lambda q: np.stack([q[:, :3], q[:, :3] * 0.5], axis=1)  # (B, 2, 3) toy "points"
    cfg = SafetyConfig(workspace_min_m=(-0.5, -0.5, 0.1), workspace_max_m=(0.5, 1.0, 1.0), max_step_rad=10)
    f = SafetyFilter(LIM, cfg, fk)
    q = np.array([0.2, 0.2, 0.5, 0.0])
    f.filter(q, q, 0.0)
    with pytest.raises(SafetyError, match="workspace"):
        f.filter(np.array([0.2, 0.2, 0.05, 0.0]), np.array([0.2, 0.2, 0.05, 0.0]), 2.0)


def test_trajectory_checks():
    f = SafetyFilter(LIM, SafetyConfig(max_step_rad=0.2))
    q0 = np.zeros(J)
    t = np.linspace(0, 2, 21)
    q = np.outer(np.linspace(0, 0.2, 21), np.ones(J))
    f.check_trajectory(t, q, q0)
    bad = q.copy()
    bad[10, 0] += 0.5
    with pytest.raises(SafetyError, match="max_step_rad"):
        f.check_trajectory(t, bad, q0)
    with pytest.raises(SafetyError, match="joint limits"):
        f.check_trajectory(t, q + 5.0, q0)
    with pytest.raises(SafetyError, match="start"):
        f.check_trajectory(t, q + 0.1, q0)
    with pytest.raises(SafetyError, match="speed"):
        f.check_trajectory(t / 100, q, q0)
    with pytest.raises(SafetyError, match="increase"):
        f.check_trajectory(t[::-1], q, q0)
    with pytest.raises(InputError):
        f.check_trajectory(t, q[:, :2], q0)
    with pytest.raises(InputError, match="NaN"):
        f.filter(np.full(J, np.nan), q0, 0.0)
