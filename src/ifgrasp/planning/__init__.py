"""Motion planning for grasps: IK of pre-grasp/grasp/lift poses, a sphere collision model of the
xArm7 + LEAP Hand against the table and the observed cloud, and time-parametrised joint trajectories.

    from ifgrasp.planning import GraspPlanner
    plan = GraspPlanner().plan(q_current, T_base_hand, hand_joints, cloud_base_m)
    plan.approach.times_s, plan.approach.q      # (T,), (T, 7)
"""

from ifgrasp.planning.collision import ArmCollisionModel, CloudObstacle, CollisionReport
from ifgrasp.planning.planner import (CollisionError, GraspPlan, GraspPlanner, PlannerConfig,
                                      UnreachableGraspError, grasp_poses)
from ifgrasp.planning.trajectory import JointTrajectory, densify, time_parametrize

__all__ = ["ArmCollisionModel", "CloudObstacle", "CollisionError", "CollisionReport", "GraspPlan", "GraspPlanner",
           "JointTrajectory", "PlannerConfig", "UnreachableGraspError", "densify", "grasp_poses",
           "time_parametrize"]
