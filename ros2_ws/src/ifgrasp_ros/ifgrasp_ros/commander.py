"""``commander``: the ``GraspCommand`` service and the ``ExecuteGrasp`` action over ``GraspPipeline``.

It grounds, perceives (segmentation backend ``backend:=oracle|pretrained`` on the camera topics,
``T_base_camera`` from its parameters), generates (``generator`` backend + ``model_path``; refuses
to start when the model is missing), plans, and drives the arm and hand through the driver nodes'
interface (``ifgrasp_ros.driver_interface``; ``sim_world`` or the hardware driver nodes). Feedback
per stage; a second goal while one runs ends at once with BUSY; cancel stops the arm (it holds);
a silent driver or camera ends the goal with the stage and the topic named, never a hang.
After every command it publishes what perception and generation produced (latched, for RViz and
tests): ``/ifgrasp/target_cloud`` (ObjectCloud, camera optical frame, part field = instructed part)
and ``/ifgrasp/grasp_candidates`` (GraspCandidates, base frame, best first).
Parameters: config/commander.yaml.
"""

from __future__ import annotations

import math

import numpy as np
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from std_msgs.msg import Header

from ifgrasp.errors import ConfigError, IfgraspError
from ifgrasp.pipeline import (GenerateStage, GraspPipeline, PerceiveStage, PipelineRequest, PlanStage,
                              make_generator, sim_oracle_backend)
from ifgrasp.pipeline.stages import ExecuteStage, LiftStage
from ifgrasp.planning import GraspPlanner, PlannerConfig
from ifgrasp_interfaces.action import ExecuteGrasp
from ifgrasp_interfaces.msg import GraspCandidates, ObjectCloud, StageLatency
from ifgrasp_interfaces.srv import GraspCommand

from ifgrasp_ros.conversions import grasp_candidates_from_batch, hand_grasp_msgs, object_cloud_to_msg
from ifgrasp_ros.node_main import run_node
from ifgrasp_ros.ros_clients import ArmClient, CameraCache, HandClient, JointStateCache

ARM_JOINTS = [f"joint{i}" for i in range(1, 8)]


class CommanderNode(Node):
    def __init__(self) -> None:
        super().__init__("commander")
        p = {name: self.declare_parameter(name, default).value for name, default in (
            ("backend", "oracle"), ("generator", "diffusion"), ("model_path", "models/student/student.pt"),
            ("runtime", "auto"), ("onnx_path", ""), ("num_candidates", 64), ("num_grasps", 16),
            ("sampling_steps", 8), ("T_base_camera", [0.0] * 16), ("frame_timeout_s", 5.0),
            ("lift_height_m", 0.12), ("planning_yaml", ""), ("base_frame", "link_base"),
            ("color_topic", "/camera/camera/color/image_raw"),
            ("info_topic", "/camera/camera/color/camera_info"),
            ("depth_topic", "/camera/camera/aligned_depth_to_color/image_raw"),
            ("object_labels_topic", "/ifgrasp/sim/object_labels"),
            ("part_labels_topic", "/ifgrasp/sim/part_labels"),
            ("label_names_topic", "/ifgrasp/sim/label_names"),
            ("camera_frame", "camera_color_optical_frame"),
            ("target_cloud_topic", "/ifgrasp/target_cloud"),
            ("candidates_topic", "/ifgrasp/grasp_candidates"),
        )}
        T = np.asarray(p["T_base_camera"], dtype=float)
        if T.shape != (16,) or not np.allclose(T.reshape(4, 4)[3], [0, 0, 0, 1]):
            raise ConfigError("parameter 'T_base_camera' must be 16 numbers, a row-major 4x4 rigid transform "
                              f"mapping camera optical-frame points into the base frame; got {T.tolist()}")
        if p["backend"] not in ("oracle", "pretrained", "trained"):
            raise ConfigError(f"unknown perception backend '{p['backend']}'; known: oracle, pretrained, trained")
        self.p = p
        self.group = ReentrantCallbackGroup()
        generator = make_generator(p["generator"], model_path=p["model_path"], steps=int(p["sampling_steps"]),
                                   runtime=p["runtime"], onnx_path=p["onnx_path"],
                                   num_candidates=int(p["num_candidates"]))
        topics = {"color": p["color_topic"], "info": p["info_topic"], "depth": p["depth_topic"],
                  "objects": p["object_labels_topic"], "parts": p["part_labels_topic"], "names": p["label_names_topic"]}
        oracle = p["backend"] == "oracle"
        self.camera = CameraCache(self, topics, T.reshape(4, 4), labels=oracle, group=self.group)
        self.joints = JointStateCache(self, ARM_JOINTS, group=self.group)
        self.arm = ArmClient(self, "/ifgrasp/arm", ARM_JOINTS, self.group)
        from ifgrasp.hand import JOINT_NAMES

        self.hand = HandClient(self, "/ifgrasp/hand", list(JOINT_NAMES), self.group)
        self._backend_name = p["backend"]
        self._backend = None
        planner_cfg = PlannerConfig.from_yaml(p["planning_yaml"]) if p["planning_yaml"] else PlannerConfig(
            lift_height_m=p["lift_height_m"])
        self.pipeline = GraspPipeline(
            self.camera.get_frame, self.joints.get, PerceiveStage(_LazyBackend(self)),
            GenerateStage(generator, int(p["num_grasps"])), PlanStage(GraspPlanner(planner_cfg)),
            ExecuteStage(self.arm, self.hand), LiftStage(self.arm, self.hand), float(p["frame_timeout_s"]))
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.pub_cloud = self.create_publisher(ObjectCloud, p["target_cloud_topic"], latched)
        self.pub_candidates = self.create_publisher(GraspCandidates, p["candidates_topic"], latched)
        self.create_service(GraspCommand, "/ifgrasp/grasp_command", self.on_command, callback_group=self.group)
        self.action = ActionServer(self, ExecuteGrasp, "/ifgrasp/execute_grasp", self.on_execute,
                                   goal_callback=lambda _g: GoalResponse.ACCEPT,
                                   cancel_callback=self.on_cancel, callback_group=self.group)
        self.get_logger().info(f"commander ready: /ifgrasp/grasp_command, /ifgrasp/execute_grasp "
                               f"(perception {p['backend']}, generator {p['generator']})")

    def segmentation(self):
        """The segmentation backend, built once the first frame's label names are known (oracle)."""
        if self._backend is None:
            from ifgrasp.perception.segmentation import make_backend

            if self._backend_name == "trained":
                import ifgrasp.perception.trained.backend  # noqa: F401  (registers "trained")
            if self._backend_name == "oracle":
                objs = self.camera.label_names or []
                self._backend = sim_oracle_backend([(o["category"], tuple(o["parts"])) for o in objs])
            else:
                self._backend = make_backend(self._backend_name)
        return self._backend

    # --- service: plan only ------------------------------------------------------------------
    def on_command(self, req, resp):
        res = self.pipeline.run(PipelineRequest(instruction=req.instruction), execute=False)
        self.publish_artifacts(res)
        resp.success, resp.message = res.success, res.message
        if res.grounded is not None:
            resp.object_name, resp.part_name = res.grounded.category, res.grounded.part
        if res.grasp is not None:
            resp.grasp = hand_grasp_msgs(res.grasp, self._header(), resp.part_name)[0]
        return resp

    # --- action ------------------------------------------------------------------------------
    def on_cancel(self, _goal_handle):
        self.pipeline.cancel()
        return CancelResponse.ACCEPT

    def on_execute(self, goal_handle):
        g = goal_handle.request

        def feedback(f) -> None:
            msg = ExecuteGrasp.Feedback(stage=f.index, stage_name=f.stage, progress=float(f.progress),
                                        elapsed_s=float(f.elapsed_s), message=f.message)
            goal_handle.publish_feedback(msg)

        res = self.pipeline.run(PipelineRequest(g.instruction, g.object_name, g.part_name, g.lift_height_m), feedback)
        self.publish_artifacts(res)
        out = ExecuteGrasp.Result(success=res.success, error_code=int(res.error_code), message=res.message,
                                  failed_stage=res.failed_stage,
                                  command_to_motion_s=float(res.command_to_motion_s))
        out.stage_latencies = [StageLatency(stage=s, seconds=float(v)) for s, v in res.stage_latencies_s.items()]
        if res.grounded is not None:
            out.object_name, out.part_name = res.grounded.category, res.grounded.part
        if res.grasp is not None:
            out.grasp = hand_grasp_msgs(res.grasp, self._header(), out.part_name)[0]
        if res.success:
            goal_handle.succeed()
        elif goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        level = self.get_logger().info if res.success else self.get_logger().warning
        level(f"goal '{g.instruction or g.object_name}': {res.error_code.name}: {res.message}")
        return out

    def publish_artifacts(self, res) -> None:
        """The target cloud and the candidates of a run, where its stages got that far."""
        perception, grasps = res.artifacts.get("perception"), res.artifacts.get("grasps")
        obj, part = (res.grounded.category, res.grounded.part) if res.grounded is not None else ("", "")
        if perception is not None:
            h = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.p["camera_frame"])
            self.pub_cloud.publish(object_cloud_to_msg(perception.cloud, h))
        if grasps is not None:
            self.pub_candidates.publish(grasp_candidates_from_batch(grasps, self._header(), obj, part))

    def _header(self) -> Header:
        return Header(stamp=self.get_clock().now().to_msg(), frame_id=self.p["base_frame"])


class _LazyBackend:
    """Segmentation backend resolved at the first use (the oracle needs the sim's label names)."""

    name = "lazy"

    def __init__(self, node: CommanderNode) -> None:
        self.node = node

    def segment(self, frame, grounded):
        return self.node.segmentation().segment(frame, grounded)


def main(args=None) -> int:
    from rclpy.executors import MultiThreadedExecutor

    return run_node(CommanderNode, args, default_params="commander.yaml",
                    make_executor=lambda: MultiThreadedExecutor(num_threads=4))


if __name__ == "__main__":
    raise SystemExit(main())
