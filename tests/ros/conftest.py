"""ROS 2 test harness: the colcon workspace in-process, node executables in their own processes,
one ``ROS_DOMAIN_ID`` per test and loopback-only discovery.

Modules here start with ``pytest.importorskip("ifgrasp_interfaces", reason=NOT_BUILT)``-style
guards, so without ``install/setup.bash`` (workspace not built) they skip with that reason.
Fixtures:
    ros_domain   a fresh domain id in 1..101 for this test (also in ``os.environ``)
    ros_context  an rclpy Context initialised on that domain (shut down after the test)
    ros_node     an rclpy node of the test on that context, and ``spin_until`` to wait on it
    launch       start ``install/<pkg>/lib/<pkg>/<exe>`` in its own process; at teardown it gets
                 SIGINT and must exit 0 with no traceback on stderr
    pinned_model a tiny student checkpoint whose samples are a palm-down grasp above the part
    student_model  models/student/student_flow.pt (the default generator) when it exists, else ``pinned_model``
"""

from __future__ import annotations

import ctypes
import itertools
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "install"
SETUP_BASH = INSTALL / "setup.bash"
STUDENT = REPO / "models" / "student" / "student_flow.pt"  # the default generator
NOT_BUILT = f"ROS 2 workspace not built ({SETUP_BASH} missing): run scripts/install.sh"
PY_SITE = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
_DOMAINS = itertools.count()


@cache
def sourced_env() -> dict[str, str]:
    """The environment after ``. install/setup.bash`` (what ``ros2 run`` would see), loopback only."""
    out = subprocess.run(["bash", "-c", f"set +u; . '{SETUP_BASH}' >/dev/null && env -0"],
                         check=True, capture_output=True, cwd=REPO).stdout
    env = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.setdefault("MUJOCO_GL", "osmesa")
    env.setdefault("PYOPENGL_PLATFORM", "osmesa")
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _make_workspace_importable() -> None:
    """Let this (already started) interpreter import the workspace's packages even when
    setup.bash was not sourced before pytest: Python paths, the ament index, and the generated
    C libraries preloaded by absolute path (the dynamic loader then resolves them by soname)."""
    env = sourced_env()
    for path in reversed(env.get("PYTHONPATH", "").split(os.pathsep)):
        if path and path.startswith(str(INSTALL)) and path not in sys.path:
            sys.path.insert(0, path)
    os.environ["AMENT_PREFIX_PATH"] = env.get("AMENT_PREFIX_PATH", "")
    libs = sorted(INSTALL.glob("*/lib/lib*.so"))
    for _ in range(len(libs)):  # dependency order unknown: retry until nothing more loads
        failed = []
        for lib in libs:
            try:
                ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
            except OSError:
                failed.append(lib)
        if not failed or len(failed) == len(libs):
            break
        libs = failed


if SETUP_BASH.is_file():
    _make_workspace_importable()


def next_domain_id() -> int:
    """A domain id in 1..101 unlikely to clash with a parallel pytest (pid-derived offset)."""
    return 1 + (os.getpid() * 17 + next(_DOMAINS)) % 101


@pytest.fixture
def ros_domain(monkeypatch) -> int:
    if not SETUP_BASH.is_file():
        pytest.skip(NOT_BUILT)
    domain = next_domain_id()
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return domain


@pytest.fixture
def ros_context(ros_domain):
    import rclpy

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=ros_domain)
    yield ctx
    rclpy.try_shutdown(context=ctx)


class ProbeNode:
    """The test's own node with an executor, and a spin-until-condition helper."""

    def __init__(self, context, name: str = "pytest_probe") -> None:
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node

        self.node = Node(name, context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)

    def spin_until(self, condition, timeout_s: float, what: str, procs=()) -> None:
        """Spin until ``condition()`` is true; fail naming ``what`` (and any node that died)."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            for p in procs:
                p.assert_running()
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
            self.executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


@pytest.fixture
def ros_node(ros_context):
    probe = ProbeNode(ros_context)
    yield probe
    probe.close()


@dataclass
class NodeProcess:
    """A node executable running in its own process; its output goes to files."""

    name: str
    proc: subprocess.Popen
    stdout_path: Path
    stderr_path: Path
    expect_exit: int | None = None  # exit code it should end with by itself (None: runs until SIGINT)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def assert_running(self) -> None:
        if self.proc.poll() is not None and self.expect_exit is None:
            pytest.fail(f"node {self.name} exited early with code {self.proc.returncode}:\n{self.stderr[-3000:]}")

    def wait(self, timeout_s: float) -> int:
        return self.proc.wait(timeout=timeout_s)

    def stop(self, timeout_s: float = 15.0, signalled: bool = False) -> int:
        """SIGINT (Ctrl-C; once: ``signalled`` when already sent), then wait; SIGKILL only as a last
        resort (and that fails the test)."""
        if self.proc.poll() is None:
            if not signalled:
                self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGUSR1)  # run_node's faulthandler: every thread's stack
                time.sleep(1.0)
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"node {self.name} ignored SIGINT for {timeout_s} s and was killed; its stacks:\n"
                            f"{self.stderr[-6000:]}")
        return self.proc.returncode


def executable(package: str, name: str) -> Path:
    """``install/<package>/lib/<package>/<name>``: what ``ros2 run package name`` starts."""
    path = INSTALL / package / "lib" / package / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: rebuild the workspace (scripts/install_ros.sh)")
    return path


@pytest.fixture
def launch(ros_domain, tmp_path):
    """``launch(package, exe, params={...}, args=[...], expect_exit=None) -> NodeProcess``.

    Teardown: each node still running gets SIGINT; every node must end with its expected code
    (0 unless ``expect_exit`` says otherwise) and write no Python traceback to stderr."""
    procs: list[NodeProcess] = []
    env = {**sourced_env(), "ROS_DOMAIN_ID": str(ros_domain)}

    def start(package: str, name: str, params: dict | None = None, args=(), expect_exit=None) -> NodeProcess:
        cmd = [str(executable(package, name)), "--ros-args"]
        for key, value in (params or {}).items():
            cmd += ["-p", f"{key}:={_param_literal(value)}"]
        cmd += list(args)
        idx = len(procs)
        out, err = tmp_path / f"{name}_{idx}.out", tmp_path / f"{name}_{idx}.err"
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out.open("wb"), stderr=err.open("wb"),
                                stdin=subprocess.DEVNULL)
        node = NodeProcess(name, proc, out, err, expect_exit)
        procs.append(node)
        return node

    yield start

    problems = []
    running = [node.proc.poll() is None for node in procs]
    for node, live in zip(procs, running):  # all at once, as Ctrl-C in a launch does
        if live:
            node.proc.send_signal(signal.SIGINT)
    for node, live in zip(procs, running):  # six processes leaving at once on a loaded 2-core machine: 30 s
        code = node.stop(30.0, signalled=live)
        expected = 0 if node.expect_exit is None else node.expect_exit
        if code != expected:
            problems.append(f"{node.name} exited with {code}, expected {expected}:\n{node.stderr[-3000:]}")
        elif "Traceback" in node.stderr:
            problems.append(f"{node.name} wrote a traceback:\n{node.stderr[-3000:]}")
    if problems:
        pytest.fail("\n\n".join(problems))


def _param_literal(value) -> str:
    """A ``-p name:=value`` literal (YAML) for a Python value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_param_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return f"'{value}'" if value == "" or value[0] in "[{" else value
    return repr(value)


@pytest.fixture
def student_model(pinned_model) -> Path:
    return STUDENT if STUDENT.is_file() else pinned_model
