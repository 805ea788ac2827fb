"""The pipeline's stage products <-> the stage services' messages (``ifgrasp_interfaces/srv``):
``GroundedInstruction`` <-> ``msg/GroundedInstruction``; ``GraspPlan`` <-> the ``PlanGrasp`` response.
Numbers go through unchanged (float64), so a plan sent across is the plan the planner made."""

from __future__ import annotations

import numpy as np

from ifgrasp.grounding import GroundedInstruction
from ifgrasp.planning import GraspPlan
from ifgrasp.planning.trajectory import JointTrajectory

from ifgrasp_interfaces.msg import GroundedInstruction as GroundedMsg
from ifgrasp_interfaces.srv import PlanGrasp

from ifgrasp_ros.conversions import (joint_trajectory_from_msg, joint_trajectory_to_msg, matrix_from_pose,
                                     pose_from_matrix)

ARM_JOINTS = tuple(f"joint{i}" for i in range(1, 8))


def grounded_to_msg(g: GroundedInstruction) -> GroundedMsg:
    return GroundedMsg(text=g.text, object_name=g.category, part_name=g.part, part_is_default=bool(g.part_is_default),
                       contact_parts=list(g.contact_parts), avoid_parts=list(g.avoid_parts),
                       attributes=list(g.attributes), relations=list(g.relations), intent=g.intent,
                       other_objects=list(g.other_objects))


def grounded_from_msg(m: GroundedMsg) -> GroundedInstruction:
    return GroundedInstruction(text=m.text, category=m.object_name, part=m.part_name,
                               part_is_default=bool(m.part_is_default), contact_parts=tuple(m.contact_parts),
                               avoid_parts=tuple(m.avoid_parts), attributes=tuple(m.attributes),
                               relations=tuple(m.relations), intent=m.intent or "pick",
                               other_objects=tuple(m.other_objects))


def _trajectory_msg(traj: JointTrajectory):
    return joint_trajectory_to_msg(traj.times_s, traj.q, traj.joint_names or ARM_JOINTS)


def _trajectory(msg, waypoints) -> JointTrajectory:
    t, q = joint_trajectory_from_msg(msg)
    wi = np.asarray(waypoints, np.int64) if len(waypoints) else None
    return JointTrajectory(t, q, tuple(msg.joint_names), wi)


def plan_to_response(plan: GraspPlan, resp: PlanGrasp.Response) -> PlanGrasp.Response:
    """Fill ``resp`` (success, candidate, trajectories, configurations, grasp) from ``plan``."""
    resp.success, resp.candidate = True, int(plan.candidate)
    resp.approach, resp.lift = _trajectory_msg(plan.approach), _trajectory_msg(plan.lift)
    for name, traj in (("approach_waypoints", plan.approach), ("lift_waypoints", plan.lift)):
        setattr(resp, name, [] if traj.waypoint_index is None else [int(i) for i in traj.waypoint_index])
    resp.q_pregrasp, resp.q_grasp, resp.q_lift = (np.asarray(q, np.float64).tolist()
                                                  for q in (plan.q_pregrasp, plan.q_grasp, plan.q_lift))
    resp.grasp_pose = pose_from_matrix(plan.T_base_hand)
    resp.hand_joint_positions = np.asarray(plan.hand_joints_rad, np.float64).tolist()
    return resp


def plan_from_response(resp: PlanGrasp.Response) -> GraspPlan:
    return GraspPlan(approach=_trajectory(resp.approach, resp.approach_waypoints),
                     lift=_trajectory(resp.lift, resp.lift_waypoints), candidate=int(resp.candidate),
                     q_pregrasp=np.asarray(resp.q_pregrasp, np.float64), q_grasp=np.asarray(resp.q_grasp, np.float64),
                     q_lift=np.asarray(resp.q_lift, np.float64), T_base_hand=matrix_from_pose(resp.grasp_pose),
                     hand_joints_rad=np.asarray(resp.hand_joint_positions, np.float64))
