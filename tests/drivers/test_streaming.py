"""``ifgrasp.drivers.streaming``: the one streaming module (arm trajectories, the hand's latch and hold,
the safe-step clip), on the LEAP backend against the emulated Dynamixel bus (the motors' goal
registers are the reference) and on a toy MuJoCo arm."""

import time

import numpy as np
import pytest

from ifgrasp.drivers.emulation.dynamixel_bus import EmulatedDynamixelBus
from ifgrasp.drivers.leap import control_table as ct
from ifgrasp.drivers.leap.backend import LeapConfig, LeapHand
from ifgrasp.drivers.limits import JointLimits
from ifgrasp.drivers.safety import SafetyConfig
from ifgrasp.drivers.streaming import HandStream, interpolate, safe_step
from ifgrasp.errors import InputError, SafetyError

IDS = list(range(16))
LIM = JointLimits(tuple(f"j{i}" for i in IDS), np.full(16, -1.0), np.full(16, 1.6), np.full(16, 8.0),
                  np.full(16, np.inf))


@pytest.fixture
def hand():
    with EmulatedDynamixelBus(IDS) as bus:
        h = LeapHand(LeapConfig(port=bus.port, safety=SafetyConfig(max_step_rad=0.3, watchdog_timeout_s=0.3)),
                     limits=LIM)
        with h:
            h.bus = bus
            yield h


def run(stream: HandStream, timeout_s: float = 5.0) -> None:
    t_end = time.monotonic() + timeout_s
    while stream.tick() != "done":
        assert time.monotonic() < t_end, "command did not finish"
        time.sleep(0.01)


def test_safe_step_and_interpolate():
    q0, q1 = np.zeros(3), np.array([1.0, -0.1, 0.05])
    np.testing.assert_allclose(safe_step(q0, q1, 0.25), [0.2, -0.1, 0.05])  # 0.8 * 0.25 per joint
    np.testing.assert_allclose(safe_step(q0, q1, 0.25, 1.0), [0.25, -0.1, 0.05])
    t, q = np.array([0.0, 1.0, 3.0]), np.array([[0.0], [1.0], [0.0]])
    assert interpolate(t, q, -1)[0] == 0 and interpolate(t, q, 0.5)[0] == 0.5 and interpolate(t, q, 2.0)[0] == 0.5
    assert interpolate(t, q, 9)[0] == 0


def test_grasp_latches_holds_and_a_latched_stop_is_not_repeated(hand):
    """The hand's latch and hold: a one-point command is a latched grasp re-sent every tick; after a
    stop the ticks send nothing (e3ac308's endpoint re-stopped, i.e. re-wrote a hold, every tick)."""
    s = HandStream(hand)
    target = np.full(16, 0.4)  # more than one max_step from the open hand: ramped in safe steps
    s.start([0.2], target[None])
    run(s)
    assert hand.grasp_latched and s.hold_target is not None
    np.testing.assert_allclose(hand.bus.goals_rad(), target, atol=1.5 * ct.RAD_PER_TICK)
    with pytest.raises(SafetyError, match="open_hand"):
        hand.send_command(target - 0.2)
    hand.stop()
    writes = []
    hand._write = lambda q: writes.append(q)  # noqa: SLF001 - count what reaches the bus
    for _ in range(20):
        assert s.tick() == "idle"
    assert writes == []
    np.testing.assert_allclose(hand.bus.goals_rad(), target, atol=1.5 * ct.RAD_PER_TICK)  # squeeze goal kept


def test_move_does_not_latch_and_open_releases(hand):
    s = HandStream(hand)
    target = np.full(16, 0.3)
    s.start([0.1, 0.2], np.stack([0.5 * target, target]))
    run(s)
    assert not hand.grasp_latched and s.hold_target is None
    np.testing.assert_allclose(hand.bus.goals_rad(), target, atol=1.5 * ct.RAD_PER_TICK)
    s.start([0.1, 0.2], np.zeros((2, 16)))  # moving back is fine: nothing latched
    run(s)
    np.testing.assert_allclose(hand.bus.goals_rad(), 0.0, atol=1.5 * ct.RAD_PER_TICK)
    s.start([0.2], target[None])
    run(s)
    assert hand.grasp_latched
    s.start([], np.zeros((0, 16)))  # open on request
    run(s)
    assert not hand.grasp_latched
    np.testing.assert_allclose(hand.bus.goals_rad(), hand.q_open_rad, atol=1.5 * ct.RAD_PER_TICK)


def test_bad_hand_command_changes_nothing(hand):
    s = HandStream(hand)
    s.start([0.2], np.full((1, 16), 0.3))
    run(s)
    with pytest.raises(InputError, match="expected 16"):
        s.start([0.2], np.zeros((1, 5)))
    with pytest.raises(InputError, match="strictly increase"):
        s.start([0.2, 0.1], np.zeros((2, 16)))
    assert s.hold_target is not None and hand.grasp_latched  # the grasp is still held


def test_trajectory_stream_on_a_sim_arm():
    mujoco = pytest.importorskip("mujoco")
    from ifgrasp.drivers.sim.backend import SimArm, SimConfig
    from ifgrasp.drivers.streaming import TrajectoryStream

    xml = """<mujoco><compiler angle="radian"/><worldbody><body><joint name="a" type="hinge" range="-2 2"/><geom size=".05" mass="0.2"/>
    <body pos="0 0 .2"><joint name="b" type="hinge" range="-2 2"/><geom size=".05" mass="0.2"/></body></body>
    </worldbody><actuator><position name="pa" joint="a" kp="50"/><position name="pb" joint="b" kp="50"/></actuator></mujoco>"""
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    arm = SimArm(model, data, ["a", "b"], ["pa", "pb"], SimConfig(safety=SafetyConfig(max_step_rad=0.1)))
    with arm:
        t = np.linspace(0, 0.5, 6)
        q = np.stack([np.linspace(0, 0.3, 6), np.zeros(6)], axis=1)
        stream = TrajectoryStream(arm, t, q)
        sent = []
        while not stream.sent_all:
            sent.append(stream.step().q_desired_rad)
            time.sleep(0.02)
        assert np.max(np.abs(np.diff(np.array(sent), axis=0))) <= 0.8 * 0.1 + 1e-9
        np.testing.assert_allclose(sent[-1], q[-1])


class LaggingArm:
    """Minimal in-memory ``JointDriver``: the measured joints trail the last command by ``lag`` (0..1)."""

    @staticmethod
    def make(lag: float = 0.5):
        from ifgrasp.drivers.base import JointDriver, JointState

        class _Arm(JointDriver):
            def __init__(self):
                self.now = 0.0
                lim = JointLimits(("a", "b"), np.full(2, -3.0), np.full(2, 3.0), np.full(2, 10.0), np.full(2, np.inf))
                super().__init__(lim, SafetyConfig(max_step_rad=0.1, watchdog_timeout_s=0.5), clock=lambda: self.now)
                self.q_cmd, self.q_meas, self.sent = np.zeros(2), np.zeros(2), []

            def _connect(self): ...

            def _disconnect(self): ...

            def _read(self):
                return JointState(self.names, self.q_meas.copy(), np.zeros(2), np.zeros(2), np.full(2, np.nan), self.now)

            def _write(self, q):
                self.sent.append(q.copy())
                self.q_meas = self.q_meas + (1 - lag) * (q - self.q_meas)
                self.q_cmd = q.copy()

        return _Arm()


def test_trajectory_stream_after_a_stall_is_never_refused():
    """A stall longer than the watchdog makes the safety reference the measured joints, which trail
    the path: the stream steps from there instead of jumping (e3ac308's endpoint was refused:
    'joint would jump ... max_step_rad')."""
    from ifgrasp.drivers.streaming import TrajectoryStream

    arm = LaggingArm.make(lag=0.6).connect()
    t = np.linspace(0.0, 1.0, 21)
    q = np.stack([np.linspace(0.0, 1.5, 21), np.zeros(21)], axis=1)  # 1.5 rad/s on joint a
    stream = TrajectoryStream(arm, t, q)
    for k in range(400):
        arm.now += 2.0 if k == 20 else 0.01  # one 2 s stall mid-way
        ref = arm.safety.reference(arm.q_meas, arm.now)
        stream.step()  # raises SafetyError if a step were refused
        assert np.max(np.abs(arm.sent[-1] - ref)) <= 0.08 + 1e-9
        if stream.sent_all and np.allclose(arm.sent[-1], q[-1]):
            break
    np.testing.assert_allclose(arm.sent[-1], q[-1])
