"""Both ends of a stage service (``ifgrasp_interfaces/srv``: Ground, Perceive, GenerateGrasps, PlanGrasp).

Server side, ``serve``: a stage node's handler fills the response; an ``IfgraspError`` becomes
``success = false`` with its ``ErrorCode`` and message (the valid names included), so a bad request
never takes the node down. Client side, ``StageClient.call``: every wait is bounded, a service that
is not there or does not answer in time (its node crashed or hangs) raises ``StageFailedError``
naming the service and the node expected to offer it; an answer with ``success = false`` raises
``RemoteStageError`` carrying the node's code, so the pipeline reports it as if the stage had run
in-process.

Liveliness: next to each service, the server keeps a publisher on ``<service>/alive``
(std_msgs/Empty, never published: DDS asserts it) with AUTOMATIC liveliness and a
``LIVELINESS_LEASE_S`` lease; the client's subscription hears within that lease when the node's
process is gone (a crash, a kill), where DDS discovery would take its participant lease (~20 s).
A service that was alive and is no longer fails the call at once, also for later calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rclpy.duration import Duration
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Empty

from ifgrasp.errors import IfgraspError
from ifgrasp.pipeline.errors import ErrorCode, RemoteStageError, StageFailedError, error_code


LIVELINESS_LEASE_S = 1.0
"""A stage node whose process is gone is known to be gone this long after (seconds)."""
LOST_WAIT_S = 1.0
"""How long a call waits for a service that was there and went away (a restart), seconds."""


def liveliness_qos() -> QoSProfile:
    return QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
                      liveliness=LivelinessPolicy.AUTOMATIC,
                      liveliness_lease_duration=Duration(seconds=LIVELINESS_LEASE_S))


def alive_topic(service: str) -> str:
    return f"{service}/alive"


def serve(node: Node, srv_type, name: str, handler: Callable, group=None):
    """Offer ``name``; ``handler(request, response)`` fills the response or raises. Also offers the
    service's liveliness (module docstring)."""
    node._ifgrasp_alive = getattr(node, "_ifgrasp_alive", []) + [
        node.create_publisher(Empty, alive_topic(name), liveliness_qos())]

    def callback(request, response):
        t0 = time.perf_counter()
        try:
            handler(request, response)
            response.success, response.error_code = True, int(ErrorCode.OK)
        except IfgraspError as exc:
            response.success, response.error_code, response.message = False, int(error_code(exc)), str(exc)
        except Exception as exc:  # noqa: BLE001  a bug: answer it (the caller names the stage), keep serving
            response.success, response.error_code = False, int(ErrorCode.STAGE_FAILED)
            response.message = f"{node.get_name()} failed: {type(exc).__name__}: {exc}"
        line = (f"{name}: {'ok' if response.success else ErrorCode(response.error_code).name} in "
                f"{time.perf_counter() - t0:.3f} s{': ' + response.message if response.message else ''}")
        if response.success:  # (rclpy binds one severity to each logging call site)
            node.get_logger().info(line)
        else:
            node.get_logger().warning(line)
        return response

    return node.create_service(srv_type, name, callback, callback_group=group)


class StageClient:
    """Calls one stage service from a thread the executor does not need (the commander's pipeline
    runs inside an action callback of a multi-threaded executor; other threads complete the call)."""

    def __init__(self, node: Node, srv_type, name: str, server: str, group=None, wait_s: float = 10.0) -> None:
        self.name, self.server, self.wait_s = name, server, wait_s
        self.client = node.create_client(srv_type, name, callback_group=group)
        self.alive_count: int | None = None  # None: never heard of the server's liveliness
        self.seen = False
        self._lost_at = 0.0
        node.create_subscription(Empty, alive_topic(name), lambda _m: None, liveliness_qos(), callback_group=group,
                                 event_callbacks=SubscriptionEventCallbacks(liveliness=self._on_liveliness))

    def _on_liveliness(self, info) -> None:
        self.alive_count = int(info.alive_count)
        if self.alive_count > 0:
            self.seen = True
        else:
            self._lost_at = time.monotonic()

    @property
    def lost(self) -> bool:
        """The server was alive and is gone (its process ended or hangs in DDS)."""
        return self.seen and self.alive_count == 0

    def _lost_error(self) -> StageFailedError:
        return StageFailedError(f"service {self.name} is gone: the {self.server} node stopped (no liveliness "
                                f"for {LIVELINESS_LEASE_S:.0f} s); restart it (e.g. `ifgrasp launch sim` again)")

    def call(self, request, timeout_s: float):
        """The response of a successful call; raises as the module docstring says."""
        if self.lost:
            # a restarted node comes back within LOST_WAIT_S of its liveliness reappearing
            deadline = time.monotonic() + LOST_WAIT_S
            while self.lost and time.monotonic() < deadline:
                time.sleep(0.02)
            if self.lost:
                raise self._lost_error()
        wait_s = self.wait_s if not self.seen else min(self.wait_s, LOST_WAIT_S + LIVELINESS_LEASE_S)
        if not self.client.wait_for_service(timeout_sec=wait_s):
            raise StageFailedError(f"service {self.name} not available within {wait_s:.1f} s "
                                   f"(is the {self.server} node running?)")
        future = self.client.call_async(request)
        t0 = time.monotonic()
        next_check = t0 + 0.5
        while not future.done():
            now = time.monotonic()
            if now > t0 + timeout_s:
                self.client.remove_pending_request(future)
                raise StageFailedError(f"service {self.name} did not answer within {timeout_s:.1f} s "
                                       f"(the {self.server} node crashed or hangs)")
            if self.lost:
                self.client.remove_pending_request(future)
                raise StageFailedError(f"service {self.name} went away after {now - t0:.1f} s without answering "
                                       f"(the {self.server} node crashed or stopped: no liveliness for "
                                       f"{LIVELINESS_LEASE_S:.0f} s)")
            if now > next_check:  # discovery saw the server leave (a crash shows here once its lease ends)
                next_check = now + 0.5
                if not self.client.service_is_ready():
                    self.client.remove_pending_request(future)
                    raise StageFailedError(f"service {self.name} went away after {now - t0:.1f} s without "
                                           f"answering (the {self.server} node crashed or stopped)")
            time.sleep(0.005)
        response = future.result()
        if response is None:
            raise StageFailedError(f"service {self.name} returned no response (the {self.server} node went away)")
        if not response.success:
            raise RemoteStageError(response.message or f"{self.server} failed", response.error_code,
                                   list(getattr(response, "candidates", [])))
        return response
