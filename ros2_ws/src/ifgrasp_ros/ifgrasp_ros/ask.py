"""A client of the commander (``ifgrasp ask "INSTRUCTION" [--plan-only]``), written only against
the interfaces: the ``ExecuteGrasp`` action (each stage printed as it starts, the execute / lift /
place stages with their progress, then the verified outcome) or, with ``--plan-only``, the
``GraspCommand`` service. Also the session's helpers: ``recover`` (``/ifgrasp/{arm,hand}/recover``)
and ``reset`` (``/ifgrasp/sim/reset``).

Exit codes: 0 when the command did what it says (a grasp: the object is held; plan-only: a grasp
was planned; place / release / home: done); 1 when it failed (the result's code and message are
printed); 2 when it was rejected (another command is running) or nothing answers; 130 after Ctrl-C
(the goal is cancelled first: the arm stops and holds).
"""

from __future__ import annotations

import signal
import threading
import time

ACTION = "/ifgrasp/execute_grasp"
SERVICE = "/ifgrasp/grasp_command"
NO_GRAPH = "start the graph first, e.g. `ifgrasp launch sim` in another terminal"


class _Client:
    def __init__(self) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node

        self.context = rclpy.Context()
        rclpy.init(context=self.context, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
        self.node = Node("ifgrasp_ask", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_until(self, done, timeout_s: float, stop: threading.Event | None = None) -> bool:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                return False
            self.executor.spin_once(timeout_sec=0.05)
        return True

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _code_name(code: int) -> str:
    from ifgrasp_interfaces.action import ExecuteGrasp

    names = {getattr(ExecuteGrasp.Result, n): n for n in dir(ExecuteGrasp.Result)
             if n.isupper() and isinstance(getattr(ExecuteGrasp.Result, n), int)}
    return names.get(int(code), str(code))


def plan_only(instruction: str, echo=print, wait_s: float = 10.0, timeout_s: float = 120.0) -> int:
    from ifgrasp_interfaces.srv import GraspCommand

    c = _Client()
    try:
        cli = c.node.create_client(GraspCommand, SERVICE)
        if not cli.wait_for_service(timeout_sec=wait_s):
            echo(f"no {SERVICE} service within {wait_s:.0f} s: {NO_GRAPH}")
            return 2
        t0 = time.monotonic()
        fut = cli.call_async(GraspCommand.Request(instruction=instruction))
        if not c.spin_until(fut.done, timeout_s):
            echo(f"{SERVICE} did not answer within {timeout_s:.0f} s")
            return 1
        r = fut.result()
        dt = time.monotonic() - t0
        if r.success:
            p = r.grasp.wrist_pose.position
            echo(f"planned in {dt:.2f} s: {r.object_name} / {r.part_name}, wrist at ({p.x:.3f}, {p.y:.3f}, {p.z:.3f}) m "
                 f"in {r.grasp.header.frame_id}: {r.message}")
            return 0
        echo(f"{_code_name(r.error_code)} at {r.failed_stage or '?'}: {r.message}")
        if r.candidates:
            echo("say which one: " + "; ".join(r.candidates))
        return 1
    finally:
        c.close()


def execute(instruction: str, echo=print, wait_s: float = 10.0, timeout_s: float = 300.0,
            lift_height_m: float = 0.0) -> int:
    from rclpy.action import ActionClient

    from ifgrasp_interfaces.action import ExecuteGrasp

    c = _Client()
    stop = threading.Event()
    old = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        client = ActionClient(c.node, ExecuteGrasp, ACTION)
        if not client.wait_for_server(timeout_sec=wait_s):
            echo(f"no {ACTION} action server within {wait_s:.0f} s: {NO_GRAPH}")
            return 2
        shown = {"stage": None, "pct": -1, "message": ""}

        def on_feedback(msg) -> None:
            f = msg.feedback
            pct = int(round(100 * f.stage_progress))
            if f.stage_name != shown["stage"] or (f.message and f.message != shown["message"]):  # a stage, or news in it (a retry)
                shown["stage"], shown["pct"], shown["message"] = f.stage_name, pct, f.message
                echo(f"[{f.elapsed_s:6.2f} s] {f.stage_name}" + (f": {f.message}" if f.message else ""))
            elif pct >= shown["pct"] + 20:
                shown["pct"] = pct
                echo(f"[{f.elapsed_s:6.2f} s] {f.stage_name} {pct:3d}%")

        t0 = time.monotonic()
        goal = ExecuteGrasp.Goal(instruction=instruction, lift_height_m=float(lift_height_m))
        fut = client.send_goal_async(goal, feedback_callback=on_feedback)
        if not c.spin_until(fut.done, wait_s):
            echo(f"{ACTION} did not answer the goal within {wait_s:.0f} s")
            return 2
        handle = fut.result()
        if not handle.accepted:
            echo("REJECTED: a command is already running; wait for it to end or cancel it (Ctrl-C in its terminal)")
            return 2
        res_fut = handle.get_result_async()
        c.spin_until(res_fut.done, timeout_s, stop)
        if not res_fut.done():
            why = "Ctrl-C" if stop.is_set() else f"no result within {timeout_s:.0f} s"
            echo(f"{why}: cancelling the goal (the arm stops and holds)")
            cancel = handle.cancel_goal_async()
            c.spin_until(cancel.done, 10.0)
            c.spin_until(res_fut.done, 30.0)
            if not res_fut.done():
                echo("the commander did not send the cancelled goal's result")
                return 130 if stop.is_set() else 1
        r = res_fut.result().result
        wall = time.monotonic() - t0
        timing = ", ".join(f"{s.stage} {s.seconds:.2f}" for s in r.stage_latencies)
        if r.command_to_motion_s >= 0:
            timing += f"; command -> first arm motion {r.command_to_motion_s:.2f} s"
        echo(f"[{wall:6.2f} s] {'OK' if r.success else _code_name(r.error_code)}: {r.message}")
        if timing:
            echo(f"stage seconds: {timing}")
        if r.task == "grasp" and r.success:
            echo(f"HELD: the {r.object_name} by its {r.part_name}" + (f" ({r.evidence})" if r.evidence else ""))
        if stop.is_set():
            return 130
        if r.task == "grasp":
            return 0 if (r.success and r.held) else 1
        return 0 if r.success else 1
    finally:
        signal.signal(signal.SIGINT, old)
        c.close()


def trigger(services: list[str], echo=print, wait_s: float = 5.0) -> int:
    """Call std_srvs/Trigger services in turn (recover, reset); 0 when all succeed."""
    from std_srvs.srv import Trigger

    c = _Client()
    code = 0
    try:
        for name in services:
            cli = c.node.create_client(Trigger, name)
            if not cli.wait_for_service(timeout_sec=wait_s):
                echo(f"{name}: no such service within {wait_s:.0f} s ({NO_GRAPH})")
                code = 2
                continue
            fut = cli.call_async(Trigger.Request())
            if not c.spin_until(fut.done, 30.0):
                echo(f"{name}: no answer within 30 s")
                code = 1
                continue
            r = fut.result()
            echo(f"{name}: {'ok' if r.success else 'FAILED'}: {r.message}")
            code = code or (0 if r.success else 1)
        return code
    finally:
        c.close()
