"""Both ends of a stage service (``ifgrasp_interfaces/srv``: Ground, Perceive, GenerateGrasps, PlanGrasp).

Server side, ``serve``: a stage node's handler fills the response; an ``IfgraspError`` becomes
``success = false`` with its ``ErrorCode`` and message (the valid names included), so a bad request
never takes the node down. Client side, ``StageClient.call``: every wait is bounded, a service that
is not there or does not answer in time (its node crashed or hangs) raises ``StageFailedError``
naming the service and the node expected to offer it; an answer with ``success = false`` raises
``RemoteStageError`` carrying the node's code, so the pipeline reports it as if the stage had run
in-process.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rclpy.node import Node

from ifgrasp.errors import IfgraspError
from ifgrasp.pipeline.errors import ErrorCode, RemoteStageError, StageFailedError, error_code


def serve(node: Node, srv_type, name: str, handler: Callable, group=None):
    """Offer ``name``; ``handler(request, response)`` fills the response or raises."""

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

    def call(self, request, timeout_s: float):
        """The response of a successful call; raises as the module docstring says."""
        if not self.client.wait_for_service(timeout_sec=self.wait_s):
            raise StageFailedError(f"service {self.name} not available within {self.wait_s:.1f} s "
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
