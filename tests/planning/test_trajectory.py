"""Time parametrisation: limits hold on the sampled trajectory, waypoints are hit at rest, and the
profile is as fast as the slowest joint allows (checked against the closed-form trapezoid time)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ifgrasp.errors import InputError
from ifgrasp.planning import densify, time_parametrize
from ifgrasp.planning.trajectory import trapezoid_duration

J = 7
waypoints = arrays(np.float64, st.tuples(st.integers(2, 4), st.just(J)), elements=st.floats(-3, 3))
limits = arrays(np.float64, (J,), elements=st.floats(0.2, 4.0))


@given(waypoints, limits, limits, st.sampled_from([0.005, 0.01, 0.03]))
def test_limits_respected_and_ends_match(wp, v, a, dt):
    traj = time_parametrize(wp, v, a, dt)
    np.testing.assert_allclose(traj.q[0], wp[0], atol=1e-12)
    np.testing.assert_allclose(traj.q[-1], wp[-1], atol=1e-9)
    assert np.all(np.diff(traj.times_s) > 0) and traj.times_s[0] == 0.0
    if len(traj.times_s) > 1:
        assert np.all(np.abs(traj.velocities()) <= v * (1 + 1e-6) + 1e-9)
    if len(traj.times_s) > 2:
        assert np.all(np.abs(traj.accelerations()) <= a * (1 + 1e-6) + 1e-9)
    # every distinct waypoint is reached, at rest on both sides
    distinct = np.concatenate([[True], np.any(np.abs(np.diff(wp, axis=0)) > 1e-12, axis=1)])
    np.testing.assert_allclose(traj.q[traj.waypoint_index], wp[distinct], atol=1e-9)


@given(arrays(np.float64, (J,), elements=st.floats(-2, 2)).filter(lambda d: np.max(np.abs(d)) > 1e-3),
       limits, limits)
def test_duration_is_tight(dq, v, a):
    """Never faster than the slowest joint alone could go; and some joint reaches its acceleration
    limit (the profile is not needlessly slow)."""
    traj = time_parametrize(np.stack([np.zeros(J), dq]), v, a, 0.001)
    assert traj.duration_s >= trapezoid_duration(dq, v, a).max() * (1 - 1e-9)
    acc_ratio = np.max(np.abs(traj.accelerations()) / a)
    assert acc_ratio == pytest.approx(1.0, abs=0.02)


def test_single_joint_matches_closed_form_profile():
    # 1 rad with v = 1, a = 2: ramp 0.5 s covering 0.25 rad, cruise 0.5 s, total 1.5 s
    wp = np.zeros((2, 1)); wp[1, 0] = 1.0
    traj = time_parametrize(wp, np.array([1.0]), np.array([2.0]), 0.05)
    assert traj.duration_s == pytest.approx(1.5)
    t = traj.times_s
    np.testing.assert_allclose(traj.q[t == 0.25][0], [0.0625])
    np.testing.assert_allclose(traj.q[np.isclose(t, 0.75)][0], [0.5])
    np.testing.assert_allclose(traj.q[np.isclose(t, 1.25)][0], [1 - 0.0625])


def test_join_and_densify():
    a = time_parametrize(np.array([[0.0, 0.0], [1.0, 0.5]]), np.ones(2), np.ones(2))
    b = time_parametrize(np.array([[1.0, 0.5], [0.0, 0.0]]), np.ones(2), np.ones(2))
    ab = a.then(b)
    assert ab.duration_s == pytest.approx(a.duration_s + b.duration_s)
    assert len(ab.times_s) == len(a.times_s) + len(b.times_s) - 1
    with pytest.raises(InputError):
        b.then(b)
    d = densify(np.array([[0.0, 0.0], [1.0, -0.3]]), 0.1)
    assert np.max(np.abs(np.diff(d, axis=0))) <= 0.1 + 1e-12 and len(d) == 11


def test_bad_limits_refused():
    with pytest.raises(InputError):
        time_parametrize(np.zeros((2, 2)), np.array([1.0, 0.0]), np.ones(2))
