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


def read_fresh(hand):
    """A state read from the bus, not the last one (reads are rate-limited to the bus budget)."""
    time.sleep(hand.state_period_s)
    return hand.read_state()


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
            assert bus.register(i, ct.GOAL_CURRENT) == 550
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
        state = read_fresh(hand)
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
        state = read_fresh(hand)
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
            read_fresh(hand)
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
            read_fresh(hand)
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
        squeeze = hand.send_command(q + 0.05)  # closing further is fine (and is the new squeeze goal)
        hand.stop()
        # a stop keeps the squeeze goal, it neither opens nor sets the goal to the measured position
        np.testing.assert_allclose(bus.goals_rad(), squeeze, atol=ct.RAD_PER_TICK)
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
    # the bus: no sysfs latency timer for a PTY, Return Delay Time set from the factory 250, the budget
    assert "is not a USB serial adapter" in out and "the budget assumes 1 ms as configured" in out
    assert "Return Delay Time: 0 (x 2 us) on every motor; set now on 16 motors (was 250)" in out
    assert "bus budget at 4000000 baud, 16 motors, return delay 0 us, latency timer 1 ms: fast sync read" in out
    assert "state rate: 100 states/s" in out


# -- issue 23: the squeeze is kept, one transaction per state, bus budget, Bus Watchdog, recovery --------

OBJECT_RAD = 0.2  # the emulated object stops every finger here
SQUEEZE_GOAL = 0.45  # the grasp goal past it, far enough to saturate 550 mA at kp 600: the squeeze


def squeeze(bus, hand):
    """Latch a grasp whose goal is past the object: goals at SQUEEZE_GOAL, fingers at OBJECT_RAD."""
    for i in IDS:
        bus.block(i, OBJECT_RAD)
    q = hand.read_state().position_rad
    for s in np.linspace(0.0, 1.0, 8)[1:]:
        hand.send_command(q + s * (SQUEEZE_GOAL - q))
        time.sleep(0.02)
    hand.grasp(np.full(16, SQUEEZE_GOAL))
    time.sleep(0.1)
    assert_squeezing(bus, hand)


def assert_squeezing(bus, hand, ids=IDS):
    """Goals past the object, fingers on it, motor currents at the goal current (the squeeze)."""
    k = [IDS.index(i) for i in ids]
    np.testing.assert_allclose(bus.goals_rad()[k], SQUEEZE_GOAL, atol=ct.RAD_PER_TICK)
    np.testing.assert_allclose(bus.positions_rad()[k], OBJECT_RAD, atol=2 * ct.RAD_PER_TICK)
    assert np.all(bus.currents_ma()[k] >= 0.9 * hand.config.current_limit_ma)


def test_stop_watchdog_fault_and_shutdown_keep_the_squeeze(bus):
    """Fails on e3ac308: every hold set the goal to the measured position (current -> 0, grasp released)."""
    hand = make(bus, temperature_max_c=65).connect()
    squeeze(bus, hand)
    hand.stop()
    hand.stop()
    assert_squeezing(bus, hand)
    hand.enable()
    hand.grasp(np.full(16, SQUEEZE_GOAL))
    time.sleep(0.4)  # past watchdog_timeout_s: the watchdog holds
    hand.read_state()
    assert hand.safety.holding
    assert_squeezing(bus, hand)
    bus.set_temperature(3, 66)  # one hot motor: faulted, but no motor lets go
    state = read_fresh(hand)
    assert hand.fault and "motor 3: temperature 66 C" in hand.fault and "let it cool" in state.errors[0]
    assert_squeezing(bus, hand)
    assert all(bus.torque_drops(i) == 0 for i in IDS)
    hand.disconnect()  # orderly shutdown: holds, disarms the Bus Watchdog
    assert all(bus.register(i, ct.BUS_WATCHDOG) == 0 for i in IDS)
    time.sleep(1.2 * hand.config.bus_watchdog_ms / 1000)
    assert_squeezing(bus, hand)


def test_one_bus_transaction_per_state_and_return_delay_zero(bus):
    """Fails on e3ac308: two sync reads per state; Return Delay Time left at the factory 250 (500 us)."""
    assert bus.register(0, ct.RETURN_DELAY_TIME) == ct.FACTORY_RETURN_DELAY_TIME
    with make(bus) as hand:
        assert all(bus.register(i, ct.RETURN_DELAY_TIME) == 0 for i in IDS)
        for fast in (True, False):
            hand.config = hand.config.model_copy(update={"fast_sync_read": fast})
            before = bus.packets
            state = read_fresh(hand)
            assert bus.packets - before == 1
            np.testing.assert_allclose(state.position_rad, bus.positions_rad(), atol=2 * ct.RAD_PER_TICK)
            assert state.temperature_c[5] == 30


def test_state_rate_is_limited_to_the_bus_budget(bus):
    """Fails on e3ac308: every read_state() was a bus read, whatever the rate asked for."""
    with make(bus, state_rate_hz=500, latency_timer_ms=1.0) as hand:
        b = hand.bus_budget
        assert hand.state_rate_hz == pytest.approx(min(500, b.max_state_rate_hz))
        assert 60 <= hand.state_rate_hz <= b.max_state_rate_hz
        before, t0 = bus.packets, time.monotonic()
        while time.monotonic() - t0 < 0.5:
            hand.read_state()
        elapsed = time.monotonic() - t0
        assert bus.packets - before <= hand.state_rate_hz * elapsed + 1
    factory = make(bus, return_delay_time=250, fast_sync_read=False, latency_timer_ms=16.0).budget()
    assert factory.max_state_rate_hz < 60 < b.max_state_rate_hz  # why RDT 0 and a 1 ms latency timer matter


def test_bus_budget_matches_the_protocol_arithmetic():
    from ifgrasp.drivers.leap.bus_budget import bus_budget

    # 16 motors x 21 bytes: request 14 + 16 = 30 B; fast reply 10 + 16 * 25 = 410 B; 10 bits per byte
    b = bus_budget(4_000_000, 16, 21, 0.0, 1.0, fast=True, usb_overhead_s=0.0)
    assert b.read_bytes == 440 and b.write_bytes == 14 + 16 * 5
    assert b.read_s == pytest.approx(440 * 10 / 4e6 + 1e-3)
    s = bus_budget(4_000_000, 16, 21, 500.0, 16.0, fast=False, usb_overhead_s=0.0)
    assert s.read_bytes == 30 + 16 * 32
    assert s.read_s == pytest.approx(542 * 10 / 4e6 + 16 * 500e-6 + 16e-3)


def test_latency_timer_is_read_from_sysfs(tmp_path):
    from ifgrasp.drivers.leap.bus_budget import usb_serial_latency_timer_ms

    dev = tmp_path / "sys/bus/usb-serial/devices/ttyUSB3"
    dev.mkdir(parents=True)
    (dev / "latency_timer").write_text("16\n")
    (tmp_path / "ttyUSB3").touch()
    (tmp_path / "usb-FTDI_U2D2-if00-port0").symlink_to(tmp_path / "ttyUSB3")  # like /dev/serial/by-id
    assert usb_serial_latency_timer_ms(str(tmp_path / "usb-FTDI_U2D2-if00-port0"), str(tmp_path / "sys")) == 16.0
    assert usb_serial_latency_timer_ms(str(tmp_path / "nothing"), str(tmp_path / "sys")) is None


def test_bus_watchdog_stops_the_squeeze_when_the_host_dies(bus):
    """Fails on e3ac308: the Bus Watchdog was never armed, a dead host left the fingers squeezing."""
    with make(bus, bus_watchdog_ms=600) as hand:
        assert all(bus.register(i, ct.BUS_WATCHDOG) == 30 for i in IDS)  # 30 x 20 ms
        squeeze(bus, hand)
        time.sleep(0.9)  # the host sends nothing (crashed)
        np.testing.assert_allclose(bus.goals_rad(), bus.positions_rad(), atol=2 * ct.RAD_PER_TICK)
        assert np.all(np.abs(bus.currents_ma()) < 20)  # stopped: no squeeze
        assert all(bus.register(i, ct.BUS_WATCHDOG) == ct.BUS_WATCHDOG_TRIPPED for i in IDS)
        assert all(bus.register(i, ct.TORQUE_ENABLE) == 1 for i in IDS)
        state = read_fresh(hand)
        assert hand.fault and "Bus Watchdog tripped" in state.errors[0]
        hand.recover()  # clears and re-arms the watchdog; the latched squeeze goal comes back
        assert all(bus.register(i, ct.BUS_WATCHDOG) == 30 for i in IDS)
        time.sleep(0.1)
        assert_squeezing(bus, hand)


def test_recovery_waits_for_the_rebooted_motor_and_keeps_the_others_torqued():
    """Fails on e3ac308: the reboot was pinged at once (the motor still booting -> 'missing'), and
    re-setup turned torque off on all 16 motors (the grasp dropped)."""
    with EmulatedDynamixelBus(IDS, boot_s=0.3) as bus, make(bus) as hand:
        squeeze(bus, hand)
        bus.set_hardware_error(7, bit=5)  # overload: motor 7 drops its torque
        state = read_fresh(hand)
        assert any("motor 7: overload" in e for e in state.errors) and hand.fault
        others = [i for i in IDS if i != 7]
        assert_squeezing(bus, hand, others)
        hand.recover()
        assert bus.register(7, ct.HARDWARE_ERROR_STATUS) == 0 and bus.register(7, ct.TORQUE_ENABLE) == 1
        assert bus.register(7, ct.POSITION_P_GAIN) == 600  # configured again after the reboot
        assert all(bus.torque_drops(i) == 0 for i in others)
        time.sleep(0.1)
        assert_squeezing(bus, hand)  # motor 7 squeezes again too


def test_missing_port_and_wrong_baud_name_the_fix(bus):
    with pytest.raises(DriverError, match="does not exist: plug in the U2D2"):
        LeapHand(LeapConfig(port="/dev/ttyUSB_nonexistent"), limits=LIM).connect()
    with pytest.raises(DriverError, match="wrong baud rate, the motors answer at 4000000 baud"):
        make(bus, baud=1_000_000).connect()


def test_hot_motor_at_connect_stays_connected_faulted_and_still(bus):
    bus.set_temperature(9, 70)
    with make(bus) as hand:
        assert hand.is_connected and "motor 9: temperature 70 C" in hand.fault
        np.testing.assert_allclose(bus.goals_rad(), bus.positions_rad(), atol=2 * ct.RAD_PER_TICK)
        with pytest.raises(SafetyError, match="faulted"):
            hand.send_command(hand.read_state().position_rad)
