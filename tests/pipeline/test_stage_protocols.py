"""GraspPipeline with stages that run elsewhere (as the ROS commander's adapters do): any callables
with the stage signatures (``Grounder``, ``Perceiver``, ``Generator``, ``Planner``); ``get_frame=None``
lets the perceiver read its own camera; a remote stage's error code comes back unchanged and names
the stage. No MuJoCo: the stages here are scripted."""

import math

import numpy as np
import pytest

from ifgrasp.errors import UnknownObjectError
from ifgrasp.grounding import GroundedInstruction
from ifgrasp.pipeline import (ErrorCode, GraspPipeline, Perception, PipelineRequest, RemoteStageError,
                              StageFailedError, error_code, ground)
from ifgrasp.planning import GraspPlan
from ifgrasp.planning.trajectory import JointTrajectory
from ifgrasp.types import GraspBatch, ObjectCloud


class Scripted:
    """Records each stage's arguments; ``fail[stage]`` is raised when that stage runs."""

    def __init__(self, fail=None):
        self.calls, self.fail = [], fail or {}

    def _run(self, stage, *args):
        self.calls.append((stage, args))
        if stage in self.fail:
            raise self.fail[stage]

    def ground(self, instruction, object_name, part_name):
        self._run("ground", instruction, object_name, part_name)
        return ground(instruction, object_name, part_name)

    def perceive(self, frame, grounded, timeout_s=5.0):
        self._run("perceive", frame, grounded, timeout_s)
        cloud = ObjectCloud(np.zeros((4, 3), np.float32), np.array([1, 0, 0, 1], bool), "camera_color_optical_frame",
                            grounded.category, grounded.part)
        return Perception(cloud, np.zeros((10, 3)), None, np.eye(4))

    def generate(self, cloud, T_base_camera):
        self._run("generate", cloud, T_base_camera)
        return GraspBatch(np.zeros((3, 3)), np.tile(np.eye(3), (3, 1, 1)), np.zeros((3, 16)), frame="link_base",
                          scores=np.array([3.0, 2.0, 1.0]))

    def plan(self, q, grasps, scene, lift_height_m=None):
        self._run("plan", q, grasps, scene, lift_height_m)
        traj = JointTrajectory(np.array([0.0, 1.0]), np.zeros((2, 7)))
        return GraspPlan(traj, traj, 1, np.zeros(7), np.zeros(7), np.zeros(7), np.eye(4), np.zeros(16))


def pipeline(s: Scripted, frame_timeout_s=2.5) -> GraspPipeline:
    return GraspPipeline(None, lambda: np.zeros(7), s.perceive, s.generate, s.plan,
                         frame_timeout_s=frame_timeout_s, grounder=s.ground)


def test_remote_stages_run_in_order_with_what_each_needs():
    s = Scripted()
    res = pipeline(s).run(PipelineRequest("pick up the mug by its handle", lift_height_m=0.2), execute=False)
    assert res.success and res.error_code == ErrorCode.OK, res.message
    assert [c[0] for c in s.calls] == ["ground", "perceive", "generate", "plan"]
    _, (frame, grounded, timeout_s) = s.calls[1]
    assert frame is None and timeout_s == 2.5 and isinstance(grounded, GroundedInstruction)
    assert (grounded.category, grounded.part) == ("mug", "handle")
    assert s.calls[3][1][3] == 0.2 and len(res.grasp) == 1 and res.grasp.scores[0] == 2.0  # candidate 1
    assert "frame" not in res.artifacts and list(res.stage_latencies_s) == ["ground", "perceive", "generate", "plan"]


@pytest.mark.parametrize("stage", ["ground", "perceive", "generate", "plan"])
@pytest.mark.parametrize("code", [ErrorCode.UNKNOWN_OBJECT, ErrorCode.NO_CAMERA_DATA, ErrorCode.UNREACHABLE,
                                  ErrorCode.AMBIGUOUS])
def test_a_remote_error_keeps_its_code_and_names_the_stage(stage, code):
    s = Scripted({stage: RemoteStageError(f"node says {code.name}", int(code))})
    res = pipeline(s).run(PipelineRequest("pick up the mug"), execute=False)
    assert (res.success, res.error_code, res.failed_stage) == (False, code, stage)
    assert res.message == f"{stage}: node says {code.name}" and math.isnan(res.command_to_motion_s)
    assert [c[0] for c in s.calls][-1] == stage  # nothing ran after it


def test_ambiguity_candidates_reach_the_result():
    from ifgrasp.perception.errors import AmbiguousTargetError, TargetCandidate

    remote = RemoteStageError("two mugs match", int(ErrorCode.AMBIGUOUS), ["#0 red mug", "#1 red mug"])
    res = pipeline(Scripted({"perceive": remote})).run(PipelineRequest("the red mug"), execute=False)
    assert res.error_code == ErrorCode.AMBIGUOUS and res.candidates == ["#0 red mug", "#1 red mug"]
    cands = [TargetCandidate(i, "mug", 0.9, (0.4, 0.1 * i, 0.05), "red") for i in range(2)]
    local = AmbiguousTargetError("two mugs match", cands)
    res = pipeline(Scripted({"perceive": local})).run(PipelineRequest("the red mug"), execute=False)
    assert res.error_code == ErrorCode.AMBIGUOUS and res.candidates == [c.describe() for c in cands]
    ok = pipeline(Scripted()).run(PipelineRequest("the mug"), execute=False)
    assert ok.success and ok.candidates == []


def test_missing_node_is_stage_failed():
    s = Scripted({"generate": StageFailedError("service /ifgrasp/generate_grasps not available within 5.0 s")})
    res = pipeline(s).run(PipelineRequest("pick up the mug"), execute=False)
    assert (res.error_code, res.failed_stage) == (ErrorCode.STAGE_FAILED, "generate")
    assert "/ifgrasp/generate_grasps" in res.message


def test_error_codes_survive_the_round_trip():
    for code in ErrorCode:
        assert error_code(RemoteStageError("x", int(code))) is code
    with pytest.raises(ValueError):
        RemoteStageError("x", 99)
    assert error_code(UnknownObjectError("banana")) is ErrorCode.UNKNOWN_OBJECT


def test_an_object_that_slipped_out_since_the_grasp_is_said_and_forgotten():
    """The hold is measured again before each command: fingers the object blocked that now reach their
    targets mean it slipped out (or the scene was reset); the user is told, and the hand is free."""
    from ifgrasp.hand.joints import PREGRASP_JOINTS_RAD
    from ifgrasp.pipeline.hold import HoldVerdict
    from ifgrasp.pipeline.orchestrator import Holding

    s = Scripted()
    p = pipeline(s)
    target = PREGRASP_JOINTS_RAD.copy()
    p.read_hand = lambda: (target.copy(), None, "")  # every finger at its squeeze target: nothing in between
    blocked = HoldVerdict(True, np.array([True, True, False, True]), np.full(4, 0.2), "3 fingers stopped short")
    p.holding = Holding(ground("pick up the mug by its handle", "", ""), None, target, blocked)
    res = p.run(PipelineRequest("grab the spray bottle by its body"), execute=False)
    assert res.success and res.message.startswith("the mug is no longer in the hand"), res.message
    assert p.holding is None and not res.held


def test_a_hooked_object_is_forgotten_once_the_hand_is_open():
    """A handle hooked by fingers that no object blocks (held by the camera's rise) stays held while
    the fingers stay curled; once the hand reads open (a scene reset opens it) the next grasp goes on
    instead of answering HOLDING (before: remembered until "let go", also after `ifgrasp ask --reset-sim`)."""
    from ifgrasp.hand.joints import PREGRASP_JOINTS_RAD
    from ifgrasp.pipeline.hold import HoldVerdict
    from ifgrasp.pipeline.orchestrator import Holding

    s = Scripted()
    p = pipeline(s)
    target = PREGRASP_JOINTS_RAD.copy()
    hooked = HoldVerdict(True, np.zeros(4, bool), np.zeros(4), "0 fingers stopped short; the camera sees it 11 cm higher")
    p.read_hand = lambda: (target.copy(), None, "")  # fingers still curled around the handle
    p.holding = Holding(ground("pick up the mug by its handle", "", ""), None, target, hooked)
    res = p.run(PipelineRequest("grab the spray bottle by its body"), execute=False)
    assert "no longer in the hand" not in res.message and p.holding is not None  # still hooked
    p.read_hand = lambda: (np.zeros(16), None, "")  # the hand open: nothing can hang in it
    res = p.run(PipelineRequest("grab the spray bottle by its body"), execute=False)
    assert res.success and "the hand is open" in res.message and p.holding is None, res.message
