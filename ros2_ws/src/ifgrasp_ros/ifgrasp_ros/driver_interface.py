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
command actually sent after the safety layer.
"""

from __future__ import annotations

import json

import numpy as np
from rclpy.node import Node
from std_msgs.msg import String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

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
    """Streams commands to one ``JointDriver`` (arm or hand) on behalf of ``node``."""

    def __init__(self, node: Node, driver, prefix: str, kind: str, rate_hz: float, lock=None) -> None:
        self.node, self.driver, self.kind, self.lock = node, driver, kind, lock
        self.pub = node.create_publisher(String, f"{prefix}/status", 10)
        node.create_subscription(JointTrajectory, f"{prefix}/joint_trajectory", self._on_command, 10)
        node.create_service(Trigger, f"{prefix}/stop", self._on_stop)
        node.create_service(Trigger, f"{prefix}/recover", self._on_recover)
        self.active: dict | None = None  # {"id", "t", "q", "t0"} (arm) or {"id", "target", ...} (hand)
        self.hold_target: np.ndarray | None = None  # hand: grasp re-sent every tick (watchdog)
        self.period_s = 1.0 / rate_hz
        node.create_timer(1.0 / rate_hz, self._tick)

    def _status(self, cid: int, state: str, message: str = "") -> None:
        self.pub.publish(String(data=json.dumps({"id": cid, "state": state, "message": message})))

    def _on_command(self, msg: JointTrajectory) -> None:
        cid = command_id(msg)
        if self.active is not None:
            self._status(self.active["id"], "stopped", "replaced by a new command")
        try:
            t, q = trajectory_arrays(msg)
            now = self.driver.clock()
            if self.kind == "arm":
                t, q = self.driver.safety.check_trajectory(t, q, self.driver.read_state().position_rad)
                self.active = {"id": cid, "t": t, "q": q, "t0": now, "s": 0.0, "tick": now}
            elif len(q) == 0:  # open the hand
                self.hold_target = None
                self.active = {"id": cid, "open": True, "t0": now}
            else:
                self.hold_target = None
                # steps start where the safety layer measures jumps from (not the measured fingers,
                # which lag the last command): the first step is never refused
                q0 = self.driver.safety.reference(self.driver.read_state().position_rad, now)
                latch = len(q) == 1
                if latch:
                    t = np.array([max(float(t[-1]), 0.3)])
                self.active = {"id": cid, "open": False, "latch": latch, "t": np.concatenate([[0.0], t]),
                               "q": np.vstack([q0, q]), "target": q[-1], "t0": now}
            self._status(cid, "running")
        except IfgraspError as exc:
            self.active = None
            self._status(cid, "error", str(exc))

    def _tick(self) -> None:
        try:
            if self.lock is not None:
                with self.lock:
                    self._step()
            else:
                self._step()
        except IfgraspError as exc:
            if self.active is not None:
                self._status(self.active["id"], "error", str(exc))
            self.active = None
            self.driver.stop()

    def _step(self) -> None:
        d, a = self.driver, self.active
        now = d.clock()
        if a is None:
            if self.hold_target is not None:
                # re-send the grasp at most one safe step from the safety reference: fingers blocked
                # by the object sit short of a squeezed target, and a full jump would be refused
                q_ref = d.safety.reference(d.read_state().position_rad, now)
                step = 0.8 * d.safety.config.max_step_rad
                d.grasp(q_ref + np.clip(self.hold_target - q_ref, -step, step))
            else:
                d.check_watchdog()
            return
        s = now - a["t0"]
        if self.kind == "arm":
            # trajectory time follows the clock, but after a stall (a slow render, a busy CPU) it
            # advances only as far as one command may jump: the arm slows down instead of jumping
            t, q = a["t"], a["q"]
            last = a.get("last", q[0])
            elapsed = now - a["tick"]
            desired = np.array([np.interp(a["s"] + elapsed, t, q[:, j]) for j in range(q.shape[1])])
            jump = np.max(np.abs(desired - last))
            limit = 0.8 * d.safety.config.max_step_rad
            a["s"] += elapsed * min(1.0, limit / jump) if jump > 0 else elapsed
            a["tick"], s = now, a["s"]
            a["last"] = np.array([np.interp(s, t, q[:, j]) for j in range(q.shape[1])])
            # a stall past the watchdog makes the safety layer measure jumps from the measured arm,
            # which lags the last command: step from there instead of being refused
            ref = d.safety.reference(d.read_state().position_rad, now)
            a["last"] = ref + np.clip(a["last"] - ref, -limit, limit)
            d.send_command(a["last"])
            if now - a.get("beat", a["t0"]) > 0.5:  # heartbeat: the commander knows the driver is alive
                a["beat"] = now
                self._status(a["id"], "running", f"t = {s:.2f} of {t[-1]:.2f} s")
            if s >= t[-1] and np.max(np.abs(d.read_state().position_rad - q[-1])) < 0.02:
                self.active = None
                self._status(a["id"], "done")
        elif a["open"]:
            sent = d.open_hand()
            if np.max(np.abs(sent - d.q_open_rad)) < 1e-3:
                self.active = None
                self._status(a["id"], "done")
        else:
            t, q = a["t"], a["q"]
            desired = np.array([np.interp(s, t, q[:, j]) for j in range(q.shape[1])])
            step = 0.8 * d.safety.config.max_step_rad  # never a jump the safety layer refuses after a stall
            # from the safety layer's own reference: after a stall it is the measured fingers, which
            # the object keeps short of the previous command
            ref = d.safety.reference(d.read_state().position_rad, now)
            a["last"] = ref + np.clip(desired - ref, -step, step)
            done = np.max(np.abs(a["last"] - a["target"])) < 1e-9
            d.grasp(a["last"]) if done and a["latch"] else d.send_command(a["last"])  # latch only a final grasp
            if done:
                self.hold_target = a["target"] if a["latch"] else None
                self.active = None
                self._status(a["id"], "done")

    def _on_stop(self, _req, resp):
        if self.active is not None:
            self._status(self.active["id"], "stopped", "stop requested")
        self.active = None
        if self.lock is not None:
            with self.lock:
                self.driver.stop()
                self.driver.enable() if self.driver.fault is None else None
        else:
            self.driver.stop()
        resp.success, resp.message = True, f"{self.kind} stopped, holding its measured position"
        return resp

    def _on_recover(self, _req, resp):
        try:
            self.driver.recover()
            resp.success, resp.message = True, f"{self.kind} recovered"
        except IfgraspError as exc:
            resp.success, resp.message = False, str(exc)
        return resp
