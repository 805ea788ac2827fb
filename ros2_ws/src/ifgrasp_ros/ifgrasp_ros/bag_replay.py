"""``bag_replay``: publish a rosbag2 bag's messages with their recorded timing, for machines
without ``ros2 bag play``.

Each recorded CDR message is turned into an rclpy message with
``rclpy.serialization.deserialize_message`` and published (no conversion through Python types of
our own). Publishing the raw bytes directly (``Publisher.publish(bytes)``) was tried and loses
messages here when several topics interleave (Jazzy wheels, Fast DDS), so it is not used.

Parameters (defaults in config/bag_replay.yaml):
    bag_path (str)          bag directory (required)
    rate (float)            playback speed factor, 1.0 = recorded timing
    loop (bool)             start again after the last message
    topics (str[])          topics to play; empty = all
    wait_for_subscribers_s (float)  before the first message, wait until every waited-for topic has a
                            matched subscriber, at most this long (then play anyway, warning which
                            topics have none); 0 = do not wait
    wait_topics (str[])     the topics waited for (those of them in the bag; none in the bag: every
                            played topic): by default the ones the perception node reads, so a
                            CameraInfo nobody subscribes to does not hold the start back
    start_delay_s (float)   extra fixed wait before the first message (after the wait above)
    qos_depth (int)         publisher queue depth (reliable, volatile)

Message types this machine cannot import (a robot's bag: ``tf2_msgs/msg/TFMessage`` on
``/tf_static``, RealSense ``realsense2_camera_msgs/msg/Extrinsics``) are skipped, with one warning
naming them.

Volatile publishers drop what they publish before a subscriber is matched, so without the wait a
replay that starts with its subscribers (a test, a launch file) can lose the first messages, or all
of a short bag, when discovery is slow (a loaded machine).

    install/ifgrasp_ros/lib/ifgrasp_ros/bag_replay --ros-args -p bag_path:=out/bags/demo -p rate:=2.0
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.serialization import deserialize_message

from ifgrasp.errors import ConfigError, InputError
from ifgrasp.io.bags import bag_topics, read_bag

from ifgrasp_ros.node_main import run_node


def message_class(msgtype: str) -> type:
    """rclpy message class of ``pkg/msg/Name``."""
    try:
        pkg, kind, name = msgtype.split("/")
        return getattr(importlib.import_module(f"{pkg}.{kind}"), name)
    except (ValueError, ImportError, AttributeError) as exc:
        raise InputError(f"message type '{msgtype}' is not importable here ({exc})") from exc


class BagReplayNode(Node):
    """Publishes a bag from one executor timer, re-armed for each message's scheduled wall time.

    Every publish happens on the executor's thread, as in the other nodes: a worker thread of our own
    would still be inside ``publish`` when Ctrl-C's handler shuts the context down under it (a replay
    stopped that way once exited with SIGSEGV instead of 0)."""

    POLL_S = 0.02  # while waiting for subscribers
    MAX_SLEEP_S = 0.1  # longest single timer period: a long gap in the bag is waited in steps

    def __init__(self) -> None:
        super().__init__("bag_replay")
        self.bag_path = Path(self.declare_parameter("bag_path", "").value)
        self.rate = float(self.declare_parameter("rate", 1.0).value)
        self.loop = bool(self.declare_parameter("loop", False).value)
        topics = list(self.declare_parameter("topics", [""]).value)
        self.wait_for_subscribers_s = float(self.declare_parameter("wait_for_subscribers_s", 10.0).value)
        wait_topics = [t for t in self.declare_parameter("wait_topics", [""]).value if t]
        self.start_delay_s = float(self.declare_parameter("start_delay_s", 0.0).value)
        depth = int(self.declare_parameter("qos_depth", 10).value)
        if not str(self.bag_path) or str(self.bag_path) == ".":
            raise ConfigError("parameter 'bag_path' is required (a rosbag2 directory)")
        if not self.bag_path.exists():
            raise InputError(f"no bag at '{self.bag_path}'")
        if self.wait_for_subscribers_s < 0.0 or self.start_delay_s < 0.0:
            raise ConfigError("parameters 'wait_for_subscribers_s' and 'start_delay_s' must be >= 0 s, got "
                              f"{self.wait_for_subscribers_s} and {self.start_delay_s}")
        if self.rate <= 0.0:
            raise ConfigError(f"parameter 'rate' must be > 0, got {self.rate}")
        available = bag_topics(self.bag_path)
        wanted = [t for t in topics if t]
        unknown = sorted(set(wanted) - set(available))
        if unknown:
            raise ConfigError(f"topics {unknown} are not in the bag; it has: {', '.join(sorted(available))}")
        self._types, skipped = {}, []
        for t in wanted or sorted(available):
            try:
                self._types[t] = message_class(available[t])
            except InputError:
                skipped.append(f"{t} ({available[t]})")
        if skipped:
            self.get_logger().warning(f"skipping {len(skipped)} topics whose message types do not import here: "
                                      f"{', '.join(skipped)}")
        if not self._types:
            raise InputError(f"no topic of {self.bag_path} has a message type that imports here")
        self.topics = sorted(self._types)
        self.wait_topics = [t for t in wait_topics if t in self._types] or list(self.topics)
        self._pubs = {t: self.create_publisher(cls, t, QoSProfile(depth=depth))
                      for t, cls in self._types.items()}
        self.published = 0
        self._messages = None  # the current pass's iterator over the bag
        self._next = None  # the next message to publish (topic, stamp_ns, raw)
        self._t0_wall = self._t0_bag = None  # monotonic s and bag ns of the pass's first message
        self._wait_deadline = time.monotonic() + self.wait_for_subscribers_s
        self._start_at = None  # monotonic s when playing begins (after the waits)
        self._timer = self.create_timer(self.POLL_S, self._tick)
        self.get_logger().info(
            f"replaying {self.bag_path} ({len(self.topics)} topics) at rate {self.rate}"
            + (", looping" if self.loop else ""))

    def missing_subscribers(self) -> list[str]:
        """Waited-for topics without a matched subscriber."""
        return [t for t in self.wait_topics if self._pubs[t].get_subscription_count() == 0]

    def _rearm(self, delay_s: float) -> None:
        self._timer.timer_period_ns = int(min(max(delay_s, 1e-4), self.MAX_SLEEP_S) * 1e9)
        self._timer.reset()

    def _tick(self) -> None:
        try:
            self._step()
        except Exception as exc:  # noqa: BLE001 - a bad message ends the replay with one line, not a traceback
            self._timer.cancel()
            self.get_logger().error(f"replay stopped: {type(exc).__name__}: {exc}")

    def _step(self) -> None:
        now = time.monotonic()
        if self._start_at is None:  # waiting for subscribers
            missing = self.missing_subscribers() if self.wait_for_subscribers_s > 0.0 else []
            if missing and now < self._wait_deadline:
                return
            if missing:
                self.get_logger().warning(f"no subscriber after {self.wait_for_subscribers_s} s on "
                                          f"{', '.join(missing)}; playing anyway")
            self._start_at = now + self.start_delay_s
        if now < self._start_at:
            self._rearm(self._start_at - now)
            return
        while True:
            if self._next is None and not self._advance():
                self._timer.cancel()
                self.get_logger().info(f"bag finished: {self.published} messages published")
                return
            topic, stamp_ns, raw = self._next
            if self._t0_bag is None:
                self._t0_wall, self._t0_bag = time.monotonic(), stamp_ns
            wait_s = self._t0_wall + (stamp_ns - self._t0_bag) * 1e-9 / self.rate - time.monotonic()
            if wait_s > 0.0:
                self._rearm(wait_s)
                return
            self._pubs[topic].publish(deserialize_message(raw, self._types[topic]))
            self.published += 1
            self._next = None

    def _advance(self) -> bool:
        """Load the next message into ``self._next``; at the bag's end start a new pass when looping.
        Returns False when there is nothing more to play."""
        for _ in range(2):
            if self._messages is None:
                self._messages = read_bag(self.bag_path, self.topics)
                self._t0_wall = self._t0_bag = None
            self._next = next(self._messages, None)
            if self._next is not None:
                return True
            self._messages = None
            if not self.loop:
                return False
        return False  # looping over a bag without messages on the played topics

    def destroy_node(self) -> None:
        if self._messages is not None:
            self._messages.close()  # closes the bag reader
        super().destroy_node()


def main(args=None) -> int:
    return run_node(BagReplayNode, args, default_params="bag_replay.yaml")


if __name__ == "__main__":
    raise SystemExit(main())
