"""The MuJoCo backends on a tiny MJCF: same interface, limits from the model, virtual real time."""

import mujoco
import numpy as np
import pytest

from ifgrasp.drivers import make_driver
from ifgrasp.drivers.safety import SafetyConfig
from ifgrasp.drivers.sim.backend import PhysicsClock, SimArm, SimConfig, SimHand
from ifgrasp.errors import ConfigError, SafetyError

XML = """
<mujoco>
  <compiler angle="radian"/>
  <option timestep="0.002" gravity="0 0 0"/>
  <worldbody>
    <body name="l1"><joint name="a" type="hinge" axis="0 0 1" range="-1 1" damping="0.5"/>
      <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.2"/>
      <body name="l2" pos="0.2 0 0"><joint name="b" type="hinge" axis="0 1 0" range="-0.5 1.5" damping="0.5"/>
        <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.1"/></body></body>
  </worldbody>
  <actuator><position name="pa" joint="a" kp="20"/><position name="pb" joint="b" kp="20"/></actuator>
</mujoco>"""


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, dt):
        self.t += dt


@pytest.fixture
def sim():
    model = mujoco.MjModel.from_xml_string(XML)
    return model, mujoco.MjData(model)


def test_limits_come_from_the_model_and_commands_are_clipped(sim):
    model, data = sim
    clock = Clock()
    arm = SimArm(model, data, ["a", "b"], ["pa", "pb"], SimConfig(safety=SafetyConfig(max_step_rad=5)),
                 clock=clock, sleep=clock.sleep)
    np.testing.assert_allclose(arm.limits.lower_rad, [-1, -0.5])
    with arm:
        sent = arm.send_command([3.0, -3.0])
        assert np.all(sent >= [-1, -0.5]) and np.all(sent <= [1, 1.5])
        np.testing.assert_allclose(data.ctrl, sent)


def test_trajectory_reaches_goal_in_virtual_time(sim):
    model, data = sim
    clock = Clock()
    arm = SimArm(model, data, ["a", "b"], ["pa", "pb"], clock=clock, sleep=clock.sleep)
    with arm:
        t = np.linspace(0, 1.0, 11)
        q = np.outer(np.linspace(0, 1, 11), [0.5, 0.8])
        assert arm.execute_trajectory(t, q)
        for _ in range(5):  # reads advance physics with the clock (at most max_advance_s per read)
            clock.sleep(0.2)
            state = arm.read_state()
        np.testing.assert_allclose(state.position_rad, [0.5, 0.8], atol=0.02)
        assert data.time == pytest.approx(clock.t, abs=0.01)


def test_a_command_acts_until_the_next_one_arrives_even_without_reads(sim):
    """Zero-order hold like a servo loop: a write first lets the previous target act until now, so a
    ramp of commands streamed without reads moves the joint along the ramp instead of jumping."""
    model, data = sim
    clock = Clock()
    hand = SimHand(model, data, ["a", "b"], ["pa", "pb"], clock=clock)
    with hand:
        for q in np.linspace(0.0, 0.2, 11)[1:]:
            hand.send_command([q, q])
            clock.sleep(0.05)
        assert data.time == pytest.approx(0.45, abs=0.003)  # advanced at each write, no read
        assert 0.05 < data.qpos[0] < 0.2  # on its way along the ramp, not teleported to its end


def test_an_arm_and_a_hand_on_one_model_share_simulated_time(sim):
    model, data = sim
    clock = Clock()
    physics = PhysicsClock(model, data, clock, max_advance_s=0.25)
    arm = SimArm(model, data, ["a"], ["pa"], clock=clock, physics=physics).connect()
    hand = SimHand(model, data, ["b"], ["pb"], clock=clock, physics=physics).connect()
    clock.sleep(1.0)  # a stall: the first read advances at most max_advance_s and drops the rest
    arm.read_state()
    assert data.time == pytest.approx(0.25, abs=0.003)
    hand.read_state()  # the same simulated time: no second catch-up
    assert data.time == pytest.approx(0.25, abs=0.003)
    clock.sleep(0.1)
    hand.read_state()
    arm.read_state()
    assert data.time == pytest.approx(0.35, abs=0.003)
    with pytest.raises(ConfigError, match="another MjModel"):
        SimHand(model, mujoco.MjData(model), ["b"], ["pb"], clock=clock, physics=physics)


def test_watchdog_and_emergency_stop_hold(sim):
    model, data = sim
    clock = Clock()
    arm = SimArm(model, data, ["a", "b"], ["pa", "pb"], clock=clock, sleep=clock.sleep)
    with arm:
        arm.send_command([0.2, 0.2])
        clock.sleep(0.05)
        arm.read_state()  # mid-motion
        clock.sleep(0.6)  # > watchdog_timeout_s
        state = arm.read_state()
        assert arm.safety.holding
        np.testing.assert_allclose(data.ctrl, state.position_rad)
        arm.emergency_stop()
        with pytest.raises(SafetyError):
            arm.send_command(state.position_rad)
        arm.recover()
        arm.send_command(state.position_rad + 0.01)


def test_registry_builds_a_sim_hand_and_names_are_checked(sim):
    model, data = sim
    hand = make_driver("hand", "sim", {}, model=model, data=data, joint_names=["a", "b"], actuator_names=["pa", "pb"])
    assert isinstance(hand, SimHand) and hand.names == ("a", "b")
    with pytest.raises(ConfigError, match="known: a, b"):
        SimHand(model, data, ["a", "zz"], ["pa", "pb"])
    with pytest.raises(ConfigError, match="no 'leap' backend for the arm"):
        make_driver("arm", "leap")


def test_shipped_config_validates_for_every_backend():
    import yaml

    from ifgrasp.drivers.leap.backend import LeapConfig
    from ifgrasp.drivers.xarm.backend import XarmConfig
    from ifgrasp.paths import CONFIG_DIR

    cfg = yaml.safe_load((CONFIG_DIR / "drivers.yaml").read_text())
    assert XarmConfig.from_dict(cfg["arm"]["xarm"]).safety.max_step_rad == 0.05
    assert LeapConfig.from_dict(cfg["hand"]["leap"]).current_limit_ma == 550
    SimConfig.from_dict(cfg["arm"]["sim"])
    SimConfig.from_dict(cfg["hand"]["sim"])
    with pytest.raises(ConfigError, match="current_lmit"):
        LeapConfig.from_dict({**cfg["hand"]["leap"], "current_lmit": 1})


def test_importing_the_drivers_imports_no_sdk():
    import subprocess
    import sys

    code = ("import sys, ifgrasp.drivers, ifgrasp.drivers.sim.backend; "
            "print(sorted(m for m in ('dynamixel_sdk', 'xarm', 'serial') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


WALL_XML = XML.replace('<worldbody>', '<worldbody>\n    <geom name="wall" type="box" pos="0.1201 0.0947 0" '
                       'size="0.1 0.01 0.05" euler="0 0 0.47"/>')


def test_a_trajectory_ending_in_contact_settles_in_sim_but_not_on_the_xarm():
    """A link stopped by a wall ~0.04 rad short of the end (as fingers pressing the object stop the
    simulated arm at the end of an approach): the sim's own settle tolerance accepts it; the xArm's
    strict one (the hardware path) would refuse it and hold."""
    from ifgrasp.drivers.xarm.backend import XarmConfig
    from ifgrasp.errors import DriverError

    model = mujoco.MjModel.from_xml_string(WALL_XML)
    t = np.linspace(0, 1.0, 11)
    q = np.outer(np.linspace(0, 1, 11), [0.5, 0.0])
    strict = XarmConfig().settle_tol_rad
    assert strict <= 0.01
    for cfg, ends in ((SimConfig(), True), (SimConfig(settle_tol_rad=strict), False)):
        data, clock = mujoco.MjData(model), Clock()
        with SimArm(model, data, ["a", "b"], ["pa", "pb"], cfg, clock=clock, sleep=clock.sleep) as arm:
            if ends:
                assert arm.execute_trajectory(t, q)
                assert 0.01 < 0.5 - arm.read_state().position_rad[0] < cfg.settle_tol_rad  # held off by the wall
                assert arm.execute_trajectory(t[:2], np.stack([q[-1], q[-1] - [0.05, 0.0]]))  # the next one starts
            else:
                with pytest.raises(DriverError, match=r"tolerance 0.01 rad"):
                    arm.execute_trajectory(t, q)
    with pytest.raises(ConfigError, match="settle_tol_rad"):
        XarmConfig.from_dict({"settle_tol_rad": 0.05})


def test_a_streamed_trajectory_held_off_by_contact_settles_or_fails_but_never_hangs():
    """The ROS driver endpoint's path (``TrajectoryStream.settled``): the sim arm's tolerance
    accepts the wall; the strict one reports it 2 s after the last point (it waited forever)."""
    from ifgrasp.drivers.streaming import TrajectoryStream
    from ifgrasp.drivers.xarm.backend import XarmConfig
    from ifgrasp.errors import DriverError

    model = mujoco.MjModel.from_xml_string(WALL_XML)
    t = np.linspace(0, 1.0, 11)
    q = np.outer(np.linspace(0, 1, 11), [0.5, 0.0])
    for tol, ends in ((SimConfig().settle_tol_rad, True), (XarmConfig().settle_tol_rad, False)):
        data, clock = mujoco.MjData(model), Clock()
        cfg = SimConfig(settle_tol_rad=tol, safety=SafetyConfig(max_step_rad=5))
        with SimArm(model, data, ["a", "b"], ["pa", "pb"], cfg, clock=clock, sleep=clock.sleep) as arm:
            stream = TrajectoryStream(arm, t, q)

            def run() -> int:
                for i in range(1000):  # 10 s of driver clock at 100 Hz
                    stream.step()
                    if stream.settled():
                        return i
                    clock.sleep(0.01)
                return -1

            if ends:
                assert run() > 0
            else:
                with pytest.raises(DriverError, match=r"tolerance 0.01 rad"):
                    run()
                assert clock.t < 1.0 + 2.0 + 0.1  # reported 2 s after the last point
