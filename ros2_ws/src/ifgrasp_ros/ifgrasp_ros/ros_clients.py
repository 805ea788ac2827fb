"""What the commander's pipeline needs from the rest of the graph, over ROS, every wait bounded:
camera frames (``CameraCache.get_frame``), arm joints (``/joint_states``), and arm/hand driver
clients with the in-process drivers' methods (``execute_trajectory``; ``open``/``close``/``hold``).
A timeout raises an ``IfgraspError`` naming the topic or node waited on.
"""

from __future__ import annotations

import json
import re
import threading
import time

from types import SimpleNamespace

import numpy as np
from builtin_interfaces.msg import Duration
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from ifgrasp.errors import DriverError
from ifgrasp.hand.joints import CLOSE_S
from ifgrasp.pipeline.errors import NoCameraDataError, StageFailedError, StageTimeoutError
from ifgrasp.types import RGBDFrame

from ifgrasp_ros.conversions import array_from_image, depth_m_from_image, intrinsics_from_camera_info, rgb_from_image


HAND_MOVE_S = 10.0
"""A hand move (open, pre-shape, close) may take this long after the driver said "running" (s):
0.4 s at 100 Hz ticks, but a sim_world starved of CPU ticks at a few Hz."""
_HEARTBEAT = re.compile(r"t = ([0-9.]+) of")


def ros_remedy(prefix: str, message: str) -> str:
    """A driver's message with its Python remedies ("call recover()") replaced by the ROS service
    that does it over the driver node (``<prefix>/recover``, std_srvs/Trigger)."""
    service = f"call the {prefix}/recover service (std_srvs/Trigger, e.g. `ifgrasp ask --recover`)"
    message = message.replace("call enable() (arm: recover()) first", service + " first")
    message = message.replace("call recover() first", service + " first").replace("call recover()", service)
    return message.replace("call open_hand() to release", 'send "let go" (or call /ifgrasp/release) to release')


def _stamp(msg) -> tuple[int, int]:
    return (msg.header.stamp.sec, msg.header.stamp.nanosec)


class CameraCache:
    """Latest colour, aligned depth, CameraInfo (and oracle label images), matched by stamp like
    message_filters' ApproximateTime: a frame is the newest colour image with, on every other
    topic, a message stamped within ``slop_s`` of it. ``qos`` for the image subscriptions (default
    sensor data: best effort, which hears both a reliable and a best-effort camera driver)."""

    def __init__(self, node: Node, topics: dict[str, str], T_base_camera: np.ndarray, labels: bool, group=None,
                 slop_s: float = 0.02, qos: QoSProfile | None = None) -> None:
        self.topics, self.T, self.labels, self.slop_ns = topics, T_base_camera, labels, int(round(slop_s * 1e9))
        self._msgs: dict[str, dict] = {k: {} for k in ("color", "depth", "info", "objects", "parts")}
        self._cv = threading.Condition()
        self.label_names: list[dict] | None = None
        kinds = {"color": Image, "depth": Image, "info": CameraInfo, "objects": Image, "parts": Image}
        qos = qos if qos is not None else qos_profile_sensor_data
        for key, msg_type in kinds.items():
            if key in ("objects", "parts") and not labels:
                continue
            node.create_subscription(msg_type, topics[key], lambda m, k=key: self._on(k, m), qos, callback_group=group)
        if labels:
            latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
            node.create_subscription(String, topics["names"], self._on_names, latched, callback_group=group)

    def _on(self, key: str, msg) -> None:
        with self._cv:
            d = self._msgs[key]
            d[_stamp(msg)] = msg
            while len(d) > 4:
                d.pop(next(iter(d)))
            self._cv.notify_all()

    def _on_names(self, msg: String) -> None:
        with self._cv:
            self.label_names = json.loads(msg.data)["objects"]
            self._cv.notify_all()

    def _complete(self, after: tuple[int, int]):
        keys = ["color", "depth", "info"] + (["objects", "parts"] if self.labels else [])
        if self.labels and self.label_names is None:
            return None
        ns = lambda st: st[0] * 1_000_000_000 + st[1]  # noqa: E731
        others = {k: np.array([ns(st) for st in self._msgs[k]], np.int64) for k in keys[1:]}
        for st in sorted(self._msgs["color"], reverse=True):
            if st < after:
                break
            t = ns(st)
            got = {"color": self._msgs["color"][st]}
            for k in keys[1:]:
                if not len(others[k]):
                    return None
                i = int(np.argmin(np.abs(others[k] - t)))
                if abs(int(others[k][i]) - t) > self.slop_ns:
                    break
                got[k] = list(self._msgs[k].values())[i]
            else:
                return got
        return None

    def get_frame(self, timeout_s: float, after: tuple[int, int] = (0, 0)) -> RGBDFrame:
        """A frame whose topics share one stamp (>= ``after``); ``NoCameraDataError`` names the
        topics that sent nothing in ``timeout_s``."""
        return self.get_stamped_frame(timeout_s, after)[0]

    def get_stamped_frame(self, timeout_s: float, after: tuple[int, int] = (0, 0)):
        """``get_frame`` and the frame's exact header stamp (builtin_interfaces/Time; ``stamp_s`` as a
        float loses the nanoseconds), for stamping what is derived from it."""
        with self._cv:
            got = self._cv.wait_for(lambda: self._complete(after), timeout=timeout_s)
            if not got:
                keys = ["color", "depth", "info"] + (["objects", "parts"] if self.labels else [])
                silent = [self.topics[k] for k in keys if not self._msgs[k]]
                if self.labels and self.label_names is None:
                    silent.append(self.topics["names"])
                what = ", ".join(silent) if silent else (
                    f"stamps within {self.slop_ns / 1e6:.0f} ms (parameter sync_slop_s) on "
                    + ", ".join(self.topics[k] for k in keys))
                raise NoCameraDataError(f"no camera data within {timeout_s:.1f} s: nothing on {what}",
                                        silent[0] if silent else "")
        k = intrinsics_from_camera_info(got["info"])
        objs = array_from_image(got["objects"]).astype(np.int32) if self.labels else None
        parts = array_from_image(got["parts"]).astype(np.int32) if self.labels else None
        stamp = got["color"].header.stamp
        return RGBDFrame(rgb_from_image(got["color"]), depth_m_from_image(got["depth"]), k, self.T,
                         stamp.sec + stamp.nanosec * 1e-9, object_ids=objs, part_ids=parts), stamp


class JointStateCache:
    """Latest ``/joint_states`` positions of named joints."""

    def __init__(self, node: Node, names: list[str], topic: str = "/joint_states", group=None) -> None:
        self.names, self.topic = list(names), topic
        self.q: np.ndarray | None = None
        self.v: np.ndarray | None = None
        self.effort: np.ndarray | None = None  # (J,) when the publisher sends efforts, else None
        self.stamp = 0.0
        node.create_subscription(JointState, topic, self._on, 10, callback_group=group)

    def _on(self, msg: JointState) -> None:
        idx = {n: i for i, n in enumerate(msg.name)}
        if all(n in idx for n in self.names):
            sel = [idx[n] for n in self.names]
            self.q = np.asarray(msg.position)[sel]
            self.v = np.asarray(msg.velocity)[sel] if len(msg.velocity) else np.zeros(len(sel))
            self.effort = np.asarray(msg.effort)[sel] if len(msg.effort) == len(msg.name) else None
            self.stamp = time.monotonic()

    def get(self, timeout_s: float = 2.0) -> np.ndarray:
        deadline = time.monotonic() + timeout_s
        while self.q is None or time.monotonic() - self.stamp > timeout_s:
            if time.monotonic() > deadline:
                raise StageTimeoutError(f"no fresh {self.topic} with joints {self.names[0]}..{self.names[-1]} "
                                        f"within {timeout_s} s (is the arm driver running?)", self.topic)
            time.sleep(0.01)
        return self.q.copy()


class DriverClient:
    """Sends commands to a driver node (``ifgrasp_ros.driver_interface``) and waits on its status."""

    def __init__(self, node: Node, prefix: str, joint_names: list[str], group=None, status_timeout_s: float = 3.0) -> None:
        self.node, self.prefix, self.joint_names, self.status_timeout_s = node, prefix, list(joint_names), status_timeout_s
        self.pub = node.create_publisher(JointTrajectory, f"{prefix}/joint_trajectory", 10)
        node.create_subscription(String, f"{prefix}/status", self._on_status, 10, callback_group=group)
        self.stop_client = node.create_client(Trigger, f"{prefix}/stop", callback_group=group)
        self._status: dict[int, list[dict]] = {}
        self._cv = threading.Condition()

    def _on_status(self, msg: String) -> None:
        s = json.loads(msg.data)
        with self._cv:
            self._status.setdefault(int(s["id"]), []).append(s)
            self._cv.notify_all()

    def send(self, times_s: np.ndarray, q: np.ndarray) -> int:
        if self.pub.get_subscription_count() == 0:
            raise StageFailedError(f"no driver subscribed to {self.prefix}/joint_trajectory (is the driver node running?)")
        msg = JointTrajectory(joint_names=self.joint_names)
        msg.header.stamp = self.node.get_clock().now().to_msg()
        for t, qi in zip(times_s, q):
            sec = int(np.floor(t))
            msg.points.append(JointTrajectoryPoint(positions=[float(x) for x in qi],
                                                   time_from_start=Duration(sec=sec, nanosec=int((t - sec) * 1e9))))
        cid = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.pub.publish(msg)
        return cid

    def wait(self, cid: int, states: tuple[str, ...], timeout_s: float, should_cancel=None,
             on_status=None) -> dict | None:
        """The first status of ``cid`` in ``states``; None when cancelled (the driver is then stopped).
        ``timeout_s`` runs from the last status heard for ``cid`` (drivers send a heartbeat while
        streaming), so a long motion never times out but a dead driver does."""
        deadline = time.monotonic() + timeout_s
        heard = 0
        with self._cv:
            while True:
                got = self._status.get(cid, [])
                hit = next((s for s in got if s["state"] in states), None)
                if hit is not None:
                    return hit
                if len(got) > heard:
                    new, heard, deadline = got[heard:], len(got), time.monotonic() + timeout_s
                    if on_status is not None:  # outside the lock: the callback may wait on other clients
                        self._cv.release()
                        try:
                            for st in new:
                                on_status(st)
                        finally:
                            self._cv.acquire()
                if should_cancel is not None and should_cancel():
                    break
                if time.monotonic() > deadline:
                    raise StageFailedError(f"the driver on {self.prefix} stopped answering: no status on "
                                           f"{self.prefix}/status within {timeout_s:.1f} s (node down?)")
                self._cv.wait(0.02)
        self.stop()
        return None

    def stop(self, timeout_s: float = 2.0) -> None:
        if not self.stop_client.wait_for_service(timeout_sec=timeout_s):
            raise StageFailedError(f"service {self.prefix}/stop not available within {timeout_s} s")
        fut = self.stop_client.call_async(Trigger.Request())
        deadline = time.monotonic() + timeout_s
        while not fut.done():
            if time.monotonic() > deadline:
                raise StageFailedError(f"service {self.prefix}/stop did not answer within {timeout_s} s")
            time.sleep(0.01)

    def run(self, times_s, q, timeout_s: float, should_cancel=None, on_running=None) -> bool:
        cid = self.send(np.asarray(times_s), np.asarray(q))
        first = self.wait(cid, ("running", "error"), self.status_timeout_s, should_cancel)
        if first is None:
            return False
        if first["state"] == "error":
            raise DriverError(f"{self.prefix} refused the command: {ros_remedy(self.prefix, first['message'])}")
        if on_running is not None:
            on_running(None)

        def heartbeat(st: dict) -> None:  # the driver's "t = 1.25 of 4.10 s": trajectory time for feedback
            m = _HEARTBEAT.match(st.get("message", ""))
            if on_running is not None and m:
                on_running(SimpleNamespace(time_s=float(m.group(1))))

        end = self.wait(cid, ("done", "stopped", "error"), self.status_timeout_s + timeout_s, should_cancel, heartbeat)
        if end is None or end["state"] == "stopped":
            return False
        if end["state"] == "error":
            raise DriverError(f"{self.prefix}: {ros_remedy(self.prefix, end['message'])}")
        return True


class ArmClient(DriverClient):
    """``execute_trajectory`` like ``ifgrasp.drivers.ArmDriver``, over the driver node."""

    def execute_trajectory(self, times_s, q, feedback_cb=None, should_cancel=None) -> bool:
        return self.run(times_s, q, 1.0, should_cancel, feedback_cb)


class HandClient(DriverClient):
    """``open`` / ``preshape`` / ``close`` / ``hold`` like ``ifgrasp.pipeline.HandActions``; the
    driver node keeps re-sending a closed grasp itself, so ``hold`` has nothing to do."""

    close_time_s = CLOSE_S

    def open(self, should_cancel) -> None:
        self.run(np.zeros(0), np.zeros((0, 16)), HAND_MOVE_S, should_cancel)

    def preshape(self, q_target, should_cancel) -> None:
        """A move reaching ``q_target`` in ``close_time_s`` (sent as two points, so the driver latches
        nothing: the second only repeats the target)."""
        q = np.asarray(q_target, dtype=float)
        self.run(np.array([self.close_time_s, self.close_time_s + 0.02]), np.stack([q, q]), HAND_MOVE_S, should_cancel)

    def preshape_steps(self, q_target, should_cancel):
        """The pre-shape as an iterator (like ``HandActions.preshape_steps``): the first ``next``
        sends the move, the driver streams it meanwhile, and running the iterator out waits for it."""
        q = np.asarray(q_target, dtype=float)
        return self._steps(np.array([self.close_time_s, self.close_time_s + 0.02]), np.stack([q, q]), should_cancel,
                           "pre-shape")

    def open_steps(self, should_cancel):
        """The hand's opening as an iterator (like ``HandActions.open_steps``)."""
        return self._steps(np.zeros(0), np.zeros((0, 16)), should_cancel, "opening")

    def _steps(self, times_s, q, should_cancel, what: str):
        cid = self.send(times_s, q)
        deadline = time.monotonic() + self.status_timeout_s + HAND_MOVE_S
        while True:  # never blocks: each ``next`` only looks at the statuses heard so far
            with self._cv:
                end = next((st for st in self._status.get(cid, []) if st["state"] in ("done", "stopped", "error")),
                           None)
            if end is not None:
                if end["state"] == "error":
                    raise DriverError(f"{self.prefix}: {ros_remedy(self.prefix, end['message'])}")
                return
            if should_cancel():
                self.stop()
                return
            if time.monotonic() > deadline:
                raise StageFailedError(f"the driver on {self.prefix} did not finish the {what} within "
                                       f"{self.status_timeout_s + HAND_MOVE_S:.1f} s (node down?)")
            yield

    def close(self, q_target, should_cancel) -> None:
        self.run(np.array([self.close_time_s]), np.asarray(q_target)[None], HAND_MOVE_S, should_cancel)

    def hold(self, q_target) -> None:
        pass
