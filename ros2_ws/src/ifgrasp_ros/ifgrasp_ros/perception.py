"""``perception``: the ``/ifgrasp/perceive`` service (``ifgrasp_interfaces/srv/Perceive``) over
``ifgrasp.pipeline.PerceiveStage`` with the segmentation backend ``backend:=oracle|trained|pretrained``.

A request names the grounded target; the node takes the latest camera frame (colour, aligned depth
and CameraInfo on the RealSense driver's topics; the oracle also reads the simulator's label
images and names), segments the object and part, and answers the target cloud (camera optical
frame), ``T_base_camera`` (parameter: the camera extrinsics) and the scene's depth points (base
frame, the planner's obstacles). It publishes, for RViz and tests:

    /ifgrasp/target_cloud             ifgrasp_interfaces/ObjectCloud (latched), camera optical frame
    /ifgrasp/target_points            sensor_msgs/PointCloud2 (latched), the same cloud, for RViz
    /ifgrasp/part_mask                sensor_msgs/Image mono8, 255 = instructed part, 128 = rest of the object
    /ifgrasp/perception/debug_image   sensor_msgs/Image rgb8, object blue, part red (``ifgrasp.perception.overlay``)

both images pixel-aligned with the colour image and stamped like it. Colour, depth and CameraInfo
are matched like message_filters' ApproximateTime (stamps within ``sync_slop_s``); ``camera_qos``
sets their subscriptions' QoS (``sensor_data`` by default: hears both realsense2_camera settings). No frame within the timeout
answers NO_CAMERA_DATA naming the silent topics; an unknown object or part, UNKNOWN_OBJECT /
UNKNOWN_PART with the known names; nothing matching in view, UNKNOWN_OBJECT; several equal
matches, AMBIGUOUS with the candidates. Non-oracle backends are built at start (missing weights:
one line, exit 1). Parameters: config/perception.yaml.
"""

from __future__ import annotations

import numpy as np
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import Image, PointCloud2
from std_msgs.msg import Header

from ifgrasp.errors import ConfigError, known
from ifgrasp.perception import CloudConfig
from ifgrasp.perception.errors import AmbiguousTargetError
from ifgrasp.perception.overlay import debug_overlay, part_mask_image
from ifgrasp.perception.segmentation import backend_names, make_backend
from ifgrasp.pipeline import PerceiveStage, ground, sim_oracle_backend
from ifgrasp_interfaces.msg import ObjectCloud
from ifgrasp_interfaces.srv import Perceive

from ifgrasp_ros.conversions import (cloud_from_points, image_from_array, image_from_rgb, object_cloud_to_msg,
                                     transform_from_matrix)
from ifgrasp_ros.node_main import run_node
from ifgrasp_ros.ros_clients import CameraCache
from ifgrasp_ros.stage_conversions import grounded_from_msg
from ifgrasp_ros.stage_service import serve

BACKENDS = ("oracle", "trained", "pretrained")
CAMERA_QOS = ("sensor_data", "reliable")


def camera_qos(name: str) -> QoSProfile:
    """The camera subscriptions' QoS: ``sensor_data`` (best effort, depth 5: hears realsense2_camera
    with either of its settings, reliable or best effort) or ``reliable`` (depth 5)."""
    if name == "sensor_data":
        return qos_profile_sensor_data
    if name == "reliable":
        return QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    raise ConfigError(f"unknown camera_qos '{name}'; known: {known(CAMERA_QOS)}")


def T_from_parameter(values) -> np.ndarray:
    """(4, 4) from the 16 row-major numbers of a ``T_base_camera`` parameter (a rigid transform)."""
    T = np.asarray(values, dtype=float)
    if T.shape != (16,) or not np.allclose(T.reshape(4, 4)[3], [0, 0, 0, 1]):
        raise ConfigError("parameter 'T_base_camera' must be 16 numbers, a row-major 4x4 rigid transform "
                          f"mapping camera optical-frame points into the base frame; got {T.tolist()}")
    return T.reshape(4, 4)


class PerceptionNode(Node):
    def __init__(self) -> None:
        super().__init__("perception")
        p = {name: self.declare_parameter(name, default).value for name, default in (
            ("backend", "oracle"), ("T_base_camera", [0.0] * 16), ("frame_timeout_s", 5.0),
            ("n_points", 1024), ("scene_stride", 4), ("camera_frame", "camera_color_optical_frame"),
            ("base_frame", "link_base"), ("service", "/ifgrasp/perceive"),
            ("color_topic", "/camera/camera/color/image_raw"),
            ("info_topic", "/camera/camera/color/camera_info"),
            ("depth_topic", "/camera/camera/aligned_depth_to_color/image_raw"),
            ("object_labels_topic", "/ifgrasp/sim/object_labels"),
            ("part_labels_topic", "/ifgrasp/sim/part_labels"),
            ("label_names_topic", "/ifgrasp/sim/label_names"),
            ("target_cloud_topic", "/ifgrasp/target_cloud"),
            ("target_points_topic", "/ifgrasp/target_points"),
            ("part_mask_topic", "/ifgrasp/part_mask"),
            ("debug_image_topic", "/ifgrasp/perception/debug_image"),
            ("sync_slop_s", 0.01), ("camera_qos", "sensor_data"),
        )}
        if p["backend"] not in BACKENDS:
            raise ConfigError(f"unknown perception backend '{p['backend']}'; known: {known(BACKENDS)}")
        self.p, self.T = p, T_from_parameter(p["T_base_camera"])
        group = ReentrantCallbackGroup()
        topics = {"color": p["color_topic"], "info": p["info_topic"], "depth": p["depth_topic"],
                  "objects": p["object_labels_topic"], "parts": p["part_labels_topic"], "names": p["label_names_topic"]}
        self.oracle = p["backend"] == "oracle"
        if p["sync_slop_s"] < 0:
            raise ConfigError(f"parameter 'sync_slop_s' must be >= 0 seconds, got {p['sync_slop_s']}")
        self.camera = CameraCache(self, topics, self.T, labels=self.oracle, group=group, slop_s=float(p["sync_slop_s"]),
                                  qos=camera_qos(p["camera_qos"]))
        backend_names()  # imports every backend now (~1.3 s here), not in the first request
        self._stage = None if self.oracle else self._make_stage(p["backend"])  # fails now on missing weights
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.pub_cloud = self.create_publisher(ObjectCloud, p["target_cloud_topic"], latched)
        self.pub_points = self.create_publisher(PointCloud2, p["target_points_topic"], latched)
        self.pub_mask = self.create_publisher(Image, p["part_mask_topic"], latched)
        self.pub_debug = self.create_publisher(Image, p["debug_image_topic"], latched)
        serve(self, Perceive, p["service"], self.on_perceive, group)
        self.get_logger().info(f"perception ready: {p['service']} (backend {p['backend']}) on {p['color_topic']}")

    def _make_stage(self, backend: str, **kwargs) -> PerceiveStage:
        seg = sim_oracle_backend(kwargs["objects"]) if backend == "oracle" else make_backend(backend)
        return PerceiveStage(seg, CloudConfig(n_points=int(self.p["n_points"])), int(self.p["scene_stride"]),
                             relabel=backend == "oracle")

    def stage(self) -> PerceiveStage:
        """The perceive stage; the oracle's is built once the simulator's label names are known."""
        if self._stage is None:
            objs = self.camera.label_names or []
            self._stage = self._make_stage("oracle", objects=[(o["category"], tuple(o["parts"])) for o in objs])
        return self._stage

    def on_perceive(self, req, resp) -> None:
        g = grounded_from_msg(req.grounded)
        ground("", g.category, g.part)  # an unknown object or part fails here, listing the known names
        timeout_s = req.timeout_s if req.timeout_s > 0 else float(self.p["frame_timeout_s"])
        after = (int(req.not_before.sec), int(req.not_before.nanosec))
        frame, stamp = self.camera.get_stamped_frame(timeout_s, after)
        try:
            per = self.stage()(frame, g)
        except AmbiguousTargetError as exc:
            resp.candidates = [c.describe() for c in exc.candidates]
            raise
        cam = Header(stamp=stamp, frame_id=self.p["camera_frame"])
        resp.target = object_cloud_to_msg(per.cloud, cam)
        resp.t_base_camera = transform_from_matrix(per.T_base_camera)
        resp.scene = cloud_from_points(per.scene_base_m.astype(np.float32), None,
                                       Header(stamp=stamp, frame_id=self.p["base_frame"]))
        n_part = int(per.cloud.part_mask.sum())
        resp.message = (f"{len(per.cloud.points_m)} points of the {g.category}, {n_part} on its {g.part} "
                        f"({self.p['backend']})")
        self.pub_cloud.publish(resp.target)
        self.pub_points.publish(resp.target.cloud)
        self.pub_mask.publish(image_from_array(part_mask_image(per.object_mask, per.part_mask), "mono8", cam))
        text = f"{self.p['backend']}: {g.category} / {g.part} ({n_part} part points)"
        self.pub_debug.publish(image_from_rgb(debug_overlay(frame.color, per.object_mask, per.part_mask, text), cam))


def main(args=None) -> int:
    from rclpy.executors import MultiThreadedExecutor

    return run_node(PerceptionNode, args, default_params="perception.yaml",
                    make_executor=lambda: MultiThreadedExecutor(num_threads=3))


if __name__ == "__main__":
    raise SystemExit(main())
