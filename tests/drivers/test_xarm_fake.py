"""The real xArm backend against a faithful fake of XArmAPI (controller modes, states, error codes)."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ifgrasp.drivers.emulation.xarm_fake import FakeXArmAPI
from ifgrasp.drivers.limits import arm_hand_points_fk, arm_limits
from ifgrasp.drivers.safety import SafetyConfig
from ifgrasp.drivers.xarm.backend import XArm7, XarmConfig
from ifgrasp.errors import DriverError, SafetyError

LIM = arm_limits()
FK = arm_hand_points_fk()
Q0 = np.array([0.0, -0.3, 0.0, 0.6, 0.0, 0.9, 0.0])  # hand above the table


def make(fake=None, **cfg):
    fake = fake or FakeXArmAPI(LIM.lower_rad, LIM.upper_rad, q0_rad=Q0)
    cfg.setdefault("safety", SafetyConfig(max_step_rad=0.05, watchdog_timeout_s=0.2))
    arm = XArm7(XarmConfig(**cfg), limits=LIM, api_factory=lambda ip: fake, fk=FK)
    return arm, fake


SEQUENCE = [("clean_error",), ("clean_warn",), ("motion_enable", True), ("set_mode", 1), ("set_state", 0)]


def test_connect_runs_the_documented_sequence_and_sets_payload():
    arm, fake = make(payload_kg=0.8, collision_sensitivity=4)
    with arm:
        assert fake.calls[1:6] == SEQUENCE
        assert fake.tcp_load == (0.8, [0.0, 0.0, 60.0]) and fake.collision_sensitivity == 4
        assert fake.mode == 1 and fake.motion_enabled
        state = arm.read_state()
        np.testing.assert_allclose(state.position_rad, Q0)
        assert state.effort_unit == "N*m"
    assert not fake.connected


def test_arm_in_error_state_at_start_is_recovered_or_explained():
    fake = FakeXArmAPI(LIM.lower_rad, LIM.upper_rad, q0_rad=Q0, error_code=31)
    arm, _ = make(fake)
    with arm:
        assert fake.error_code == 0 and fake.mode == 1
    pushed = FakeXArmAPI(LIM.lower_rad, LIM.upper_rad, q0_rad=Q0, estop_button_pressed=True)
    with pytest.raises(DriverError, match="emergency stop button"):
        make(pushed)[0].connect()


@settings(max_examples=15)
@given(st.lists(st.lists(st.floats(-7, 7), min_size=7, max_size=7), min_size=1, max_size=15))
def test_no_command_outside_limits_ever_reaches_the_controller(targets):
    arm, fake = make()
    with arm:
        for t in targets:
            q = arm.read_state().position_rad + np.clip(np.asarray(t) - arm.read_state().position_rad, -0.04, 0.04)
            try:
                arm.send_command(q)
            except SafetyError as exc:
                assert "workspace" in str(exc)
        sent = np.array(fake.targets)
        assert fake.error_code == 0  # never a joint-limit (23) or speed (24) error
        assert np.all(LIM.contains(sent))
        assert np.all(FK(sent)[..., 2] >= arm.safety.config.workspace_min_m[2])


def test_trajectory_streams_with_feedback_and_refuses_jumps():
    arm, fake = make(rate_hz=200)
    with arm:
        t = np.linspace(0, 0.3, 7)
        q = Q0 + np.outer(np.linspace(0, 0.1, 7), [1, 0, 0, 0, 0, 0, 1])
        fb = []
        assert arm.execute_trajectory(t, q, feedback_cb=fb.append)
        np.testing.assert_allclose(arm.read_state().position_rad, q[-1], atol=1e-9)
        assert len(fb) >= 50 and fb[-1].index == len(fb) - 1
        n = len(fake.targets)
        jump = q[::-1].copy()
        jump[3:] += 0.3
        with pytest.raises(SafetyError):
            arm.execute_trajectory(t, jump)
        assert len(fake.targets) == n  # nothing sent


def test_cancel_holds_measured_position():
    arm, fake = make(rate_hz=200)
    with arm:
        t = np.linspace(0, 0.5, 11)
        q = Q0 + np.outer(np.linspace(0, 0.2, 11), np.ones(7) * [1, 0, 1, 0, 0, 0, 0])
        calls = iter(range(1000))
        assert not arm.execute_trajectory(t, q, should_cancel=lambda: next(calls) > 20)
        np.testing.assert_allclose(fake.targets[-1], arm.read_state().position_rad)
        assert np.all(fake.v == 0) or np.allclose(fake.targets[-1], fake.targets[-2])


def test_collision_mid_trajectory_holds_reports_and_recover_is_one_call():
    arm, fake = make(rate_hz=200)
    with arm:
        t = np.linspace(0, 0.5, 11)
        q = Q0 + np.outer(np.linspace(0, 0.2, 11), [1, 0, 0, 0, 0, 0, 0])

        def collide(fb):
            if fb.index == 10:
                fake.inject_error(31)

        with pytest.raises(DriverError, match="collision"):
            arm.execute_trajectory(t, q, feedback_cb=collide)
        assert fake.state == 4 and arm.fault is not None  # the controller stopped the arm
        with pytest.raises(SafetyError, match="faulted"):
            arm.send_command(arm.read_state().position_rad)
        arm.recover()
        assert fake.calls[-6:-1] == SEQUENCE or SEQUENCE[0] in fake.calls[-8:]
        assert fake.error_code == 0 and fake.mode == 1
        np.testing.assert_allclose(fake.targets[-1], fake.q)  # hold at measured
        arm.send_command(fake.q + 0.01)


def test_emergency_stop_stop_and_commands_after_them():
    arm, fake = make()
    with arm:
        arm.stop()
        arm.stop()
        with pytest.raises(SafetyError, match="stopped"):
            arm.send_command(Q0)
        arm.enable()
        arm.send_command(Q0 + 0.01)
        arm.emergency_stop()
        assert fake.state == 4 and fake.mode == 0
        with pytest.raises(SafetyError):
            arm.send_command(Q0)
        arm.recover()
        arm.send_command(fake.q + 0.01)
        assert fake.error_code == 0


def test_watchdog_holds_instead_of_continuing():
    arm, fake = make()
    with arm:
        arm.send_command(Q0 + 0.02)
        time.sleep(0.25)
        n = len(fake.targets)
        arm.read_state()
        assert len(fake.targets) == n + 1
        np.testing.assert_allclose(fake.targets[-1], fake.q)
