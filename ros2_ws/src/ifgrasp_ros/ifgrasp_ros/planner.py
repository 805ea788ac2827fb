"""``planner``: the ``/ifgrasp/plan_grasp`` service (``ifgrasp_interfaces/srv/PlanGrasp``) over
``ifgrasp.pipeline.PlanStage`` (xArm7 IK for pre-grasp, grasp and lift; joint trajectories within
the velocity and acceleration limits, collision-checked against the table and the observed cloud).

A request carries the candidates (base frame, best first), the arm's current joints and the scene
points (base frame); the answer is the first plannable candidate's index, the approach and lift
``trajectory_msgs/JointTrajectory``s and the grasp (pose, 16 hand joints), or UNREACHABLE with the
reason. The last plan's approach + lift is published (latched) on ``/ifgrasp/planned_trajectory``
for inspection. Parameters: config/planner.yaml.
"""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory

from ifgrasp.errors import InputError
from ifgrasp.pipeline import PlanStage
from ifgrasp.planning import GraspPlanner, PlannerConfig
from ifgrasp_interfaces.srv import PlanGrasp

from ifgrasp_ros.conversions import batch_from_grasp_candidates, joint_trajectory_to_msg, points_from_cloud
from ifgrasp_ros.node_main import run_node
from ifgrasp_ros.stage_conversions import ARM_JOINTS, plan_to_response
from ifgrasp_ros.stage_service import serve


class PlannerNode(Node):
    def __init__(self) -> None:
        super().__init__("planner")
        p = {name: self.declare_parameter(name, default).value for name, default in (
            ("planning_yaml", ""), ("lift_height_m", 0.12), ("base_frame", "link_base"),
            ("service", "/ifgrasp/plan_grasp"), ("trajectory_topic", "/ifgrasp/planned_trajectory"),
        )}
        self.p = p
        cfg = PlannerConfig.from_yaml(p["planning_yaml"]) if p["planning_yaml"] else PlannerConfig(
            lift_height_m=float(p["lift_height_m"]))
        self.stage = PlanStage(GraspPlanner(cfg))
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.pub_traj = self.create_publisher(JointTrajectory, p["trajectory_topic"], latched)
        serve(self, PlanGrasp, p["service"], self.on_plan)
        self.get_logger().info(f"planner ready: {p['service']}")

    def on_plan(self, req, resp) -> None:
        q = np.asarray(req.q_current, np.float64)
        if q.shape != (len(ARM_JOINTS),):
            raise InputError(f"q_current must hold {len(ARM_JOINTS)} arm joints ({', '.join(ARM_JOINTS)}), got {q.shape[0]}")
        grasps = batch_from_grasp_candidates(req.candidates)
        if len(grasps) == 0:
            raise InputError("no grasp candidates to plan for")
        scene = points_from_cloud(req.scene)[0].astype(np.float64) if req.scene.width * req.scene.height else None
        plan = self.stage(q, grasps, scene, req.lift_height_m if req.lift_height_m > 0 else None)
        plan_to_response(plan, resp)
        resp.message = (f"candidate {plan.candidate} of {len(grasps)}: approach {plan.approach.duration_s:.2f} s, "
                        f"lift {plan.lift.duration_s:.2f} s")
        whole = plan.approach.then(plan.lift)
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.p["base_frame"])
        self.pub_traj.publish(joint_trajectory_to_msg(whole.times_s, whole.q, ARM_JOINTS, header))


def main(args=None) -> int:
    return run_node(PlannerNode, args, default_params="planner.yaml")


if __name__ == "__main__":
    raise SystemExit(main())
