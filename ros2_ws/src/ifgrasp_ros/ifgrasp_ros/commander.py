"""``commander``: the ``GraspCommand`` service and the ``ExecuteGrasp`` action over ``GraspPipeline``.

It orchestrates; the stages run in their own nodes and are called through their services with
bounded waits (``ifgrasp_ros.remote_stages``): grounding (``/ifgrasp/ground``), perception
(``/ifgrasp/perceive``), grasp generation (``/ifgrasp/generate_grasps``) and planning
(``/ifgrasp/plan_grasp``); it drives the arm and hand through the driver nodes' interface
(``ifgrasp_ros.driver_interface``; ``sim_world`` or the hardware driver nodes). Feedback per stage
(the execute, lift and place stages with the arm's trajectory progress); a second goal while one
runs is rejected at once (never accepted then aborted); cancel stops the arm (it holds); a stage
node that is missing, crashed or silent ends the goal with that stage and its service named
(STAGE_FAILED; a killed node within ``stage_service.LIVELINESS_LEASE_S``), a silent driver or
camera with the stage and the topic named, never a hang.

A session: after the lift the hand's own reading on ``/joint_states`` (positions, efforts) decides
whether the object is held (``ifgrasp.pipeline.hold``; DROPPED with the evidence when not); the
action's goals "put it back", "let go", "go home" (or ``/ifgrasp/place``, ``/ifgrasp/release``,
``/ifgrasp/home``, std_srvs/Trigger) go on from there; a grasp while holding answers HOLDING.
Parameters: config/commander.yaml.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from ifgrasp.pipeline import GraspPipeline, PipelineRequest
from ifgrasp.pipeline.frames import RestWatch
from ifgrasp.pipeline.hold import HoldCheck
from ifgrasp.pipeline.stages import ExecuteStage, LiftStage, SessionStage
from ifgrasp_interfaces.action import ExecuteGrasp
from ifgrasp_interfaces.msg import StageLatency
from ifgrasp_interfaces.srv import GraspCommand

from ifgrasp_ros.conversions import hand_grasp_msgs
from ifgrasp_ros.node_main import run_node
from ifgrasp_ros.remote_stages import RemoteStages
from ifgrasp_ros.ros_clients import ArmClient, HandClient, JointStateCache

ARM_JOINTS = [f"joint{i}" for i in range(1, 8)]


class CommanderNode(Node):
    def __init__(self) -> None:
        super().__init__("commander")
        p = {name: self.declare_parameter(name, default).value for name, default in (
            ("frame_timeout_s", 5.0), ("fresh_frames", True), ("max_frame_age_s", 2.0), ("lift_height_m", 0.12), ("num_grasps", 16), ("base_frame", "link_base"),
            ("ground_service", "/ifgrasp/ground"), ("perceive_service", "/ifgrasp/perceive"),
            ("generate_service", "/ifgrasp/generate_grasps"), ("plan_service", "/ifgrasp/plan_grasp"),
            ("service_wait_s", 30.0), ("ground_timeout_s", 10.0), ("perceive_timeout_s", 30.0),
            ("generate_timeout_s", 60.0), ("plan_timeout_s", 60.0),
            ("hand_effort_unit", "A"), ("hold_block_rad", 0.04), ("hold_min_fingers", 1), ("hold_min_current_a", 0.05),
            ("target_margin_m", 0.005), ("pregrasp_offset_m", 0.10), ("max_grasp_tries", 3),
        )}
        self.p = p
        self.group = ReentrantCallbackGroup()
        # frames stamped after the robot last moved show it where it is (ifgrasp.pipeline.frames)
        self.rest = RestWatch()
        self.create_subscription(JointState, "/joint_states", self._on_joint_states, 10, callback_group=self.group)
        self.stages = RemoteStages(self, p, self.group, rest=self.rest)
        self.joints = JointStateCache(self, ARM_JOINTS, group=self.group)
        self.arm = ArmClient(self, "/ifgrasp/arm", ARM_JOINTS, self.group)
        from ifgrasp.hand import JOINT_NAMES

        self.hand_joints = JointStateCache(self, list(JOINT_NAMES), group=self.group)
        self.hand = HandClient(self, "/ifgrasp/hand", list(JOINT_NAMES), self.group)
        check = HoldCheck(block_rad=float(p["hold_block_rad"]), min_blocked_fingers=int(p["hold_min_fingers"]),
                          min_current_a=float(p["hold_min_current_a"]))
        self.pipeline = GraspPipeline(  # get_frame None: the perception node reads the camera
            None, self.joints.get, self.stages.perceive, self.stages.generate, self.stages.plan,
            ExecuteStage(self.arm, self.hand), LiftStage(self.arm, self.hand), float(p["frame_timeout_s"]),
            grounder=self.stages.ground, read_hand=self.read_hand, hold_check=check,
            session=SessionStage(self.arm, self.hand), look=self.stages.look,
            target_margin_m=float(p["target_margin_m"]), pregrasp_offset_m=float(p["pregrasp_offset_m"]),
            max_grasp_tries=int(p["max_grasp_tries"]))
        self._goal_lock = threading.Lock()
        self._goal_active = False
        self.create_service(GraspCommand, "/ifgrasp/grasp_command", self.on_command, callback_group=self.group)
        self.action = ActionServer(self, ExecuteGrasp, "/ifgrasp/execute_grasp", self.on_execute,
                                   goal_callback=self.on_goal, cancel_callback=self.on_cancel,
                                   callback_group=self.group)
        for task in ("place", "release", "home"):
            self.create_service(Trigger, f"/ifgrasp/{task}", lambda req, resp, t=task: self.on_task(t, resp),
                                callback_group=self.group)
        self.get_logger().info("commander ready: /ifgrasp/grasp_command, /ifgrasp/execute_grasp over "
                               + ", ".join(p[k] for k in ("ground_service", "perceive_service", "generate_service",
                                                          "plan_service")))

    def _on_joint_states(self, msg: JointState) -> None:
        self.rest.update(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, msg.position)

    def read_hand(self):
        """The hand's reading for the held decision (and the plan's own-hand filter): /joint_states
        positions and efforts (16,); a hand never heard fails at once (a replayed bag without it)."""
        q = self.hand_joints.get(2.0 if self.hand_joints.q is not None else 0.0)
        return q, self.hand_joints.effort, str(self.p["hand_effort_unit"])

    # --- service: plan only ------------------------------------------------------------------
    def on_command(self, req, resp):
        res = self.pipeline.run(PipelineRequest(instruction=req.instruction, task="grasp"), execute=False)
        resp.success, resp.message, resp.candidates = res.success, res.message, list(res.candidates)
        resp.error_code, resp.failed_stage = int(res.error_code), res.failed_stage
        if res.grounded is not None:
            resp.object_name, resp.part_name = res.grounded.category, res.grounded.part
        if res.grasp is not None:
            resp.grasp = hand_grasp_msgs(res.grasp, self._header(), resp.part_name)[0]
        return resp

    # --- services: the session's moves ----------------------------------------------------------
    def on_task(self, task: str, resp):
        """/ifgrasp/place, /ifgrasp/release, /ifgrasp/home: like the goals "put it back", "let go",
        "go home" (refused while a goal runs)."""
        if not self._claim():
            resp.success, resp.message = False, "BUSY: a command is already running; wait for it or cancel it"
            return resp
        try:
            res = self.pipeline.run(PipelineRequest(task=task))
        finally:
            self._release_claim()
        resp.success = res.success
        resp.message = res.message if res.success else f"{res.error_code.name}: {res.message}"
        return resp

    # --- action ------------------------------------------------------------------------------
    def _claim(self) -> bool:
        with self._goal_lock:
            if self._goal_active or self.pipeline.busy:
                return False
            self._goal_active = True
            return True

    def _release_claim(self) -> None:
        with self._goal_lock:
            self._goal_active = False

    def on_goal(self, goal):
        """Reject a goal while another runs (the client sees "not accepted" at once)."""
        if self._claim():
            return GoalResponse.ACCEPT
        self.get_logger().warning(f"goal '{goal.instruction or goal.object_name}' rejected: a command is already running")
        return GoalResponse.REJECT

    def on_cancel(self, _goal_handle):
        self.pipeline.cancel()
        return CancelResponse.ACCEPT

    def on_execute(self, goal_handle):
        try:
            return self._execute(goal_handle)
        finally:
            self._release_claim()

    def _execute(self, goal_handle):
        g = goal_handle.request

        def feedback(f) -> None:
            msg = ExecuteGrasp.Feedback(stage=f.index, stage_name=f.stage, progress=float(f.progress),
                                        stage_progress=float(f.stage_progress), elapsed_s=float(f.elapsed_s),
                                        message=f.message)
            goal_handle.publish_feedback(msg)

        place = None
        if g.place_pose.header.frame_id:
            pos = g.place_pose.pose.position
            place = np.array([pos.x, pos.y, pos.z])
        res = self.pipeline.run(PipelineRequest(g.instruction, g.object_name, g.part_name, g.lift_height_m,
                                                place_position_m=place), feedback)
        motion = float(res.command_to_motion_s)
        out = ExecuteGrasp.Result(success=res.success, error_code=int(res.error_code), message=res.message,
                                  failed_stage=res.failed_stage, task=res.task, held=res.held, evidence=res.evidence,
                                  command_to_motion_s=-1.0 if math.isnan(motion) else motion)
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
        line = f"goal '{g.instruction or g.object_name}': {res.error_code.name}: {res.message}"
        if res.success:  # (rclpy binds one severity to each logging call site)
            self.get_logger().info(line)
        else:
            self.get_logger().warning(line)
        return out

    def _header(self) -> Header:
        return Header(stamp=self.get_clock().now().to_msg(), frame_id=self.p["base_frame"])


def main(args=None) -> int:
    from rclpy.executors import MultiThreadedExecutor

    return run_node(CommanderNode, args, default_params="commander.yaml",
                    make_executor=lambda: MultiThreadedExecutor(num_threads=4))


if __name__ == "__main__":
    raise SystemExit(main())
