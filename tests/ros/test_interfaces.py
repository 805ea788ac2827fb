"""ifgrasp_interfaces: every type imports, has the agreed fields and constants, and round-trips
through rclpy's CDR serialization; both package.xml files pass catkin_pkg validation."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ifgrasp_interfaces", reason="ROS 2 workspace not built: run scripts/install.sh")

from geometry_msgs.msg import Point, Pose, Quaternion  # noqa: E402
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402

from ifgrasp_interfaces.action import ExecuteGrasp  # noqa: E402
from ifgrasp_interfaces.msg import GraspCandidates, HandGrasp, ObjectCloud, StageLatency  # noqa: E402
from ifgrasp_interfaces.srv import GraspCommand  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
STAGES = ["ground", "perceive", "generate", "plan", "execute", "lift", "verify", "place", "release", "home"]


def round_trip(msg):
    back = deserialize_message(serialize_message(msg), type(msg))
    assert back == msg
    return back


def a_grasp(i: int = 0) -> HandGrasp:
    g = HandGrasp(wrist_pose=Pose(position=Point(x=0.4 + i, y=-0.1, z=0.2),
                                  orientation=Quaternion(x=0.0, y=1.0, z=0.0, w=0.0)),
                  joint_positions=np.linspace(0, 1.5, 16) + i, score=0.75, part_contact_share=0.875,
                  part_name="handle")
    g.header.frame_id = "link_base"
    g.header.stamp.sec = 12
    return g


def test_hand_grasp_and_candidates_round_trip():
    g = round_trip(a_grasp())
    np.testing.assert_allclose(g.joint_positions, np.linspace(0, 1.5, 16))
    assert len(HandGrasp().joint_positions) == 16  # fixed-size array
    c = GraspCandidates(object_name="mug", part_name="handle", grasps=[a_grasp(i) for i in range(3)])
    assert [x.wrist_pose.position.x for x in round_trip(c).grasps] == [0.4, 1.4, 2.4]


def test_object_cloud_wraps_pointcloud2():
    m = ObjectCloud(object_name="mug", part_name="handle")
    assert type(m.cloud).__name__ == "PointCloud2"
    round_trip(m)


def test_grasp_command_service():
    req = round_trip(GraspCommand.Request(instruction="pick up the mug by its handle"))
    assert req.instruction.startswith("pick up")
    res = GraspCommand.Response(success=False, object_name="mug", part_name="", grasp=a_grasp(),
                                message="which mug?", candidates=["mug_0", "mug_1"],
                                error_code=ExecuteGrasp.Result.AMBIGUOUS, failed_stage="perceive")
    back = round_trip(res)
    assert list(back.candidates) == ["mug_0", "mug_1"] and back.error_code == 9 and back.failed_stage == "perceive"


def test_execute_grasp_action_goal_feedback_result():
    A = ExecuteGrasp
    round_trip(A.Goal(instruction="", object_name="hammer", part_name="handle", lift_height_m=0.15))
    stage_consts = [getattr(A.Feedback, f"STAGE_{s.upper()}") for s in STAGES]
    assert stage_consts == list(range(len(STAGES)))  # numbered in run order
    fb = round_trip(A.Feedback(stage=A.Feedback.STAGE_PLAN, stage_name="plan", progress=0.5, stage_progress=0.25,
                               elapsed_s=1.25, message="planning"))
    assert fb.stage_name == STAGES[fb.stage] and fb.stage_progress == 0.25

    codes = {n: getattr(A.Result, n) for n in ("OK", "UNKNOWN_OBJECT", "UNKNOWN_PART", "NO_CAMERA_DATA",
                                                 "NO_GRASP", "UNREACHABLE", "CANCELLED", "BUSY",
                                                 "STAGE_FAILED", "AMBIGUOUS", "INVALID_GOAL", "TIMEOUT",
                                                 "DROPPED", "HOLDING", "NOT_HOLDING")}
    assert codes["OK"] == 0 and len(set(codes.values())) == len(codes)  # distinct codes
    res = A.Result(success=False, error_code=A.Result.UNREACHABLE, message="no IK solution",
                   failed_stage="plan", object_name="mug", part_name="handle", grasp=a_grasp(),
                   stage_latencies=[StageLatency(stage=s, seconds=0.1 * i) for i, s in enumerate(STAGES[:4])],
                   command_to_motion_s=-1.0, task="grasp", held=False, evidence="0 of 4 fingers")
    back = round_trip(res)
    assert [s.stage for s in back.stage_latencies] == STAGES[:4] and back.command_to_motion_s == -1.0
    assert (back.task, back.held, back.evidence) == ("grasp", False, "0 of 4 fingers")
    assert back.error_code == A.Result.UNREACHABLE and back.failed_stage == "plan"
    # the action's generated service/message types exist (what rclpy.action needs)
    assert A.Impl.SendGoalService and A.Impl.GetResultService and A.Impl.FeedbackMessage


@pytest.mark.parametrize("package", ["ifgrasp_interfaces", "ifgrasp_ros"])
def test_package_xml_is_valid(package):
    from catkin_pkg.package import parse_package

    pkg = parse_package(str(REPO / "ros2_ws" / "src" / package / "package.xml"))
    pkg.validate()
    assert pkg.name == package and pkg.maintainers[0].email.endswith("@ifgrasp.dev")


def test_stage_services_round_trip():
    from builtin_interfaces.msg import Time
    from geometry_msgs.msg import Transform
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    from ifgrasp_interfaces.msg import GroundedInstruction
    from ifgrasp_interfaces.srv import GenerateGrasps, Ground, Perceive, PlanGrasp

    g = GroundedInstruction(text="hand me the knife, don't touch the blade", object_name="knife", part_name="handle",
                            part_is_default=True, contact_parts=["handle"], avoid_parts=["blade"], attributes=["red"],
                            relations=["left"], intent="handover", other_objects=[])
    assert list(round_trip(Ground.Response(success=True, grounded=g)).grounded.avoid_parts) == ["blade"]
    round_trip(Ground.Request(instruction="", object_name="mug", part_name="handle"))
    req = round_trip(Perceive.Request(grounded=g, timeout_s=2.0))
    assert round_trip(Perceive.Request(grounded=g, not_before=Time(sec=5, nanosec=7))).not_before.nanosec == 7
    assert req.grounded.object_name == "knife" and req.timeout_s == 2.0
    res = Perceive.Response(success=False, error_code=ExecuteGrasp.Result.AMBIGUOUS, message="which knife?",
                            t_base_camera=Transform(), candidates=["#0 red knife", "#1 red knife"])
    assert list(round_trip(res).candidates) == ["#0 red knife", "#1 red knife"]
    gen = round_trip(GenerateGrasps.Request(target=ObjectCloud(object_name="mug", part_name="handle"), k=8))
    assert gen.k == 8
    assert len(round_trip(GenerateGrasps.Response(candidates=GraspCandidates(grasps=[a_grasp()]))).candidates.grasps) == 1
    traj = JointTrajectory(joint_names=[f"joint{i}" for i in range(1, 8)],
                           points=[JointTrajectoryPoint(positions=[0.1] * 7)])
    round_trip(PlanGrasp.Request(candidates=GraspCandidates(grasps=[a_grasp()]), q_current=[0.0] * 7, lift_height_m=0.1))
    plan = round_trip(PlanGrasp.Response(success=True, candidate=3, approach=traj, lift=traj, approach_waypoints=[0],
                                         q_grasp=[0.2] * 7, hand_joint_positions=[0.5] * 16))
    assert plan.candidate == 3 and len(plan.approach.points) == 1 and len(plan.hand_joint_positions) == 16
