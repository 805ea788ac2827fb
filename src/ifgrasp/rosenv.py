"""The ROS 2 workspace's environment for commands that talk to the graph (``ifgrasp launch``,
``ifgrasp ask``), without ROS in the core: where ``install/setup.bash`` is, the environment it
sets, and a re-exec of the command under it when the shell did not source it.

On a robot PC with apt ROS 2 the user has sourced ``/opt/ros/jazzy/setup.bash`` and the
workspace's ``install/setup.bash``: then ``ifgrasp_interfaces`` imports and nothing is re-executed.
DDS discovery stays on this machine (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``) unless the
environment already says otherwise.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from ifgrasp.errors import InputError
from ifgrasp.paths import REPO_ROOT

_MARK = "IFGRASP_ROS_ENV"


def install_dir() -> Path:
    """The colcon install folder: ``$IFGRASP_ROS_INSTALL``, else ``<repo>/install``."""
    return Path(os.environ.get("IFGRASP_ROS_INSTALL", REPO_ROOT / "install"))


def workspace_env(install: Path | None = None) -> dict[str, str]:
    """The environment after ``. install/setup.bash`` (what ``ros2 run`` sees), loopback DDS by default."""
    setup = (install or install_dir()) / "setup.bash"
    if not setup.is_file():
        raise InputError(
            f"the ROS 2 workspace is not built ({setup} missing). Build it with `bash scripts/install.sh` "
            "(ROS 2 Jazzy wheels + colcon), or on a robot PC with apt ROS 2: `source /opt/ros/jazzy/setup.bash "
            "&& colcon build --base-paths ros2_ws/src` at the repo root (docs/ros2.md)")
    out = subprocess.run(["bash", "-c", f"set +u; . '{setup}' >/dev/null && env -0"], check=True,
                         capture_output=True).stdout
    env = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def ensure_ros(argv: list[str] | None = None) -> None:
    """Return when the ROS workspace's packages import here; else re-run this command (``python -m
    ifgrasp.cli`` + ``argv``, default ``sys.argv[1:]``) under the workspace's environment."""
    if importlib.util.find_spec("ifgrasp_interfaces") is not None and importlib.util.find_spec("rclpy") is not None:
        os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        return
    if os.environ.get(_MARK):
        raise InputError("ifgrasp_interfaces does not import even under install/setup.bash: rebuild the workspace "
                         "(`bash scripts/install.sh`)")
    env = {**workspace_env(), _MARK: "1"}
    args = sys.argv[1:] if argv is None else argv
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "ifgrasp.cli", *args], env)
