"""The LEAP backend end to end through the real dynamixel-sdk against the emulated PTY bus."""

import time

import numpy as np
import pytest
import serial

from ifgrasp.drivers.emulation.dynamixel_bus import EmulatedDynamixelBus, crc16
from ifgrasp.drivers.leap import control_table as ct
from ifgrasp.drivers.leap.backend import LeapConfig, LeapHand
from ifgrasp.drivers.limits import JointLimits
from ifgrasp.drivers.safety import SafetyConfig
from ifgrasp.errors import ConfigError, DriverError, SafetyError

IDS = list(range(16))
# Test limits (the driver is table-agnostic; the real table is ifgrasp.hand.joints).
LIM = JointLimits(tuple(f"j{i}" for i in IDS), np.full(16, -1.0), np.full(16, 1.6), np.full(16, 8.0),
                  np.full(16, np.inf))


def make(bus, **cfg):
    cfg.setdefault("safety", SafetyConfig(max_step_rad=0.3, watchdog_timeout_s=0.3))
    return LeapHand(LeapConfig(port=bus.port, **cfg), limits=LIM)


@pytest.fixture
def bus():
    with EmulatedDynamixelBus(IDS) as b:
        yield b


def assert_holding(bus, hand):
    """Nothing left moving: every goal equals the last measured position (within one tick)."""
    np.testing.assert_allclose(bus.goals_rad(), hand._last_state.position_rad, atol=2 * ct.RAD_PER_TICK)


def test_crc_matches_the_sdk_table():
    import dynamixel_sdk as dxl

    data = bytes(range(7, 60))
    assert crc16(data) == dxl.Protocol2PacketHandler().updateCRC(0, list(data), len(data))


def test_connect_configures_every_motor_and_streams(bus):
    with make(bus, kp=700) as hand:
        for i in IDS:
            assert bus.register(i, ct.OPERATING_MODE) == 5
            assert bus.register(i, ct.TORQUE_ENABLE) == 1
            assert bus.register(i, ct.GOAL_CURRENT) == 350
        assert bus.register(0, ct.POSITION_P_GAIN) == int(700 * 0.75)  # side-to-side softer
        assert bus.register(1, ct.POSITION_P_GAIN) == 700
        assert bus.register(4, ct.POSITION_D_GAIN) == 150
        state = hand.read_state()
        np.testing.assert_allclose(state.position_rad, 0.0, atol=1e-3)  # flat hand = 2048 ticks
        target = np.linspace(0.0, 0.2, 16)
        sent = hand.send_command(target)
        np.testing.assert_allclose(sent, target, atol=1e-12)
        np.testing.assert_allclose(bus.goals_rad(), target, atol=ct.RAD_PER_TICK)
        time.sleep(0.15)
        np.testing.assert_allclose(hand.read_state().position_rad, target, atol=0.01)


def test_command_outside_limits_is_clipped_before_the_bus(bus):
    with make(bus) as hand:
        sent = hand.read_state().position_rad
        lowest = []
        for _ in range(400):  # push past the lower limit in steps under max_step_rad
            sent = hand.send_command(sent - 0.2)
            lowest.append(bus.goals_rad().min())
            if np.all(sent <= -1.0):
                break
        np.testing.assert_allclose(sent, -1.0)
        assert min(lowest) >= -1.0 - ct.RAD_PER_TICK


def test_missing_motor_is_listed(bus):
    bus.missing_ids = {5, 11}
    with pytest.raises(DriverError, match=r"IDs \[5, 11\]"):
        make(bus).connect()


def test_wrong_baud_says_so(bus):
    with pytest.raises(DriverError, match="wrong baud"):
        make(bus, baud=1_000_000).connect()


def test_busy_port_gives_a_clear_message(bus):
    other = serial.Serial(bus.port, 4_000_000, exclusive=True)  # another program holding the port
    try:
        with pytest.raises(DriverError, match="busy"):
            make(bus).connect()
    finally:
        other.close()
    make(bus).connect().disconnect()  # free again once released


def test_current_limit_above_safe_maximum_refused(bus):
    with pytest.raises(ConfigError, match="safe maximum"):
        make(bus, current_limit_ma=900)
    with pytest.raises(DriverError, match="Current Limit register"):
        for i in IDS:
            bus._put(bus._tables[i], ct.CURRENT_LIMIT, 300)
        make(bus).connect()


def test_overload_bit_faults_holds_and_recovers(bus):
    with make(bus) as hand:
        hand.send_command(np.full(16, 0.2))
        time.sleep(0.03)
        bus.set_hardware_error(7, bit=5)
        state = hand.read_state()
        assert any("motor 7: overload" in e for e in state.errors)
        assert hand.fault is not None
        assert_holding(bus, hand)
        with pytest.raises(SafetyError, match="faulted"):
            hand.send_command(state.position_rad)
        hand.recover()  # reboots motor 7, reconfigures, holds
        assert bus.register(7, ct.HARDWARE_ERROR_STATUS) == 0 and bus.register(7, ct.TORQUE_ENABLE) == 1
        hand.send_command(hand.read_state().position_rad + 0.05)


def test_over_temperature_faults_and_holds(bus):
    with make(bus, temperature_max_c=60) as hand:
        hand.send_command(np.full(16, 0.2))
        bus.set_temperature(3, 71)
        state = hand.read_state()
        assert state.temperature_c[3] == 71
        assert any("motor 3: temperature 71" in e for e in state.errors)
        assert_holding(bus, hand)


def test_bus_timeout_mid_motion_holds_and_reports(bus):
    with make(bus) as hand:
        hand.send_command(np.full(16, 0.25))
        time.sleep(0.01)
        hand.read_state()  # measured mid-motion
        bus.silent = True  # motors stop answering (still listening)
        with pytest.raises(DriverError, match="timeout"):
            hand.read_state()
        assert_holding(bus, hand)
        with pytest.raises(SafetyError):
            hand.send_command(hand._last_state.position_rad)
        bus.silent = False
        hand.recover()
        np.testing.assert_allclose(bus.goals_rad(), hand.read_state().position_rad, atol=0.01)


def test_cable_pulled_mid_motion_reports_and_motors_stop_within_one_step(bus):
    with make(bus) as hand:
        sent = hand.send_command(np.full(16, 0.25))
        time.sleep(0.01)
        measured = hand.read_state().position_rad
        bus.deaf = True  # nothing reaches the motors any more
        with pytest.raises(DriverError, match="timeout"):
            hand.read_state()
        with pytest.raises(SafetyError, match="faulted"):
            hand.send_command(measured)
        # position servos stop at their last goal, which the step limit keeps near the measured pose
        np.testing.assert_allclose(bus.goals_rad(), sent, atol=ct.RAD_PER_TICK)
        assert np.max(np.abs(sent - measured)) <= hand.safety.config.max_step_rad
        bus.deaf = False  # cable back in
        hand.recover()  # first thing sent: a hold at the measured position
        np.testing.assert_allclose(bus.goals_rad(), hand._last_state.position_rad, atol=2 * ct.RAD_PER_TICK)


def test_jump_and_command_after_stop_are_refused_and_not_sent(bus):
    with make(bus) as hand:
        before = bus.goals_rad()
        with pytest.raises(SafetyError, match="max_step_rad"):
            hand.send_command(np.full(16, 1.0))
        np.testing.assert_array_equal(bus.goals_rad(), before)
        hand.stop()
        hand.stop()
        with pytest.raises(SafetyError, match="stopped"):
            hand.send_command(before)
        hand.enable()
        hand.send_command(before + 0.01)


def test_watchdog_holds_measured_position(bus):
    with make(bus) as hand:
        hand.send_command(np.full(16, 0.25))
        time.sleep(0.35)  # longer than watchdog_timeout_s
        hand.read_state()
        assert hand.safety.holding
        assert_holding(bus, hand)


def test_hand_opens_only_on_request(bus):
    with make(bus) as hand:
        hand.grasp(np.full(16, 0.25))
        time.sleep(0.12)
        q = hand.read_state().position_rad
        with pytest.raises(SafetyError, match="open_hand"):
            hand.send_command(q - 0.1)
        hand.send_command(q + 0.05)  # closing further is fine
        hand.stop()
        assert_holding(bus, hand)  # a stop holds the grasp, it does not open
        hand.enable()
        opened = hand.open_hand()
        assert np.all(opened < q)


def test_torque_off_dry_run(bus):
    with make(bus) as hand:
        hand.torque_off()
        assert all(bus.register(i, ct.TORQUE_ENABLE) == 0 for i in IDS)
        with pytest.raises(SafetyError):
            hand.send_command(np.zeros(16))


def test_default_limits_come_from_the_hand_table(bus):
    from ifgrasp.hand import joints

    hand = LeapHand(LeapConfig(port=bus.port))
    assert hand.names == joints.JOINT_NAMES
    np.testing.assert_array_equal(hand.limits.lower_rad, joints.LOWER_RAD)
    assert [j.motor_id for j in joints.JOINTS] == list(hand.config.motor_ids)  # joint order = motor IDs
    with hand:
        state = hand.read_state()
        assert state.position_rad.shape == (16,)
        # clipping uses the real table: a command below the lower limits is clipped to them
        q = np.maximum(state.position_rad - 0.2, joints.LOWER_RAD - 1)
        sent = hand.send_command(q)
        assert np.all(sent >= joints.LOWER_RAD) and np.all(sent <= joints.UPPER_RAD)


def test_dry_run_against_the_emulator_prints_state(capsys):
    from ifgrasp.drivers.dry_run import main

    main(["hand", "--emulate", "--seconds", "0.2"])
    out = capsys.readouterr().out
    assert "q_rad" in out and "errors none" in out
