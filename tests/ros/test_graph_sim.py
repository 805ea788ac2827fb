"""End to end on the graph sim.launch.xml describes (each node in its own process, real DDS on
loopback, a private domain: sim_world, grounding, perception, grasp_generator, planner, commander):
"pick up the mug by its handle" through the ExecuteGrasp action, the GraspCommand service, and the
faults (unknown object, BUSY, cancel mid-motion, a killed driver, a killed stage node, no camera).

Until the trained student (models/student/student_flow.pt, the default) exists, the commander loads a checkpoint
conftest's ``student_model`` builds with the student's own ``save_checkpoint``: a tiny random GraspDiffusion whose
normaliser (``set_normalizer``) pins its samples to a palm-down grasp 7 cm above the instructed part
(so plan/execute/lift run for real); only the "mug >= 10 cm above the table" assertion depends on
the real model and is an expected failure without it.
"""

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ifgrasp_interfaces", reason="ROS 2 workspace not built: run scripts/install.sh")

from ifgrasp_ros.launch_xml import parse_launch  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from ifgrasp_interfaces.action import ExecuteGrasp  # noqa: E402
from ifgrasp_interfaces.srv import GenerateGrasps, GraspCommand, Ground, Perceive, PlanGrasp  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SIM_LAUNCH = REPO / "launch" / "sim.launch.xml"
STUDENT = REPO / "models" / "student" / "student_flow.pt"  # the default generator
STAGE_NAMES = ["ground", "perceive", "generate", "plan", "execute", "lift", "verify", "place", "release", "home"]
GRASP_STAGES = STAGE_NAMES[:7]


SERVICES = {"grounding": (Ground, "/ifgrasp/ground"), "perception": (Perceive, "/ifgrasp/perceive"),
            "grasp_generator": (GenerateGrasps, "/ifgrasp/generate_grasps"), "planner": (PlanGrasp, "/ifgrasp/plan_grasp")}


def start_graph(launch, model, only=None, extra=None):
    """Start the nodes sim.launch.xml names (``only``: a subset, by name), with its parameters and
    ``extra[name]`` command-line items appended; returns the processes by node name."""
    _, nodes = parse_launch(SIM_LAUNCH, {"model_path": str(model)})
    assert [n.name for n in nodes] == ["sim_world", "grounding", "perception", "grasp_generator", "planner", "commander"]
    return {n.name: launch(n.pkg, n.exe, args=n.ros_args() + list((extra or {}).get(n.name, ())))
            for n in nodes if only is None or n.name in only}


@pytest.fixture
def graph(launch, student_model):
    """Start exactly the nodes sim.launch.xml names, with its parameters; returns the processes."""
    return start_graph(launch, student_model)


def wait_ready(ros_node, procs, action_client, timeout_s=90.0):
    """The action server and every started stage node's service are up (the nodes have loaded)."""
    clients = [ros_node.node.create_client(*SERVICES[name]) for name in SERVICES if name in procs]
    ros_node.spin_until(lambda: action_client.server_is_ready() and all(c.service_is_ready() for c in clients),
                        timeout_s, "the ExecuteGrasp action server and the stage services", procs=list(procs.values()))


def run_goal(ros_node, client, procs, goal, timeout_s=120.0, on_feedback=None):
    feedback = []

    def fb(msg):
        feedback.append(msg.feedback)
        if on_feedback is not None:
            on_feedback(msg.feedback)

    fut = client.send_goal_async(goal, feedback_callback=fb)
    ros_node.spin_until(fut.done, 20.0, "goal acceptance", procs=list(procs.values()))
    handle = fut.result()
    res = handle.get_result_async()
    ros_node.spin_until(res.done, timeout_s, "the ExecuteGrasp result", procs=list(procs.values()))
    return handle, res.result().result, feedback


def call_command(ros_node, cli, text, timeout_s=60.0):
    fut = cli.call_async(GraspCommand.Request(instruction=text))
    ros_node.spin_until(fut.done, timeout_s, "the GraspCommand response")
    return fut.result()


def test_sim_graph_grasps_the_mug_then_reports_a_killed_stage_node(launch, ros_node, student_model):
    """One graph for three checks (each start costs ~30 s on a loaded 2-core machine): the service's
    plan-only path and its bad input, the action end to end, then a crashed generator. The commander
    gets short stage timeouts (test-only overrides) so the crash is reported in seconds."""
    graph = start_graph(launch, student_model, extra={"commander": ["-p", "generate_timeout_s:=20.0",
                                                                    "-p", "service_wait_s:=5.0"]})
    node = ros_node.node
    poses = []
    node.create_subscription(String, "/ifgrasp/sim/object_poses", lambda m: poses.append(json.loads(m.data)), 5)
    contacts = []
    node.create_subscription(String, "/ifgrasp/sim/object_contacts", lambda m: contacts.append(json.loads(m.data)), 5)
    client = ActionClient(node, ExecuteGrasp, "/ifgrasp/execute_grasp")
    wait_ready(ros_node, graph, client)

    # 1. GraspCommand: unknown object / part fail in grounding with the known names; a plan moves nothing
    cli = node.create_client(GraspCommand, "/ifgrasp/grasp_command")
    ros_node.spin_until(cli.service_is_ready, 30.0, "/ifgrasp/grasp_command", procs=list(graph.values()))
    for text, words in (("pick up the banana", "known:"), ("pick up the mug by its blade", "handle")):
        resp = call_command(ros_node, cli, text, 30.0)
        assert not resp.success and words in resp.message and resp.message.startswith("ground:")
        assert resp.failed_stage == "ground" and resp.error_code in (ExecuteGrasp.Result.UNKNOWN_OBJECT,
                                                                     ExecuteGrasp.Result.UNKNOWN_PART)
    resp = call_command(ros_node, cli, "grab the mug by the handle")
    assert resp.success, resp.message
    assert (resp.object_name, resp.part_name) == ("mug", "handle") and resp.grasp.header.frame_id == "link_base"
    assert resp.error_code == 0 and 0 <= resp.grasp.part_contact_share <= 1  # never NaN

    # 2. ExecuteGrasp end to end
    t0 = time.monotonic()
    _, result, feedback = run_goal(ros_node, client, graph, ExecuteGrasp.Goal(instruction="pick up the mug by its handle",
                                                                             lift_height_m=0.12))
    wall = time.monotonic() - t0
    # held or DROPPED, decided from the hand's reading and the camera; the simulator checks it below
    assert result.error_code in (ExecuteGrasp.Result.OK, ExecuteGrasp.Result.DROPPED), result.message
    assert result.success == result.held and "fingers stopped short" in result.evidence
    seen = list(dict.fromkeys(f.stage_name for f in feedback))
    assert seen == GRASP_STAGES and [STAGE_NAMES.index(s) for s in seen] == sorted(STAGE_NAMES.index(s) for s in seen)
    assert all(STAGE_NAMES[f.stage] == f.stage_name for f in feedback)
    lat = {s.stage: s.seconds for s in result.stage_latencies}
    assert list(lat) == GRASP_STAGES and all(v > 0 for v in lat.values())
    assert any(f.stage_name == "execute" and 0 < f.stage_progress < 1 for f in feedback)  # execute's progress
    assert 0 < result.command_to_motion_s < wall and result.command_to_motion_s >= lat["plan"]
    assert (result.object_name, result.part_name) == ("mug", "handle")
    assert result.grasp.header.frame_id == "link_base" and len(result.grasp.joint_positions) == 16
    n, m = len(poses), len(contacts)
    ros_node.spin_until(lambda: len(poses) > n and len(contacts) > m, 10.0, "/ifgrasp/sim/object_{poses,contacts}")
    mug = next(k for k in poses[-1] if k.startswith("mug"))
    height, touching = poses[-1][mug][2][3], contacts[-1].get(mug, {})

    # 3. the generator crashes: the next goal (another object: the mug's handle is now in the hand)
    # fails at generate, naming its service and node, never hangs
    # The simulator checks the decision where its own verdict is clear: the mug carried at least 10
    # of the 12 cm lift (held) or back on the table (dropped); a mug sagging or pivoting in the
    # fingers in between may go either way (a clean-clone run: origin 9.4 cm up, hanging from the
    # handle, the camera's rise under 4 cm: DROPPED).
    # A mug that slips out after the verify stage is back on the table though held was decided; the
    # next command must then find it gone (checked below).
    slipped_after_verify = result.held and height < 0.02
    if (height >= 0.10 or height < 0.02) and not slipped_after_verify:
        assert result.held == (height >= 0.10), f"held decided {result.held}, mug origin {height:.3f} m up"
    if result.held:
        # a grasp while holding says HOLDING; the hold is measured again first, so a mug that has since
        # slipped out is reported gone. The simulator's mug, just before the goal, decides which is right
        # where it is clear (still carried >= 10 cm up, or back on the table); a mug hanging in between
        # may go either way.
        n = len(poses)
        ros_node.spin_until(lambda: len(poses) > n, 10.0, "/ifgrasp/sim/object_poses")
        height_now = poses[-1][mug][2][3]
        _, holding, _ = run_goal(ros_node, client, {"commander": graph["commander"]},
                                 ExecuteGrasp.Goal(instruction="hold the spray bottle by its trigger"), 30.0)
        said_holding = holding.error_code == ExecuteGrasp.Result.HOLDING and "put it back" in holding.message
        said_gone = "is no longer in the hand" in holding.message
        if height_now >= 0.10:
            assert said_holding, f"mug origin {height_now:.3f} m up: {holding.message}"
        elif height_now < 0.02:
            assert said_gone, f"mug back on the table: {holding.message}"
        else:
            assert said_holding or said_gone, holding.message
    _, released, _ = run_goal(ros_node, client, graph, ExecuteGrasp.Goal(instruction="let go"), 60.0)
    assert released.success and released.task == "release" and not released.held, released.message
    # the scene as it started: a released mug may have fallen against the spray bottle's trigger, which
    # perception would then report occluded before the killed generator is reached
    reset = node.create_client(Trigger, "/ifgrasp/sim/reset")
    ros_node.spin_until(reset.service_is_ready, 10.0, "/ifgrasp/sim/reset")
    done = reset.call_async(Trigger.Request())
    ros_node.spin_until(done.done, 10.0, "the /ifgrasp/sim/reset response")
    assert done.result().success, done.result().message
    gen = graph["grasp_generator"]
    gen.expect_exit = -9
    gen.proc.kill()
    gen.wait(10.0)
    t_kill = time.monotonic()
    _, result, feedback = run_goal(ros_node, client, {"commander": graph["commander"]},
                                   ExecuteGrasp.Goal(instruction="hold the spray bottle by its trigger"), 60.0)
    assert not result.success and result.failed_stage == "generate", result.message
    assert result.error_code == ExecuteGrasp.Result.STAGE_FAILED
    assert "/ifgrasp/generate_grasps" in result.message and "grasp_generator" in result.message
    assert {f.stage_name for f in feedback} == {"ground", "perceive", "generate"}
    print(f"killed generator reported {time.monotonic() - t_kill:.2f} s after the kill (liveliness lease 1 s)")
    assert time.monotonic() - t_kill < 15.0  # the liveliness lease, not the 20-60 s timeouts

    # 4. a held mug was lifted by its handle
    if result.held and not slipped_after_verify:
        assert height >= 0.10, f"mug frame origin {height:.3f} m above the table after the lift"
        assert touching.get("handle", 0) >= 0.5 * sum(touching.values()) > 0, f"robot contacts on the mug: {touching}"


def test_busy_cancel_holds_the_arm_then_a_killed_driver_is_reported(graph, ros_node):
    """One graph: a second goal is rejected, cancel mid-motion holds the arm; then the next goal's
    driver (sim_world) is killed during execute and that stage is reported."""
    node = ros_node.node
    states = []
    node.create_subscription(JointState, "/joint_states", states.append, 20)
    client = ActionClient(node, ExecuteGrasp, "/ifgrasp/execute_grasp")
    wait_ready(ros_node, graph, client)
    seen = []
    fut = client.send_goal_async(ExecuteGrasp.Goal(instruction="pick up the mug by its handle"),
                                 feedback_callback=lambda m: seen.append(m.feedback.stage_name))
    ros_node.spin_until(lambda: "execute" in seen, 60.0, "the execute stage", procs=list(graph.values()))
    second = client.send_goal_async(ExecuteGrasp.Goal(instruction="pick up the mug"))
    ros_node.spin_until(second.done, 20.0, "the second goal's response", procs=list(graph.values()))
    assert not second.result().accepted  # rejected at once, not accepted then aborted
    # mid-motion: wait until the arm moves, then cancel
    ros_node.spin_until(lambda: states and max(abs(v) for v in states[-1].velocity[:7]) > 0.05, 20.0, "arm motion")
    handle = fut.result()
    cancel = handle.cancel_goal_async()
    ros_node.spin_until(cancel.done, 10.0, "the cancel response")
    res = handle.get_result_async()
    ros_node.spin_until(res.done, 20.0, "the cancelled goal's result")
    result = res.result().result
    assert result.error_code == ExecuteGrasp.Result.CANCELLED and result.failed_stage == "execute", result.message
    t_end = time.monotonic()
    ros_node.spin_until(lambda: time.monotonic() - t_end > 1.0, 5.0, "a second of joint states")
    v = np.array([s.velocity[:7] for s in states[-10:]])
    q = np.array([s.position[:7] for s in states[-10:]])
    assert np.max(np.abs(v)) < 0.05 and np.ptp(q, axis=0).max() < 0.01  # holds: nothing left moving

    # the driver dies mid-execute: STAGE_FAILED at execute, naming the silent driver
    world = graph["sim_world"]

    def kill_on_execute(f):
        if f.stage_name == "execute" and world.proc.poll() is None:
            world.proc.kill()

    world.expect_exit = -9
    _, result, _ = run_goal(ros_node, client, {"commander": graph["commander"]},
                            ExecuteGrasp.Goal(instruction="pick up the mug by its handle"), 60.0, kill_on_execute)
    assert not result.success and result.failed_stage == "execute", result.message
    assert result.error_code == ExecuteGrasp.Result.STAGE_FAILED
    assert "stopped answering" in result.message and ("/ifgrasp/arm" in result.message or "/ifgrasp/hand" in result.message)


def test_no_camera_data_names_the_topic(launch, ros_node, pinned_model):
    procs = start_graph(launch, pinned_model, only=("grounding", "perception", "commander"),
                        extra={"commander": ["-p", "frame_timeout_s:=1.0"]})
    client = ActionClient(ros_node.node, ExecuteGrasp, "/ifgrasp/execute_grasp")
    wait_ready(ros_node, procs, client)
    _, result, _ = run_goal(ros_node, client, procs, ExecuteGrasp.Goal(instruction="pick up the mug"), 30.0)
    assert result.error_code == ExecuteGrasp.Result.NO_CAMERA_DATA and result.failed_stage == "perceive"
    assert "/camera/camera/color/image_raw" in result.message
    assert result.command_to_motion_s == -1.0  # never moved (no NaN in results)


def test_generator_refuses_to_start_without_a_model(launch, tmp_path):
    _, nodes = parse_launch(SIM_LAUNCH, {"model_path": str(tmp_path / "missing.pt")})
    gen = next(n for n in nodes if n.exe == "grasp_generator")
    proc = launch(gen.pkg, gen.exe, args=gen.ros_args(), expect_exit=1)
    assert proc.wait(60.0) == 1
    assert "student model not found" in proc.stderr and "missing.pt" in proc.stderr
