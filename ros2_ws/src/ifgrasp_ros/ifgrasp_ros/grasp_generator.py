"""``grasp_generator``: the ``/ifgrasp/generate_grasps`` service (``ifgrasp_interfaces/srv/GenerateGrasps``)
over ``ifgrasp.pipeline.GenerateStage`` with the student (``generator`` backend + ``model_path``).

A request carries the target cloud (camera optical frame, part field = instructed part) and
``T_base_camera``; the answer is ``k`` candidates in the base frame, best first. It refuses to
start, in one line, when the model file is missing. After each request it publishes, for RViz and
tests: ``/ifgrasp/grasp_candidates`` (GraspCandidates, latched) and ``/ifgrasp/grasp_markers``
(visualization_msgs/MarkerArray: wrist frames and fingertips of the top ``markers_top_n``, base frame;
only where the ``visualization_msgs`` package is installed). Parameters: config/grasp_generator.yaml.
"""

from __future__ import annotations

from dataclasses import replace

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from std_msgs.msg import Header

from ifgrasp.pipeline import GenerateStage, make_generator
from ifgrasp_interfaces.msg import GraspCandidates
from ifgrasp_interfaces.srv import GenerateGrasps

from ifgrasp_ros.conversions import grasp_candidates_from_batch, matrix_from_transform, object_cloud_from_msg
from ifgrasp_ros.node_main import run_node
from ifgrasp_ros.stage_service import serve


class GraspGeneratorNode(Node):
    def __init__(self) -> None:
        super().__init__("grasp_generator")
        p = {name: self.declare_parameter(name, default).value for name, default in (
            ("generator", "diffusion"), ("model_path", "models/student/student_flow.pt"), ("runtime", "auto"),
            ("onnx_path", ""), ("num_candidates", 64), ("num_grasps", 16), ("sampling_steps", 0),
            ("base_frame", "link_base"), ("service", "/ifgrasp/generate_grasps"),
            ("candidates_topic", "/ifgrasp/grasp_candidates"), ("markers_topic", "/ifgrasp/grasp_markers"),
            ("markers_top_n", 5),
        )}
        self.p = p
        self.generator = make_generator(p["generator"], model_path=p["model_path"],
                                        steps=int(p["sampling_steps"]) or None,  # 0: the checkpoint's own
                                        runtime=p["runtime"], onnx_path=p["onnx_path"],
                                        num_candidates=int(p["num_candidates"]))
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.pub_candidates = self.create_publisher(GraspCandidates, p["candidates_topic"], latched)
        self.pub_markers = None
        try:
            from visualization_msgs.msg import MarkerArray

            self.pub_markers = self.create_publisher(MarkerArray, p["markers_topic"], latched)
        except ImportError:
            self.get_logger().warning(f"visualization_msgs is not installed: no {p['markers_topic']} for RViz")
        serve(self, GenerateGrasps, p["service"], self.on_generate)
        self.get_logger().info(f"grasp_generator ready: {p['service']} ({p['generator']}, {p['model_path']})")

    def on_generate(self, req, resp) -> None:
        cloud = replace(object_cloud_from_msg(req.target), frame="camera")  # the student's name for the optical frame
        k = int(req.k) if req.k > 0 else int(self.p["num_grasps"])
        batch = GenerateStage(self.generator, k)(cloud, matrix_from_transform(req.t_base_camera))  # base frame
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.p["base_frame"])
        resp.candidates = grasp_candidates_from_batch(batch, header, cloud.object_name, cloud.part_name)
        resp.message = f"{len(batch)} grasps for the {cloud.part_name} of the {cloud.object_name}"
        self.pub_candidates.publish(resp.candidates)
        if self.pub_markers is not None:
            from ifgrasp_ros.markers import grasp_marker_array

            self.pub_markers.publish(grasp_marker_array(batch, header, int(self.p["markers_top_n"])))


def main(args=None) -> int:
    return run_node(GraspGeneratorNode, args, default_params="grasp_generator.yaml")


if __name__ == "__main__":
    raise SystemExit(main())
