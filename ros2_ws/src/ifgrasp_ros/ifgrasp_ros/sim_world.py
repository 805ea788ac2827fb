"""``sim_world``: the one process that owns the MuJoCo scene (``ifgrasp.pipeline.sim.SimWorld``).

Why one node: the simulated camera and the simulated arm and hand act on the same ``MjData``;
MuJoCo data cannot be shared between processes, and stepping it from two would race. So this node
publishes what ``sim_camera`` publishes (RealSense-named colour / aligned depth / CameraInfo, the
oracle label images and names, ``/joint_states``), the ground truth of the scene at the camera
rate (``/ifgrasp/sim/object_poses``: JSON name -> 4x4 ``T_base_object``; ``.../object_contacts``:
JSON name -> {part: robot contact count}, touched objects only) and hosts the sim arm and hand drivers behind
the same ROS interface the hardware driver nodes offer (``ifgrasp_ros.driver_interface``:
``/ifgrasp/{arm,hand}/joint_trajectory``, ``.../status``, ``.../stop``, ``.../recover``).
``/ifgrasp/sim/reset`` (std_srvs/Trigger) puts the scene back as it started (objects, arm, open
hand, drivers recovered). ``/joint_states`` carries efforts (the sim's actuator forces, N m). Physics
advances with the drivers' clock (virtual real time) at every driver tick, render and joint-state
publication; everything runs on one executor thread. ``calibration_board:=true`` mounts the ChArUco
board of ``config/calibration.yaml`` on the flange (objects left out): ``ifgrasp calibrate ros``
then runs against the simulator. Parameters: config/sim_world.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import Header, String
from std_srvs.srv import Trigger

from ifgrasp.errors import ConfigError

from ifgrasp_ros.conversions import joint_state_msg
from ifgrasp_ros.driver_interface import DriverEndpoint
from ifgrasp_ros.node_main import run_node
from ifgrasp_ros.rgbd_publishers import RGBDPublishers


class SimWorldNode(Node):
    def __init__(self) -> None:
        super().__init__("sim_world")
        p = {name: self.declare_parameter(name, default).value for name, default in (
            ("scene_yaml", ""), ("width", 320), ("height", 240), ("rate_hz", 2.0), ("joint_state_rate_hz", 50.0),
            ("driver_rate_hz", 100.0), ("publish_labels", True), ("frame_id", "camera_color_optical_frame"),
            ("calibration_board", False),
            ("color_topic", "/camera/camera/color/image_raw"),
            ("color_info_topic", "/camera/camera/color/camera_info"),
            ("depth_topic", "/camera/camera/aligned_depth_to_color/image_raw"),
            ("depth_info_topic", "/camera/camera/aligned_depth_to_color/camera_info"),
            ("object_labels_topic", "/ifgrasp/sim/object_labels"),
            ("part_labels_topic", "/ifgrasp/sim/part_labels"),
            ("label_names_topic", "/ifgrasp/sim/label_names"),
            ("object_poses_topic", "/ifgrasp/sim/object_poses"),
            ("object_contacts_topic", "/ifgrasp/sim/object_contacts"),
        )}
        for key in ("rate_hz", "joint_state_rate_hz", "driver_rate_hz"):
            if p[key] <= 0:
                raise ConfigError(f"parameter '{key}' must be > 0, got {p[key]}")
        self.p = p
        from ifgrasp.pipeline.sim import SimWorld
        from ifgrasp.sim.scene_config import DEFAULT_SCENE_YAML, SceneConfig

        scene_yaml = Path(p["scene_yaml"]) if p["scene_yaml"] else DEFAULT_SCENE_YAML
        scene_cfg = SceneConfig.from_yaml(scene_yaml)
        scene = None
        if p["calibration_board"]:
            from ifgrasp.calibration import CalibrationConfig
            from ifgrasp.calibration.sim import build_board_scene

            cal = CalibrationConfig.default()
            scene = build_board_scene(scene_cfg, cal.board, cal.mount)
        self.world = SimWorld.build(scene_cfg, int(p["width"]), int(p["height"]), scene=scene)
        s = self.world.scene
        qos = QoSProfile(depth=5)
        self.rgbd = RGBDPublishers(self, p, qos, labels=p["publish_labels"])
        self.pub_poses = self.create_publisher(String, p["object_poses_topic"], qos)
        self.pub_contacts = self.create_publisher(String, p["object_contacts_topic"], qos)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.pub_names = self.create_publisher(String, p["label_names_topic"], latched)
        objects = [{"name": n, "category": o.category, "parts": list(o.part_names)}
                   for n, o in zip(s.object_names, s.objects)]
        self.pub_names.publish(String(data=json.dumps({"objects": objects})))
        self.joint_names = list(s.arm_joint_names) + list(s.hand_joint_names)
        self.pub_joints = self.create_publisher(JointState, "/joint_states", QoSProfile(depth=10))
        self.arm = DriverEndpoint(self, self.world.arm, "/ifgrasp/arm", "arm", p["driver_rate_hz"])
        self.hand = DriverEndpoint(self, self.world.hand, "/ifgrasp/hand", "hand", p["driver_rate_hz"])
        self.create_service(Trigger, "/ifgrasp/sim/reset", self.on_reset)
        self.create_timer(1.0 / p["joint_state_rate_hz"], self.publish_joint_states)
        self.create_timer(1.0 / p["rate_hz"], self.publish_frame)
        self.get_logger().info(f"sim_world: {p['width']}x{p['height']} camera at {p['rate_hz']} Hz, objects "
                               f"{', '.join(s.object_names)}; arm and hand on /ifgrasp/arm, /ifgrasp/hand")

    def publish_frame(self) -> None:
        stamp = self.get_clock().now().to_msg()  # the moment shown (a CPU render may take a second under load)
        frame = self.world.render()
        self.rgbd.publish(frame, Header(stamp=stamp, frame_id=self.p["frame_id"]))
        with self.world.lock:
            poses = {n: T.tolist() for n, T in zip(self.world.scene.object_names, self.world.scene.object_poses())}
            contacts = self.world.scene.contacts_by_part()
        self.pub_poses.publish(String(data=json.dumps(poses)))
        self.pub_contacts.publish(String(data=json.dumps(contacts)))

    def on_reset(self, _req, resp):
        """The scene as it started; whatever the drivers were streaming or holding is dropped."""
        for endpoint in (self.arm, self.hand):
            if endpoint.active is not None:
                endpoint._status(endpoint.active["id"], "stopped", "scene reset")
            endpoint.active = None
            if endpoint.hand is not None:
                endpoint.hand.cancel()
                endpoint.hand.hold_target = None  # the latched squeeze goal goes with the scene
        self.world.reset()
        resp.success, resp.message = True, "scene reset: objects back in place, arm at its start, hand open"
        self.get_logger().info(resp.message)
        return resp

    def publish_joint_states(self) -> None:
        arm, hand = self.world.arm.read_state(), self.world.hand.read_state()
        self.pub_joints.publish(joint_state_msg(
            self.joint_names, np.concatenate([arm.position_rad, hand.position_rad]),
            np.concatenate([arm.velocity_rad_s, hand.velocity_rad_s]), self.get_clock().now().to_msg(),
            effort=np.concatenate([arm.effort, hand.effort])))

    def destroy_node(self) -> None:
        self.world.close()
        super().destroy_node()


def main(args=None) -> int:
    return run_node(SimWorldNode, args, default_params="sim_world.yaml")


if __name__ == "__main__":
    raise SystemExit(main())
