"""The driver interface every arm/hand driver node offers, whatever the backend (sim, xarm, leap).

Arm (prefix ``/ifgrasp/arm``), hand (``/ifgrasp/hand``):
    <prefix>/joint_trajectory  trajectory_msgs/JointTrajectory in: stream it (arm: the whole
                               trajectory, validated first; hand: no points = open, one point =
                               a grasp: close to it and hold it, latched; two or more points = a
                               move such as a pre-shape: streamed, nothing latched).
                               header.stamp is the command's id.
    <prefix>/status            std_msgs/String out, JSON {"id", "state": running|done|stopped|error,
                               "message"}: one "running" when streaming starts, one end state.
    <prefix>/stop, <prefix>/recover   std_srvs/Trigger: stop and hold (any state); clear faults.
The node streams at ``rate_hz`` from a timer of its own executor (one thread: no races on the
device or the MuJoCo data) and republishes nothing it did not send: ``send_command`` returns the
command actually sent after the safety layer. The streaming (trajectory time after a stall, the
hand's latch and hold, the safe-step clip) is ``ifgrasp.drivers.streaming``, shared with the
in-process pipeline: a stop keeps a latched grasp's squeeze goal and is not repeated every tick.
"""

from __future__ import annotations

import json

import numpy as np
from rclpy.node import Node
from std_msgs.msg import String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from ifgrasp.drivers.streaming import HandStream, TrajectoryStream
from ifgrasp.errors import IfgraspError


def command_id(msg: JointTrajectory) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def trajectory_arrays(msg: JointTrajectory) -> tuple[np.ndarray, np.ndarray]:
    """``times_s`` (T,) and ``q`` (T, J) of a JointTrajectory message."""
    if not msg.points:
        return np.zeros(0), np.zeros((0, len(msg.joint_names)))
    t = np.array([p.time_from_start.sec + 1e-9 * p.time_from_start.nanosec for p in msg.points])
    q = np.array([list(p.positions) for p in msg.points], dtype=float).reshape(len(msg.points), -1)
    return t, q


class DriverEndpoint:
    """Streams commands to one ``JointDriver`` (arm or hand) on behalf of ``node``: the streaming itself
    is ``ifgrasp.drivers.streaming`` (``TrajectoryStream`` for the arm, ``HandStream`` for the hand),
    this class only maps messages, timers and services onto it."""

    def __init__(self, node: Node, driver, prefix: str, kind: str, rate_hz: float, lock=None) -> None:
        self.node, self.driver, self.kind, self.lock = node, driver, kind, lock
        self.pub = node.create_publisher(String, f"{prefix}/status", 10)
        node.create_subscription(JointTrajectory, f"{prefix}/joint_trajectory", self._on_command, 10)
        node.create_service(Trigger, f"{prefix}/stop", self._on_stop)
        node.create_service(Trigger, f"{prefix}/recover", self._on_recover)
        self.active: dict | None = None  # {"id", "t0", "beat"} of the running command
        self.arm: TrajectoryStream | None = None
        self.hand = HandStream(driver) if kind == "hand" else None
        self.period_s = 1.0 / rate_hz
        node.create_timer(1.0 / rate_hz, self._tick)

    def _status(self, cid: int, state: str, message: str = "") -> None:
        self.pub.publish(String(data=json.dumps({"id": cid, "state": state, "message": message})))

    def _locked(self, fn):
        if self.lock is None:
            return fn()
        with self.lock:
            return fn()

    def _on_command(self, msg: JointTrajectory) -> None:
        cid = command_id(msg)
        if self.active is not None:
            self._status(self.active["id"], "stopped", "replaced by a new command")
            self.active = None
        try:
            t, q = trajectory_arrays(msg)
            if self.kind == "arm":
                self.arm = self._locked(lambda: TrajectoryStream(self.driver, t, q))
            else:
                self._locked(lambda: self.hand.start(t, q))
            now = self.driver.clock()
            self.active = {"id": cid, "t0": now, "beat": now}
            self._status(cid, "running")
        except IfgraspError as exc:
            self._status(cid, "error", str(exc))

    def _tick(self) -> None:
        try:
            self._locked(self._step)
        except IfgraspError as exc:
            if self.active is not None:
                self._status(self.active["id"], "error", str(exc))
            self.active = None
            if self.hand is not None:
                self.hand.cancel()
            self.driver.stop()

    def _step(self) -> None:
        a = self.active
        if a is None:
            self.hand.tick() if self.hand is not None else self.driver.check_watchdog()
            return
        now = self.driver.clock()
        if self.arm is not None and self.kind == "arm":
            fb = self.arm.step()
            if now - a["beat"] > 0.5:  # heartbeat: the commander knows the driver is alive
                a["beat"] = now
                self._status(a["id"], "running", f"t = {fb.time_s:.2f} of {self.arm.t[-1]:.2f} s")
            done = self.arm.settled()  # DriverError after 2 s held off: reported, the arm stops
        else:
            done = self.hand.tick() == "done"
        if done:
            self.active = None
            self._status(a["id"], "done")

    def _on_stop(self, _req, resp):
        if self.active is not None:
            self._status(self.active["id"], "stopped", "stop requested")
        self.active = None
        if self.hand is not None:
            self.hand.cancel()  # a latched grasp stays latched: the stop keeps its squeeze goal

        def stop():
            self.driver.stop()
            if self.lock is not None and self.driver.fault is None:
                self.driver.enable()

        self._locked(stop)
        resp.success, resp.message = True, f"{self.kind} stopped, holding"
        return resp

    def _on_recover(self, _req, resp):
        try:
            self._locked(self.driver.recover)
            resp.success, resp.message = True, f"{self.kind} recovered"
        except IfgraspError as exc:
            resp.success, resp.message = False, str(exc)
        return resp
