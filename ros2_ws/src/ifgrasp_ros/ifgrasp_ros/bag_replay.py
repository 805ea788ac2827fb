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
    wait_for_subscribers_s (float)  before the first message, wait until every played topic has a
                            matched subscriber, at most this long (then play anyway, warning which
                            topics have none); 0 = do not wait
    start_delay_s (float)   extra fixed wait before the first message (after the wait above)
    qos_depth (int)         publisher queue depth (reliable, volatile)

Volatile publishers drop what they publish before a subscriber is matched, so without the wait a
replay that starts with its subscribers (a test, a launch file) can lose the first messages, or all
of a short bag, when discovery is slow (a loaded machine).

    install/ifgrasp_ros/lib/ifgrasp_ros/bag_replay --ros-args -p bag_path:=out/bags/demo -p rate:=2.0
"""

from __future__ import annotations

import importlib
import threading
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
    """Publishes a bag on a worker thread that sleeps until each message's scheduled wall time."""

    def __init__(self) -> None:
        super().__init__("bag_replay")
        self.bag_path = Path(self.declare_parameter("bag_path", "").value)
        self.rate = float(self.declare_parameter("rate", 1.0).value)
        self.loop = bool(self.declare_parameter("loop", False).value)
        topics = list(self.declare_parameter("topics", [""]).value)
        self.wait_for_subscribers_s = float(self.declare_parameter("wait_for_subscribers_s", 10.0).value)
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
        self.topics = wanted or sorted(available)
        self._types = {t: message_class(available[t]) for t in self.topics}
        self._pubs = {t: self.create_publisher(cls, t, QoSProfile(depth=depth))
                      for t, cls in self._types.items()}
        self.published = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, name="bag_replay", daemon=True)
        self._thread.start()
        self.get_logger().info(
            f"replaying {self.bag_path} ({len(self.topics)} topics) at rate {self.rate}"
            + (", looping" if self.loop else ""))

    def _play(self) -> None:
        try:
            self._play_loop()
        except Exception as exc:  # noqa: BLE001 - a worker thread must report, not vanish
            self.get_logger().error(f"replay stopped: {type(exc).__name__}: {exc}")

    def wait_for_subscribers(self, timeout_s: float, poll_s: float = 0.02) -> list[str]:
        """Block until every publisher has a matched subscriber or ``timeout_s`` passes; returns the
        topics still without one (empty when all matched)."""
        deadline = time.monotonic() + timeout_s
        while True:
            missing = [t for t, pub in self._pubs.items() if pub.get_subscription_count() == 0]
            if not missing or time.monotonic() >= deadline or self._stop.wait(poll_s):
                return missing

    def _play_loop(self) -> None:
        if self.wait_for_subscribers_s > 0.0:
            missing = self.wait_for_subscribers(self.wait_for_subscribers_s)
            if missing:
                self.get_logger().warning(f"no subscriber after {self.wait_for_subscribers_s} s on "
                                          f"{', '.join(missing)}; playing anyway")
        if self._stop.wait(self.start_delay_s):
            return
        while not self._stop.is_set():
            t0_wall = t0_bag = None
            for topic, stamp_ns, raw in read_bag(self.bag_path, self.topics):
                if t0_bag is None:
                    t0_wall, t0_bag = time.monotonic(), stamp_ns
                due = t0_wall + (stamp_ns - t0_bag) * 1e-9 / self.rate
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    return
                self._pubs[topic].publish(deserialize_message(raw, self._types[topic]))
                self.published += 1
            if not self.loop:
                self.get_logger().info(f"bag finished: {self.published} messages published")
                return

    def destroy_node(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        super().destroy_node()


def main(args=None) -> int:
    return run_node(BagReplayNode, args, default_params="bag_replay.yaml")


if __name__ == "__main__":
    raise SystemExit(main())
