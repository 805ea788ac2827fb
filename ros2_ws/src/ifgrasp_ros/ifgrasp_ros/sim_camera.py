"""``sim_camera``: a simulated RealSense publishing like the RealSense ROS 2 driver, from MuJoCo.

Publishes (names/encodings of ``realsense2_camera`` with ``align_depth.enable:=true``):
    /camera/camera/color/image_raw                    sensor_msgs/Image rgb8
    /camera/camera/color/camera_info                  sensor_msgs/CameraInfo
    /camera/camera/aligned_depth_to_color/image_raw   sensor_msgs/Image 16UC1 millimetres (0 = invalid)
    /camera/camera/aligned_depth_to_color/camera_info sensor_msgs/CameraInfo
all in frame ``camera_color_optical_frame``; plus ``/joint_states`` of the scene's xArm7 + LEAP Hand
(arm joints 1..7 then the hand in motor-ID order) and, for the oracle segmentation, ground-truth
label images (32SC1: object index / part index per pixel, -1 = none) with a latched JSON
``std_msgs/String`` naming them: ``{"objects": [{"name", "category", "parts": [...]}, ...]}``.

The scene is ``ifgrasp.sim.scene.build_scene`` of a SceneConfig YAML; camera pose and intrinsics
(``T_base_camera``) come from it. Parameters: config/sim_camera.yaml.

    install/ifgrasp_ros/lib/ifgrasp_ros/sim_camera --ros-args -p rate_hz:=5.0 -p width:=320 -p height:=240
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import Header, String

from ifgrasp.errors import ConfigError
from ifgrasp.types import CameraIntrinsics

from ifgrasp_ros.conversions import joint_state_msg
from ifgrasp_ros.node_main import run_node
from ifgrasp_ros.rgbd_publishers import RGBDPublishers

MAX_STEP_S = 0.25  # never simulate more than this per tick (after a stall), seconds


def scaled_intrinsics(k: CameraIntrinsics, width: int, height: int) -> CameraIntrinsics:
    """The same camera resampled to ``width x height`` pixels (pixel centres at integers)."""
    if width <= 0 and height <= 0:
        return k
    width = width if width > 0 else round(k.width * height / k.height)
    height = height if height > 0 else round(k.height * width / k.width)
    sx, sy = width / k.width, height / k.height
    return CameraIntrinsics(width=width, height=height, fx=k.fx * sx, fy=k.fy * sy,
                            cx=(k.cx + 0.5) * sx - 0.5, cy=(k.cy + 0.5) * sy - 0.5)


class SimCameraNode(Node):
    def __init__(self) -> None:
        super().__init__("sim_camera")
        p = {name: self.declare_parameter(name, default).value for name, default in (
            ("scene_yaml", ""), ("width", 0), ("height", 0), ("rate_hz", 15.0),
            ("step_physics", True), ("publish_joint_states", True), ("joint_state_rate_hz", 50.0),
            ("publish_labels", True), ("frame_id", "camera_color_optical_frame"),
            ("color_topic", "/camera/camera/color/image_raw"),
            ("color_info_topic", "/camera/camera/color/camera_info"),
            ("depth_topic", "/camera/camera/aligned_depth_to_color/image_raw"),
            ("depth_info_topic", "/camera/camera/aligned_depth_to_color/camera_info"),
            ("object_labels_topic", "/ifgrasp/sim/object_labels"),
            ("part_labels_topic", "/ifgrasp/sim/part_labels"),
            ("label_names_topic", "/ifgrasp/sim/label_names"),
        )}
        for key in ("rate_hz", "joint_state_rate_hz"):
            if p[key] <= 0:
                raise ConfigError(f"parameter '{key}' must be > 0, got {p[key]}")
        self.p = p

        # Imported here: MuJoCo and the object library load only when the node is built.
        from ifgrasp.sim.camera import SimRGBDCamera
        from ifgrasp.sim.scene import build_scene
        from ifgrasp.sim.scene_config import DEFAULT_SCENE_YAML, SceneConfig

        scene_yaml = Path(p["scene_yaml"]) if p["scene_yaml"] else DEFAULT_SCENE_YAML
        self.scene = build_scene(SceneConfig.from_yaml(scene_yaml))
        intr = scaled_intrinsics(self.scene.cfg.camera.intrinsics, int(p["width"]), int(p["height"]))
        self.camera = SimRGBDCamera(self.scene, intrinsics=intr)

        qos = QoSProfile(depth=5)
        self.rgbd = RGBDPublishers(self, p, qos, labels=p["publish_labels"])
        if p["publish_labels"]:
            latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
            self.pub_names = self.create_publisher(String, p["label_names_topic"], latched)
            self.pub_names.publish(String(data=self.label_names_json()))
        if p["publish_joint_states"] and self.scene.has_robot:
            self.joint_names = list(self.scene.arm_joint_names) + list(self.scene.hand_joint_names)
            self.pub_joints = self.create_publisher(JointState, "/joint_states", QoSProfile(depth=10))
            self.create_timer(1.0 / p["joint_state_rate_hz"], self.publish_joint_states)

        self.frames_published = 0
        self._last_step_wall = time.monotonic()
        self.create_timer(1.0 / p["rate_hz"], self.publish_frame)
        self.get_logger().info(
            f"simulated camera {intr.width}x{intr.height} at {p['rate_hz']} Hz on {p['color_topic']} "
            f"(scene {scene_yaml}, objects: {', '.join(self.scene.object_names) or 'none'})")

    def label_names_json(self) -> str:
        objects = [{"name": name, "category": obj.category, "parts": list(obj.part_names)}
                   for name, obj in zip(self.scene.object_names, self.scene.objects)]
        return json.dumps({"objects": objects})

    def _advance_physics(self) -> None:
        now = time.monotonic()
        elapsed = min(now - self._last_step_wall, MAX_STEP_S)
        self._last_step_wall = now
        n = int(elapsed / self.scene.cfg.timestep_s)
        if self.p["step_physics"] and n > 0:
            self.scene.step(n)

    def publish_frame(self) -> None:
        self._advance_physics()
        frame = self.camera.render()
        self.rgbd.publish(frame, Header(stamp=self.get_clock().now().to_msg(), frame_id=self.p["frame_id"]))
        self.frames_published += 1

    def publish_joint_states(self) -> None:
        s = self.scene
        q = np.concatenate([s.arm_joints(), s.hand_joints()])  # (23,) radians
        dq = np.concatenate([s.data.qvel[s.arm_dof_adr], s.data.qvel[s.hand_dof_adr]])  # (23,) rad/s
        self.pub_joints.publish(joint_state_msg(self.joint_names, q, dq, self.get_clock().now().to_msg()))

    def destroy_node(self) -> None:
        self.camera.close()
        super().destroy_node()


def main(args=None) -> int:
    return run_node(SimCameraNode, args, default_params="sim_camera.yaml")


if __name__ == "__main__":
    raise SystemExit(main())
