"""The commander's stage adapters: the pipeline's ``Grounder`` / ``Perceiver`` / ``Generator`` /
``Planner`` (``ifgrasp.pipeline.stages``) implemented by calling the stage nodes' services.

Each call is bounded (``stage_service.StageClient``): a service that is missing or silent fails the
stage naming the service and its node; a node's own error comes back with its error code.
"""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from ifgrasp.grounding import GroundedInstruction
from ifgrasp.pipeline import Perception
from ifgrasp.pipeline.frames import RestWatch
from ifgrasp.planning import GraspPlan
from ifgrasp.types import GraspBatch, ObjectCloud, RGBDFrame
from ifgrasp_interfaces.srv import GenerateGrasps, Ground, Perceive, PlanGrasp

from ifgrasp_ros.conversions import (batch_from_grasp_candidates, cloud_from_points, grasp_candidates_from_batch,
                                     matrix_from_transform, object_cloud_from_msg, object_cloud_to_msg,
                                     points_from_cloud, transform_from_matrix)
from ifgrasp_ros.stage_conversions import grounded_from_msg, grounded_to_msg, plan_from_response
from ifgrasp_ros.stage_service import StageClient


class RemoteStages:
    """The four adapters over one node; ``p`` holds the commander's service names, timeouts,
    ``num_grasps``, the default ``lift_height_m`` and ``max_frame_age_s``; ``rest`` the robot's
    ``RestWatch`` (None: perceive takes frames stamped after the call only)."""

    def __init__(self, node: Node, p: dict, group=None, rest: RestWatch | None = None) -> None:
        self.node, self.p, self.rest = node, p, rest
        wait = float(p["service_wait_s"])
        self.ground_client = StageClient(node, Ground, p["ground_service"], "grounding", group, wait)
        self.perceive_client = StageClient(node, Perceive, p["perceive_service"], "perception", group, wait)
        self.generate_client = StageClient(node, GenerateGrasps, p["generate_service"], "grasp_generator", group, wait)
        self.plan_client = StageClient(node, PlanGrasp, p["plan_service"], "planner", group, wait)

    def ground(self, instruction: str, object_name: str, part_name: str) -> GroundedInstruction:
        req = Ground.Request(instruction=instruction, object_name=object_name, part_name=part_name)
        return grounded_from_msg(self.ground_client.call(req, float(self.p["ground_timeout_s"])).grounded)

    def _not_before(self, rest: RestWatch | None = None):
        """Frames must be stamped after now (parameter ``fresh_frames``, default true): an older one may
        show the arm where it was before its last move, and the planner would take the arm's own points
        for obstacles. With ``rest`` (the robot's ``RestWatch``), after the robot's last motion and at
        most ``max_frame_age_s`` old instead (``ifgrasp.pipeline.frames``). A replayed bag keeps its
        recorded stamps, so replay.launch.xml turns it off."""
        if not self.p.get("fresh_frames", True):
            return Time()
        now = self.node.get_clock().now()
        if rest is None:
            return now.to_msg()
        age = (self.node.get_parameter("max_frame_age_s").value if self.node.has_parameter("max_frame_age_s")
               else self.p.get("max_frame_age_s", 0.0))  # the node's parameter: settable while it runs
        t = rest.frames_from_s(now.nanoseconds * 1e-9, float(age))
        ns = int(round(t * 1e9))
        return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)

    def perceive(self, frame: RGBDFrame | None, grounded: GroundedInstruction, timeout_s: float = 5.0) -> Perception:
        """``frame`` is ignored: the perception node reads the camera (waiting at most ``timeout_s``)
        and takes a frame stamped after the robot's last motion (``_not_before`` with ``rest``)."""
        req = Perceive.Request(grounded=grounded_to_msg(grounded), timeout_s=float(timeout_s),
                               not_before=self._not_before(self.rest))
        resp = self.perceive_client.call(req, timeout_s + float(self.p["perceive_timeout_s"]))
        scene = points_from_cloud(resp.scene)[0].astype(np.float64)  # (M, 3) base frame
        return Perception(object_cloud_from_msg(resp.target), scene, None, matrix_from_transform(resp.t_base_camera))

    def look(self, grounded: GroundedInstruction, timeout_s: float = 3.0) -> Perception:
        """The target in a camera frame stamped after now (the verify stage's check after a lift)."""
        req = Perceive.Request(grounded=grounded_to_msg(grounded), timeout_s=float(timeout_s),
                               not_before=self._not_before())
        resp = self.perceive_client.call(req, timeout_s + float(self.p["perceive_timeout_s"]))
        return Perception(object_cloud_from_msg(resp.target), np.zeros((0, 3)), None,
                          matrix_from_transform(resp.t_base_camera))

    def generate(self, cloud: ObjectCloud, T_base_camera: np.ndarray) -> GraspBatch:
        header = Header(stamp=self.node.get_clock().now().to_msg(), frame_id=cloud.frame)
        req = GenerateGrasps.Request(target=object_cloud_to_msg(cloud, header),
                                     t_base_camera=transform_from_matrix(T_base_camera), k=int(self.p["num_grasps"]))
        return batch_from_grasp_candidates(self.generate_client.call(req, float(self.p["generate_timeout_s"])).candidates)

    def plan(self, q_current: np.ndarray, grasps_base: GraspBatch, scene_base_m: np.ndarray | None,
             lift_height_m: float | None = None) -> GraspPlan:
        header = Header(stamp=self.node.get_clock().now().to_msg(), frame_id=grasps_base.frame)
        scene = np.zeros((0, 3)) if scene_base_m is None else scene_base_m
        req = PlanGrasp.Request(candidates=grasp_candidates_from_batch(grasps_base, header),
                                q_current=np.asarray(q_current, np.float64).tolist(),
                                scene=cloud_from_points(np.asarray(scene, np.float32), None, header),
                                lift_height_m=float(lift_height_m or self.p["lift_height_m"]))
        return plan_from_response(self.plan_client.call(req, float(self.p["plan_timeout_s"])))
