"""The RealSense-named RGB-D publishers a simulated camera offers (sim_camera, sim_world).

Colour (rgb8), aligned depth (16UC1 millimetres) and their CameraInfo, plus, when enabled, the
simulator's per-pixel object and part labels (32SC1) for the oracle segmentation backend.
"""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from ifgrasp.types import RGBDFrame
from ifgrasp_ros.conversions import camera_info_from_intrinsics, image_from_array, image_from_depth_m, image_from_rgb


class RGBDPublishers:
    """Publishers on the topics named by the node's parameters ``color_topic``, ``color_info_topic``,
    ``depth_topic``, ``depth_info_topic`` (and ``object_labels_topic``, ``part_labels_topic``)."""

    def __init__(self, node: Node, p: dict, qos: QoSProfile, labels: bool) -> None:
        self.color = node.create_publisher(Image, p["color_topic"], qos)
        self.color_info = node.create_publisher(CameraInfo, p["color_info_topic"], qos)
        self.depth = node.create_publisher(Image, p["depth_topic"], qos)
        self.depth_info = node.create_publisher(CameraInfo, p["depth_info_topic"], qos)
        self.objects = node.create_publisher(Image, p["object_labels_topic"], qos) if labels else None
        self.parts = node.create_publisher(Image, p["part_labels_topic"], qos) if labels else None

    def publish(self, frame: RGBDFrame, header: Header) -> None:
        info = camera_info_from_intrinsics(frame.intrinsics, header)
        self.color.publish(image_from_rgb(frame.color, header))
        self.color_info.publish(info)
        self.depth.publish(image_from_depth_m(frame.depth_m, header))
        self.depth_info.publish(info)
        if self.objects is not None and frame.object_ids is not None:
            self.objects.publish(image_from_array(frame.object_ids.astype(np.int32), "32SC1", header))
            self.parts.publish(image_from_array(frame.part_ids.astype(np.int32), "32SC1", header))
