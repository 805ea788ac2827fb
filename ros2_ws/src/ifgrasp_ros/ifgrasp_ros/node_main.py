"""Run an rclpy node until SIGINT/SIGTERM and leave cleanly (exit code 0, no traceback).

    def main(args=None):
        return run_node(SimCameraNode, args, default_params="sim_camera.yaml")
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from ifgrasp.errors import IfgraspError

PACKAGE = "ifgrasp_ros"
SIGNAL_POLL_S = 0.25
"""Longest wait inside rcl before Python looks at its pending signals again (see ``spin_until_shutdown``)."""


def package_config(name: str) -> Path:
    """Path of ``config/<name>`` installed with this package (share/ifgrasp_ros/config)."""
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory(PACKAGE)) / "config" / name


def with_default_params(argv: Sequence[str], params_file: Path) -> list[str]:
    """``argv`` with ``--ros-args --params-file params_file --`` inserted after the program name,
    so the package's YAML gives the defaults and any later ``--params-file`` / ``-p`` wins."""
    argv = list(argv)
    return argv[:1] + ["--ros-args", "--params-file", str(params_file), "--"] + argv[1:]


def _ignore_half_built_futures(default_hook):
    """An unraisable-exception hook that drops one rclpy artefact: a SIGINT landing inside
    ``rclpy.task.Future.__init__`` (a Task the executor was creating) leaves a half-built object whose
    ``__del__`` then fails with AttributeError ('_exception') and prints a traceback at exit."""
    from rclpy.task import Future

    def hook(unraisable) -> None:
        if unraisable.object is Future.__del__ and isinstance(unraisable.exc_value, AttributeError):
            return
        default_hook(unraisable)

    return hook


#: Set by the first SIGINT/SIGTERM. The KeyboardInterrupt it raises can land inside a library's bare
#: ``except:`` (xarm-python-sdk's socket reads) and vanish; the spin loop checks this too.
_SIGNALLED = threading.Event()


def _stop_on_signals() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt in the main thread (once); a second one exits at once.

    Replaces rclpy's own handlers (``rclpy.init(signal_handler_options=NO)``): those shut the context
    down from a C++ thread while the main thread is still using it, and every main-thread call in that
    window is a race: ``Service.destroy`` and ``rclpy.ok()`` both crashed nodes with SIGSEGV in CI
    (2026-12-05). Here the whole exit (executor, context, node) runs in the main thread, in order."""

    def second_signal(signum, _frame) -> None:
        print(f"signal {signum} again during shutdown: exiting now", file=sys.stderr, flush=True)
        os._exit(128 + signum)

    def first_signal(signum, _frame) -> None:
        _SIGNALLED.set()
        signal.signal(signal.SIGINT, second_signal)
        signal.signal(signal.SIGTERM, second_signal)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, first_signal)
    signal.signal(signal.SIGTERM, first_signal)


def spin_until_shutdown(executor) -> None:
    """``executor.spin()`` with a bounded wait: return to Python every ``SIGNAL_POLL_S``.

    Python runs a signal handler only between bytecodes of the main thread; inside an unbounded
    ``rcl_wait`` a Ctrl-C would wait for traffic that may never come (a grounding node ignored SIGINT
    for 30 s in CI). A bounded wait lets the interpreter raise it within ``SIGNAL_POLL_S``."""
    context = executor.context
    while context.ok():
        if _SIGNALLED.is_set():  # its KeyboardInterrupt was swallowed inside a callback
            raise KeyboardInterrupt
        executor.spin_once(timeout_sec=SIGNAL_POLL_S)


def run_node(
    make_node: Callable[[], Node],
    args: Sequence[str] | None = None,
    default_params: str | None = None,
    make_executor: Callable[[], object] | None = None,
) -> int:
    """Init rclpy, build the node, spin until shutdown, then destroy it and shut down.

    SIGINT and SIGTERM (``_stop_on_signals``) end the spin through KeyboardInterrupt, a context shut
    down elsewhere through ExternalShutdownException; both are a normal exit. ``default_params`` names a YAML file in the
    package's ``config/`` loaded before the command line's own parameters; ``make_executor`` builds the
    executor after ``rclpy.init`` (default ``SingleThreadedExecutor``; nodes that block in callbacks
    pass a ``MultiThreadedExecutor`` factory). Returns the exit code: 0, or 1
    after an ``IfgraspError`` (printed as one line). An exception from a callback after shutdown
    began (the context already invalid) counts as the normal exit; before it, it propagates.
    """
    sys.unraisablehook = _ignore_half_built_futures(sys.unraisablehook)
    faulthandler.enable()  # a crash in a C library (rcl, DDS, MuJoCo) prints every thread's Python stack
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>`: where is a hung node stuck?
    argv = list(sys.argv if args is None else args)
    if default_params is not None:
        argv = with_default_params(argv, package_config(default_params))
    rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    executor = make_executor() if make_executor is not None else SingleThreadedExecutor()
    _stop_on_signals()
    code = 0
    signalled = False
    try:
        node = make_node()
        executor.add_node(node)
        spin_until_shutdown(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        signalled = True
    except IfgraspError as exc:  # bad parameters, missing files: one clear line, no traceback
        print(f"[{Path(argv[0]).name}] error: {exc}", file=sys.stderr)
        code = 1
    except Exception:  # noqa: BLE001
        # A callback racing the signal handler's shutdown (a timer publishing on the context just
        # invalidated: RCLError "publisher's context is invalid") is the normal end, not a crash.
        if rclpy.ok():
            raise
    finally:
        executor.shutdown()
        if signalled:
            rclpy.try_shutdown()  # first: wakes callbacks still waiting in executor threads
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code
