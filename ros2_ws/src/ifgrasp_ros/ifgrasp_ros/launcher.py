"""Run a launch file's graph without the ``launch`` package (``ifgrasp launch sim|replay|robot``).

The PyPI wheels carry no ``ros2 launch``; this starts exactly the nodes ``launch_xml.parse_launch``
reads from the file (the parser the tests use), each as its own process (``install/<pkg>/lib/<pkg>/
<exe> --ros-args ...``, what ``ros2 run`` starts), and:

* streams every node's output line by line with its name in front (``[commander] ...``);
* says when the graph is ready: each stage service, the ``ExecuteGrasp`` action and the first
  camera frame (a probe node of its own, best-effort QoS: it hears reliable and sensor-data cameras);
* reports a node that exits by name and code, while the others go on;
* on Ctrl-C (SIGINT or SIGTERM) sends each node SIGINT once, waits ``STOP_WAIT_S`` for all of them
  to leave, kills the ones that did not (saying which) and returns.

On an apt ROS 2 the same files run with ``ros2 launch ifgrasp_ros sim.launch.xml`` (docs/ros2.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ifgrasp_ros.launch_xml import LaunchNode, install_prefix, launch_arguments, parse_launch

STOP_WAIT_S = 30.0
"""How long the nodes get to leave after SIGINT before they are killed (seconds)."""
GRAPHS = ("sim", "replay", "robot")
#: What each node offers that a user's command needs: (kind, name) with kind service | action | camera.
READY_ITEMS = {
    "grounding": [("service", "/ifgrasp/ground")],
    "perception": [("service", "/ifgrasp/perceive")],
    "grasp_generator": [("service", "/ifgrasp/generate_grasps")],
    "planner": [("service", "/ifgrasp/plan_grasp")],
    "commander": [("service", "/ifgrasp/grasp_command"), ("action", "/ifgrasp/execute_grasp")],
    "sim_world": [("service", "/ifgrasp/sim/reset")],
}
CAMERA_TOPIC = "/camera/camera/color/image_raw"


def launch_file(graph: str, repo: Path | None = None) -> Path:
    """``launch/<graph>.launch.xml`` of the source checkout, else the one installed with the package."""
    if graph not in GRAPHS:
        raise ValueError(f"unknown graph '{graph}'; known: {', '.join(GRAPHS)}")
    if repo is not None and (repo / "launch" / f"{graph}.launch.xml").is_file():
        return repo / "launch" / f"{graph}.launch.xml"
    return install_prefix("ifgrasp_ros") / "share" / "ifgrasp_ros" / "launch" / f"{graph}.launch.xml"


def parse_overrides(items: list[str], known: dict[str, str | None], path: Path) -> dict[str, str]:
    """``["name:=value", ...]`` -> dict; an unknown name or a missing required argument is one clear error."""
    out = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise ValueError(f"launch argument '{item}' must read name:=value (e.g. model_path:=models/student/student.pt)")
        if name not in known:
            raise ValueError(f"{path.name} has no argument '{name}'; its arguments: {', '.join(known) or 'none'}")
        out[name] = value
    missing = [k for k, v in known.items() if v is None and k not in out]
    if missing:
        raise ValueError(f"{path.name} needs {', '.join(f'{m}:=...' for m in missing)} (no default)")
    return out


@dataclass
class RunningNode:
    node: LaunchNode
    proc: subprocess.Popen
    reader: threading.Thread | None = None
    reported: bool = False
    lines: list[str] = field(default_factory=list)  # the last lines, for a death report

    @property
    def name(self) -> str:
        return self.node.name


class GraphLauncher:
    """Start, watch and stop one launch file's nodes. ``echo(line)`` prints (thread-safe)."""

    def __init__(self, path: Path, overrides: dict[str, str] | None = None, echo=print,
                 env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.path = path
        self.args, nodes = parse_launch(path, overrides, run_commands=True)
        self.nodes, self.skipped = [], []
        for node in nodes:  # a package the wheels do not have (robot_state_publisher, tf2_ros, rviz2)
            try:
                self.executable(node)
                self.nodes.append(node)
            except (FileNotFoundError, LookupError) as exc:
                self.skipped.append(f"{node.name} ({exc})")
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self._echo, self._lock = echo, threading.Lock()
        self.running: list[RunningNode] = []

    def echo(self, line: str) -> None:
        with self._lock:
            self._echo(line)

    def executable(self, node: LaunchNode) -> Path:
        try:
            exe = install_prefix(node.pkg) / "lib" / node.pkg / node.exe
        except (LookupError, OSError):
            raise LookupError(f"package {node.pkg} is not installed here; on apt ROS 2: "
                              f"apt install ros-jazzy-{node.pkg.replace('_', '-')}") from None
        if not exe.is_file():
            raise FileNotFoundError(f"{exe} is missing: rebuild the workspace (bash scripts/install.sh)")
        return exe

    def start(self) -> None:
        width = max(len(n.name) for n in self.nodes)
        for node in self.nodes:
            cmd = [str(self.executable(node)), *node.args, "--ros-args", *node.ros_args()]
            # own process group: the terminal's Ctrl-C reaches the launcher only, which stops each
            # node once and in order (a second SIGINT would make run_node exit at once)
            proc = subprocess.Popen(cmd, env=self.env, cwd=self.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            rn = RunningNode(node, proc)
            rn.reader = threading.Thread(target=self._stream, args=(rn, f"[{node.name:<{width}}] "), daemon=True)
            rn.reader.start()
            self.running.append(rn)
            self.echo(f"started {node.name} (pid {proc.pid}): {node.pkg}/{node.exe}")

    def _stream(self, rn: RunningNode, prefix: str) -> None:
        for raw in iter(rn.proc.stdout.readline, b""):
            line = raw.decode(errors="replace").rstrip()
            rn.lines = (rn.lines + [line])[-20:]
            self.echo(prefix + line)

    def check_exits(self) -> list[RunningNode]:
        """Nodes that exited since the last call (each reported once, by name and code)."""
        dead = []
        for rn in self.running:
            code = rn.proc.poll()
            if code is not None and not rn.reported:
                rn.reported = True
                if rn.reader is not None:
                    rn.reader.join(1.0)
                how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
                self.echo(f"node '{rn.name}' died ({how}); the other nodes go on"
                          + (f"; its last line: {rn.lines[-1]}" if rn.lines else ""))
                dead.append(rn)
        return dead

    @property
    def alive(self) -> list[RunningNode]:
        return [rn for rn in self.running if rn.proc.poll() is None]

    def stop(self, wait_s: float = STOP_WAIT_S) -> list[str]:
        """SIGINT to every live node, wait up to ``wait_s`` for all; kill and name the ones left."""
        live = self.alive
        for rn in live:
            rn.proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + wait_s
        for rn in live:
            try:
                rn.proc.wait(timeout=max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                pass
        killed = []
        for rn in self.alive:
            rn.proc.kill()
            rn.proc.wait()
            killed.append(rn.name)
        for rn in self.running:
            if rn.reader is not None:
                rn.reader.join(2.0)
        return killed

    def ready_items(self) -> list[tuple[str, str]]:
        items = [it for n in self.nodes for it in READY_ITEMS.get(n.name, [])]
        return items + [("camera", CAMERA_TOPIC)]


class ReadinessProbe:
    """A node that watches for the graph's services, action server and first camera frame."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        import rclpy
        from rclpy.action import ActionClient
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image

        from ifgrasp_interfaces.action import ExecuteGrasp

        self.context = rclpy.Context()
        rclpy.init(context=self.context, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
        self.node = Node("ifgrasp_launch_probe", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.items = list(items)
        self.done: dict[tuple[str, str], float] = {}
        self.frame_seen = False
        self._checks = {}
        for kind, name in self.items:
            if kind == "action":
                client = ActionClient(self.node, ExecuteGrasp, name)
                self._checks[(kind, name)] = client.server_is_ready
            elif kind == "camera":
                # best effort matches both a reliable and a sensor-data (best-effort) publisher
                self.node.create_subscription(Image, name, self._on_frame, qos_profile_sensor_data)
                self._checks[(kind, name)] = lambda: self.frame_seen
            else:
                self._checks[(kind, name)] = lambda n=name: self._service_up(n)

    def _service_up(self, name: str) -> bool:
        return any(n == name for n, _ in self.node.get_service_names_and_types())

    def _on_frame(self, _msg) -> None:
        self.frame_seen = True

    def poll(self, t0: float) -> list[tuple[str, str]]:
        """Spin briefly; the items that became ready now."""
        self.executor.spin_once(timeout_sec=0.1)
        new = []
        for item, check in self._checks.items():
            if item not in self.done and check():
                self.done[item] = time.monotonic() - t0
                new.append(item)
        return new

    @property
    def ready(self) -> bool:
        return len(self.done) == len(self._checks)

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def run_graph(path: Path, overrides: dict[str, str] | None = None, echo=print, ready_timeout_s: float = 300.0,
              cwd: Path | None = None) -> int:
    """Start the graph, report readiness and deaths until Ctrl-C, then stop it. Exit code: 0 after a
    clean stop, 1 when a node died or had to be killed."""
    launcher = GraphLauncher(path, overrides, echo, cwd=cwd)
    stop = threading.Event()

    def on_signal(_signum, _frame) -> None:
        if stop.is_set():  # a second Ctrl-C: stop waiting
            raise KeyboardInterrupt
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    died: list[str] = []
    probe = None
    t0 = time.monotonic()
    try:
        domain = os.environ.get("ROS_DOMAIN_ID", "0")
        echo(f"launching {path.name} ({len(launcher.nodes)} nodes, ROS_DOMAIN_ID={domain}, discovery "
             f"{os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE', 'SUBNET')}); Ctrl-C stops them all")
        for line in launcher.skipped:
            echo(f"skipping {line}")
        launcher.start()
        probe = ReadinessProbe(launcher.ready_items())
        announced = False
        while not stop.is_set():
            for kind, name in probe.poll(t0):
                echo(f"ready after {time.monotonic() - t0:5.1f} s: {kind} {name}")
            if probe.ready and not announced:
                announced = True
                echo(f"graph ready in {time.monotonic() - t0:.1f} s: send a command from another terminal, "
                     "e.g. ifgrasp ask \"pick up the mug by its handle\"")
            if not announced and time.monotonic() - t0 > ready_timeout_s:
                missing = [f"{k} {n}" for k, n in probe.items if (k, n) not in probe.done]
                echo(f"not ready after {ready_timeout_s:.0f} s: still waiting for {', '.join(missing)}")
                announced = True
            died += [rn.name for rn in launcher.check_exits()]
            if not launcher.alive:
                echo("every node has exited")
                break
    except KeyboardInterrupt:
        pass
    finally:
        if probe is not None:
            probe.close()
        echo(f"stopping {len(launcher.alive)} nodes (SIGINT, up to {STOP_WAIT_S:.0f} s)")
        killed = launcher.stop()
        for s, h in old.items():
            signal.signal(s, h)
    if killed:
        echo(f"killed after {STOP_WAIT_S:.0f} s without leaving: {', '.join(killed)}")
    codes = {rn.name: rn.proc.returncode for rn in launcher.running}
    bad = {n: c for n, c in codes.items() if c != 0}
    if bad:
        echo("exit codes: " + ", ".join(f"{n} {c}" for n, c in codes.items()))
    else:
        echo("all nodes stopped cleanly")
    return 1 if (died or killed or bad) else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m ifgrasp_ros.launcher sim [name:=value ...]``."""
    argv = sys.argv[1:] if argv is None else argv
    path = launch_file(argv[0])
    return run_graph(path, parse_overrides(argv[1:], launch_arguments(path), path))


if __name__ == "__main__":
    raise SystemExit(main())
