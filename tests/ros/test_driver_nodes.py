"""``arm_driver`` / ``hand_driver`` in their own processes against the emulated devices: the LEAP
Hand on an emulated Dynamixel Protocol 2.0 bus (a real PTY, the real dynamixel-sdk in the node),
the xArm7 through the real ``xarm-python-sdk`` on the controller emulator (``emulate:=true``). References are the devices' own
state: the emulated motors' goal registers, the fake controller's reported joints."""

import json
import time

import numpy as np
import pytest

pytest.importorskip("ifgrasp_interfaces", reason="ROS 2 workspace not built: run scripts/install.sh")

from builtin_interfaces.msg import Duration, Time  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402

from ifgrasp.drivers.emulation.dynamixel_bus import EmulatedDynamixelBus  # noqa: E402
from ifgrasp.hand.joints import JOINT_NAMES  # noqa: E402

READY = np.array([0.0, -0.60, 0.0, 0.915, 0.0, 1.516, 0.0])  # config/scene.yaml arm_joints_rad


class DeviceProbe:
    """Subscribes to one driver node's outputs and talks to its endpoint."""

    def __init__(self, probe, kind: str, n_joints: int) -> None:
        self.probe, self.kind, self.n = probe, kind, n_joints
        node = probe.node
        self.q: np.ndarray | None = None
        self.diag: DiagnosticArray | None = None
        self.statuses: list[dict] = []
        node.create_subscription(JointState, "/joint_states", self._on_joints, 10)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        node.create_subscription(String, f"/ifgrasp/{kind}/status", lambda m: self.statuses.append(json.loads(m.data)), 10)
        self.pub = node.create_publisher(JointTrajectory, f"/ifgrasp/{kind}/joint_trajectory", 10)
        self.names: list[str] = []

    def _on_joints(self, msg: JointState) -> None:
        if len(msg.name) == self.n:
            self.names, self.q = list(msg.name), np.asarray(msg.position)

    def _on_diag(self, msg: DiagnosticArray) -> None:
        if msg.status and msg.status[0].name == f"ifgrasp/{self.kind}":
            self.diag = msg

    def wait(self, cond, timeout_s: float, what: str, procs=()) -> None:
        self.probe.spin_until(cond, timeout_s, what, procs)

    def send(self, cid: int, times_s, q) -> None:
        msg = JointTrajectory(joint_names=self.names)
        msg.header.stamp = Time(sec=cid, nanosec=0)
        for t, qi in zip(times_s, q):
            sec = int(t)
            msg.points.append(JointTrajectoryPoint(positions=[float(v) for v in qi],
                                                   time_from_start=Duration(sec=sec, nanosec=int((t - sec) * 1e9))))
        # wait until the node subscribes (a volatile publisher drops what it sends before discovery)
        self.wait(lambda: self.pub.get_subscription_count() > 0, 10.0, f"/ifgrasp/{self.kind}/joint_trajectory subscriber")
        self.pub.publish(msg)

    def end_state(self, cid: int) -> dict | None:
        ends = [s for s in self.statuses if s["id"] == cid * 1_000_000_000 and s["state"] != "running"]
        return ends[0] if ends else None

    def wait_end(self, cid: int, timeout_s: float, procs=()) -> dict:
        self.wait(lambda: self.end_state(cid) is not None, timeout_s, f"an end status of command {cid}", procs)
        return self.end_state(cid)

    def call(self, service: str, timeout_s: float = 10.0) -> Trigger.Response:
        client = self.probe.node.create_client(Trigger, f"/ifgrasp/{self.kind}/{service}")
        self.wait(lambda: client.service_is_ready(), timeout_s, f"service /ifgrasp/{self.kind}/{service}")
        fut = client.call_async(Trigger.Request())
        self.wait(fut.done, timeout_s, f"/ifgrasp/{self.kind}/{service} response")
        return fut.result()

    def joint_status(self, name: str) -> DiagnosticStatus:
        return next(s for s in self.diag.status if s.name == f"ifgrasp/{self.kind}/{name}")


@pytest.fixture
def bus():
    with EmulatedDynamixelBus(range(16)) as b:
        yield b


def test_hand_driver_on_the_emulated_bus(bus, launch, ros_node):
    node = launch("ifgrasp_ros", "hand_driver", {"port": bus.port, "diagnostics_rate_hz": 5.0})
    hand = DeviceProbe(ros_node, "hand", 16)
    hand.wait(lambda: hand.q is not None and hand.diag is not None, 30.0, "hand joint states and diagnostics", [node])
    assert hand.names == list(JOINT_NAMES)  # motor-ID order
    np.testing.assert_allclose(hand.q, bus.positions_rad(), atol=0.01)
    assert hand.diag.status[0].level == DiagnosticStatus.OK, hand.diag.status[0].message
    temps = [float(dict((kv.key, kv.value) for kv in s.values)["temperature_c"]) for s in hand.diag.status[1:]]
    assert temps == [30.0] * 16  # the emulated motors' Present Temperature

    # close on a grasp around an object that stops the closing fingers at 0.35 rad: the motors' goal
    # registers end on the commanded pose, past the object (the squeeze), joint states on the object
    target = np.zeros(16)
    closing = [1, 2, 3, 5, 6, 7]
    target[closing] = 0.5
    for i in closing:
        bus.block(i, 0.35)
    hand.send(1, [0.4], [target])
    assert hand.wait_end(1, 15.0, [node])["state"] == "done"
    np.testing.assert_allclose(bus.goals_rad(), target, atol=2e-3)
    on_object = np.minimum(target, 0.35)
    hand.wait(lambda: np.max(np.abs(hand.q - on_object)) < 0.02, 5.0, "joint states on the object", [node])
    hand.wait(lambda: np.all(bus.currents_ma()[closing] > 300), 5.0, "the fingers squeezing", [node])

    # a stop keeps the squeeze goal and is not repeated every tick (e3ac308 set every goal to the
    # measured position, releasing the squeeze, and stopped again at every 100 Hz tick)
    assert hand.call("stop").success
    packets = bus.packets
    t_end = time.monotonic() + 0.5
    hand.wait(lambda: time.monotonic() > t_end, 2.0, "0.5 s after the stop", [node])
    np.testing.assert_allclose(bus.goals_rad(), target, atol=2e-3)
    assert np.all(bus.currents_ma()[closing] > 300)  # still squeezing
    assert bus.packets - packets < 0.5 * 150  # state reads within the bus budget, no hold re-sent each tick
    for i in closing:  # the object is taken away: the fingers close onto the held goal
        bus.block(i)
    assert hand.call("recover").success
    hand.wait(lambda: np.max(np.abs(hand.q - target)) < 0.02, 5.0, "joint states at the grasp", [node])

    # over-temperature on motor 3: ERROR on its joint and the device, the hand holds its grasp
    bus.set_temperature(3, 70)
    hand.wait(lambda: hand.diag.status[0].level == DiagnosticStatus.ERROR, 5.0, "an ERROR diagnostic", [node])
    bad = [s for s in hand.diag.status[1:] if s.level == DiagnosticStatus.ERROR]
    assert [s.name for s in bad] == [f"ifgrasp/hand/{hand.names[3]}"] and "temperature 70" in bad[0].message
    # holds where it is (the measured pose, which may trail the goal by a few mrad on a loaded machine):
    # nothing opened
    np.testing.assert_allclose(bus.goals_rad(), bus.positions_rad(), atol=0.01)
    np.testing.assert_allclose(bus.goals_rad(), target, atol=0.03)
    bus.set_temperature(3, 30)
    assert hand.call("recover").success
    hand.wait(lambda: hand.diag.status[0].level == DiagnosticStatus.OK, 5.0, "OK after recover", [node])

    # open on request (an empty trajectory)
    hand.send(2, [], [])
    assert hand.wait_end(2, 15.0, [node])["state"] == "done"
    np.testing.assert_allclose(bus.goals_rad(), 0.0, atol=2e-3)

    # two or more points are a move (a pre-shape): streamed, nothing latched, so a later command may
    # open the fingers again without open_hand
    hand.send(3, [0.3, 0.32], [target, target])
    assert hand.wait_end(3, 15.0, [node])["state"] == "done"
    np.testing.assert_allclose(bus.goals_rad(), target, atol=2e-3)
    hand.wait(lambda: np.max(np.abs(hand.q - target)) < 0.02, 5.0, "joint states at the pre-shape", [node])
    hand.send(4, [0.3, 0.32], [0.5 * target, 0.5 * target])
    assert hand.wait_end(4, 15.0, [node])["state"] == "done"
    np.testing.assert_allclose(bus.goals_rad(), 0.5 * target, atol=2e-3)

    # a second program on the same port: refused with one clear line naming the holder. (Last: its
    # open flushes the port, which can cost the running driver one reply -> it faults and holds.)
    other = launch("ifgrasp_ros", "hand_driver", {"port": bus.port}, expect_exit=1)
    assert other.wait(30.0) == 1
    assert "busy" in other.stderr and "hand_driver" in other.stderr and "Traceback" not in other.stderr


def test_hand_driver_missing_motor_exits_naming_it(bus, launch, ros_domain):
    bus.missing_ids = {5, 11}
    node = launch("ifgrasp_ros", "hand_driver", {"port": bus.port}, expect_exit=1)
    assert node.wait(30.0) == 1
    lines = [ln for ln in node.stderr.splitlines() if "error" in ln]
    assert len(lines) == 1 and "IDs [5, 11]" in lines[0], node.stderr


def test_arm_driver_trajectory_stop_holds_and_recover(launch, ros_node):
    node = launch("ifgrasp_ros", "arm_driver", {"emulate": True, "diagnostics_rate_hz": 5.0})
    arm = DeviceProbe(ros_node, "arm", 7)
    arm.wait(lambda: arm.q is not None and arm.diag is not None, 30.0, "arm joint states and diagnostics", [node])
    assert arm.names == [f"joint{i}" for i in range(1, 8)]
    np.testing.assert_allclose(arm.q, READY, atol=1e-6)

    def move(q0, dq1, duration_s, n=31):  # dense: the xArm's safety refuses steps > 0.05 rad
        t = np.linspace(0.0, duration_s, n)
        q = np.tile(q0, (n, 1))
        q[:, 0] += dq1 * t / duration_s
        return t, q

    # a slow motion of joint 1, stopped half way: "stopped", then the arm holds still
    arm.send(1, *move(arm.q, 0.3, 3.0))
    arm.wait(lambda: arm.q[0] > 0.06, 10.0, "joint 1 moving", [node])
    assert arm.call("stop").success
    assert arm.wait_end(1, 5.0, [node])["state"] == "stopped"
    t_settle = time.monotonic() + 0.2
    arm.wait(lambda: time.monotonic() > t_settle, 2.0, "fresh joint states", [node])
    q_a = arm.q.copy()
    t_end = time.monotonic() + 0.6
    arm.wait(lambda: time.monotonic() > t_end, 2.0, "0.6 s of holding", [node])
    np.testing.assert_allclose(arm.q, q_a, atol=1e-6)  # the controller reports float32 joints, still settling
    assert 0.06 < q_a[0] < 0.28
    arm.wait(lambda: arm.diag.status[0].level == DiagnosticStatus.WARN, 5.0, "a WARN (stopped) diagnostic", [node])

    # stopped: a new command is refused until recover
    arm.send(2, *move(arm.q, -0.05, 1.0))
    end = arm.wait_end(2, 5.0, [node])
    assert end["state"] == "error" and "stopped" in end["message"]
    np.testing.assert_allclose(arm.q, q_a, atol=1e-6)

    resp = arm.call("recover")
    assert resp.success, resp.message
    arm.send(3, *move(arm.q, -0.1, 1.0))
    assert arm.wait_end(3, 15.0, [node])["state"] == "done"
    arm.wait(lambda: abs(arm.q[0] - (q_a[0] - 0.1)) < 0.02, 5.0, "joint 1 at the goal", [node])


def test_arm_driver_refuses_an_estopped_controller(launch, ros_domain):
    node = launch("ifgrasp_ros", "arm_driver", {"emulate": True, "emulate_error_code": 1}, expect_exit=1)
    assert node.wait(30.0) == 1
    assert "emergency stop button" in node.stderr.lower() and "Traceback" not in node.stderr


def test_arm_driver_survives_a_lost_link_and_reports_it(launch, ros_node):
    """The controller emulator in this process, the node's real SDK on its ports: pull the cable."""
    from ifgrasp.drivers.emulation.xarm_controller import XArmControllerEmulator

    with XArmControllerEmulator(q0_rad=READY) as emu:
        node = launch("ifgrasp_ros", "arm_driver", {"ip": "127.0.0.1", "command_port": emu.command_port,
                                                   "report_port": emu.report_port, "diagnostics_rate_hz": 5.0})
        arm = DeviceProbe(ros_node, "arm", 7)
        arm.wait(lambda: arm.diag is not None and arm.diag.status[0].level == DiagnosticStatus.OK, 30.0,
                 "arm diagnostics OK", [node])
        emu.drop_link()
        arm.wait(lambda: arm.diag.status[0].level == DiagnosticStatus.ERROR, 10.0, "an ERROR diagnostic", [node])
        assert "lost the link to the xArm controller at 127.0.0.1" in arm.diag.status[0].message
        time.sleep(1.0)
        assert node.proc.poll() is None  # alive, holding, reporting
        arm.send(1, *(np.array([0.0, 1.0]), np.stack([READY, READY])))
        assert arm.wait_end(1, 5.0, [node])["state"] == "error"
        emu.restore_link()  # cable back: /recover reconnects
        resp = arm.call("recover", 30.0)
        assert resp.success, resp.message
        arm.wait(lambda: arm.diag.status[0].level == DiagnosticStatus.OK, 10.0, "OK after recover", [node])
        target = READY.copy()
        target[0] += 0.05
        arm.send(2, np.array([0.0, 1.0]), np.stack([READY, target]))
        assert arm.wait_end(2, 15.0, [node])["state"] == "done"
        assert abs(emu.q[0] - target[0]) < 0.01
