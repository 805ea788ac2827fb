"""Which camera frames a command may use (ifgrasp.pipeline.frames.RestWatch): one stamped after the
robot last moved, at most max_age_s old. Before, the ROS commander took only frames stamped after
the command, a wait of half a camera period plus a render (the perceive stage dominated command ->
first arm motion: docs/experiments.md, issue 24)."""

import numpy as np
import pytest

from ifgrasp.pipeline.frames import RestWatch

Q = np.zeros(23)


def moving_then_still(until_s: float, rate_hz: float = 50.0) -> RestWatch:
    w = RestWatch()
    for t in np.arange(0.0, until_s + 1e-9, 1 / rate_hz):
        w.update(t, Q + 0.1 * t)  # moving 0.1 rad/s: 2 mrad per reading
    for t in np.arange(until_s + 1 / rate_hz, until_s + 5.0, 1 / rate_hz):
        w.update(t, Q + 0.1 * until_s + 2e-4 * np.sin(40 * t))  # at rest, sensor noise under the tolerance
    return w


def test_a_frame_taken_after_the_robot_came_to_rest_is_good_before_the_command():
    w = moving_then_still(until_s=10.0)
    start = w.frames_from_s(now_s=11.0, max_age_s=2.0)
    assert start == pytest.approx(10.0)  # the last reading that moved
    assert start < 10.5 < 11.0  # a frame stamped at 10.5 is used at once, no wait for one after 11.0
    assert not start < 9.9  # one from while the arm still moved is not


def test_frames_are_at_most_max_age_old_and_fresh_only_without_readings_or_age():
    w = moving_then_still(until_s=10.0)
    assert w.frames_from_s(now_s=100.0, max_age_s=2.0) == pytest.approx(98.0)
    assert w.frames_from_s(now_s=100.0, max_age_s=0.0) == 100.0  # 0: frames after the command only
    assert RestWatch().frames_from_s(now_s=5.0, max_age_s=2.0) == 5.0  # nothing known about the robot


def test_a_jump_counts_as_motion_even_between_two_readings():
    w = moving_then_still(until_s=10.0)
    w.update(20.0, Q + 0.3)  # a scene reset puts the arm back at once
    w.update(20.02, Q + 0.3)
    assert w.frames_from_s(now_s=21.0, max_age_s=2.0) == pytest.approx(20.0)
