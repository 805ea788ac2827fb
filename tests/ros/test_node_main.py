"""node_main's unraisable hook drops only rclpy's half-built Future (a SIGINT inside its __init__)."""

import gc
import sys

import pytest

pytest.importorskip("rclpy", reason="ROS 2 not installed: run scripts/install.sh")

from rclpy.task import Future, Task  # noqa: E402

from ifgrasp_ros.node_main import _ignore_half_built_futures  # noqa: E402


class Broken:
    def __del__(self):
        raise ValueError("a real error in a destructor")


def test_only_half_built_futures_are_silenced(monkeypatch):
    passed = []
    monkeypatch.setattr(sys, "unraisablehook", _ignore_half_built_futures(passed.append))
    half = Task.__new__(Task)  # as a KeyboardInterrupt inside Future.__init__ leaves it
    del half
    obj = Broken()
    del obj
    whole = Future()
    whole.set_exception(RuntimeError("never retrieved"))  # prints (stderr), raises nothing
    del whole
    gc.collect()
    assert [type(u.exc_value).__name__ for u in passed] == ["ValueError"]
