"""Where a calibration goes: ``T_base_camera`` into the perception node's parameters
(``ros2_ws/src/ifgrasp_ros/config/perception.yaml``) and the camera's static transform into the
robot launch (``launch/robot.launch.xml``, the ``camera_*`` argument defaults that
``static_transform_publisher`` gets). Both files are edited in place, comments kept; rebuild the
ROS workspace (or ``colcon build --symlink-install``) so the installed copies follow."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import yaml
from scipy.spatial.transform import Rotation

from ifgrasp.errors import ConfigError
from ifgrasp.paths import REPO_ROOT

PERCEPTION_YAML = REPO_ROOT / "ros2_ws" / "src" / "ifgrasp_ros" / "config" / "perception.yaml"
ROBOT_LAUNCH = REPO_ROOT / "launch" / "robot.launch.xml"
#: Launch arguments of the camera's static transform (link_base -> camera_color_optical_frame).
CAMERA_ARGS = ("camera_x", "camera_y", "camera_z", "camera_qx", "camera_qy", "camera_qz", "camera_qw")

_T_BLOCK = re.compile(r"^(?P<indent>[ \t]*)# Camera extrinsics:.*?T_base_camera:\s*\[[^\]]*\]", re.S | re.M)


def camera_args(T_base_camera: np.ndarray) -> dict[str, str]:
    """The launch arguments (x, y, z metres; quaternion x, y, z, w) of ``T_base_camera``."""
    q = Rotation.from_matrix(T_base_camera[:3, :3]).as_quat()  # x, y, z, w
    q = q if q[3] >= 0 else -q
    return dict(zip(CAMERA_ARGS, [f"{v:.6f}" for v in (*T_base_camera[:3, 3], *q)]))


def write_perception_yaml(T_base_camera: np.ndarray, path: Path = PERCEPTION_YAML, note: str = "") -> None:
    """Replace the ``T_base_camera`` block (and its comment) of the perception node's parameters."""
    text = path.read_text()
    m = _T_BLOCK.search(text)
    if m is None:
        raise ConfigError(f"{path}: no '# Camera extrinsics: ...' comment followed by 'T_base_camera: [...]' "
                          "to replace; restore that block from the repository")
    ind = m.group("indent")
    rows = [", ".join(f"{v:.6f}" for v in row) for row in np.asarray(T_base_camera, float)]
    pad = ind + " " * len("T_base_camera: [")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = (f"{ind}# Camera extrinsics: row-major 4x4 mapping camera optical-frame points into the base frame.\n"
             f"{ind}# From `ifgrasp calibrate` ({stamp}{', ' + note if note else ''}).\n"
             f"{ind}T_base_camera: [" + (",\n" + pad).join(rows) + "]")
    out = text[: m.start()] + block + text[m.end():]
    yaml.safe_load(out)  # still valid YAML
    path.write_text(out)


def write_launch_args(T_base_camera: np.ndarray, path: Path = ROBOT_LAUNCH) -> None:
    """Set the defaults of the ``camera_*`` arguments of the robot launch."""
    text = path.read_text()
    for name, value in camera_args(T_base_camera).items():
        pat = re.compile(rf'(<arg\s+name="{name}"\s+default=")[^"]*(")')
        if not pat.search(text):
            raise ConfigError(f"{path}: no <arg name=\"{name}\" default=\"...\"/> to set; restore it from the repository")
        text = pat.sub(lambda m, v=value: m.group(1) + v + m.group(2), text)
    path.write_text(text)


def read_launch_args(path: Path = ROBOT_LAUNCH) -> np.ndarray:
    """(4, 4) ``T_base_camera`` from the robot launch's ``camera_*`` argument defaults."""
    text = path.read_text()
    vals = []
    for name in CAMERA_ARGS:
        m = re.search(rf'<arg\s+name="{name}"\s+default="([^"]*)"', text)
        if m is None:
            raise ConfigError(f"{path}: no argument '{name}'")
        vals.append(float(m.group(1)))
    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat(vals[3:]).as_matrix()
    T[:3, 3] = vals[:3]
    return T


def read_perception_yaml(path: Path = PERCEPTION_YAML) -> np.ndarray:
    """(4, 4) ``T_base_camera`` of the perception node's parameters."""
    data = yaml.safe_load(path.read_text())
    return np.asarray(data["perception"]["ros__parameters"]["T_base_camera"], float).reshape(4, 4)


def write_calibration(T_base_camera: np.ndarray, perception_yaml: Path = PERCEPTION_YAML,
                      launch: Path = ROBOT_LAUNCH, note: str = "") -> list[Path]:
    """Both places; returns the files written."""
    write_perception_yaml(T_base_camera, perception_yaml, note)
    write_launch_args(T_base_camera, launch)
    return [perception_yaml, launch]
