"""``GraspPipeline``: runs ground -> perceive -> generate -> plan -> execute -> lift with a
``StageTimer``, a feedback callback per stage, cancellation, and a result with an error code.

Grounding runs before perception (the segmentation needs the grounded target, and an unknown
object fails at once without waiting for a camera). Every wait lives in the injected callables
(``get_frame(timeout_s)`` raises ``NoCameraDataError`` naming its topic), so the same object runs
in-process on the simulator, behind the ROS commander, or in a benchmark. Each stage is any object
with the stage's call signature (``ifgrasp.pipeline.stages``: ``Grounder``, ``Perceiver``,
``Generator``, ``Planner``): the in-process classes, or adapters calling the ROS stage nodes
(``get_frame=None``: the perceiver reads its own camera).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ifgrasp.errors import IfgraspError
from ifgrasp.grounding import GroundedInstruction
from ifgrasp.pipeline.errors import BusyError, CancelledError, ErrorCode, error_code
from ifgrasp.pipeline.stages import ExecuteStage, Generator, Grounder, LiftStage, Perceiver, Planner, ground
from ifgrasp.planning import GraspPlan
from ifgrasp.timing import StageTimer
from ifgrasp.types import GraspBatch, RGBDFrame

#: Stage names and numbers of the ExecuteGrasp feedback (STAGE_PERCEIVE = 0 ...).
STAGES = ("perceive", "ground", "generate", "plan", "execute", "lift")
RUN_ORDER = ("ground", "perceive", "generate", "plan", "execute", "lift")


@dataclass
class PipelineRequest:
    """An instruction, or an explicit ``object_name`` + ``part_name``; ``lift_height_m <= 0``: default."""

    instruction: str = ""
    object_name: str = ""
    part_name: str = ""
    lift_height_m: float = 0.0


@dataclass
class StageFeedback:
    stage: str
    index: int  # STAGES.index(stage)
    progress: float  # in [0, 1] over the whole task
    elapsed_s: float
    message: str = ""


@dataclass
class PipelineResult:
    """``error_code`` as the action's; ``failed_stage`` empty on success; ``stage_latencies_s`` in run
    order; ``command_to_motion_s`` NaN when the arm never moved; ``grasp`` (1 grasp, base frame)."""

    success: bool
    error_code: ErrorCode
    message: str
    failed_stage: str = ""
    grounded: GroundedInstruction | None = None
    grasp: GraspBatch | None = None
    plan: GraspPlan | None = None
    stage_latencies_s: dict[str, float] = field(default_factory=dict)
    command_to_motion_s: float = math.nan
    #: when the target was ambiguous: each matching object described, to let the user choose
    candidates: list[str] = field(default_factory=list)
    #: intermediate products of the stages that ran, for pictures and debugging: ``frame``
    #: (RGBDFrame), ``perception`` (Perception), ``grasps`` (GraspBatch, base frame, best first)
    artifacts: dict = field(default_factory=dict)


class GraspPipeline:
    """The orchestrator. ``get_frame(timeout_s) -> RGBDFrame`` (None: the perceiver reads its own
    camera) and ``get_q() -> (7,)`` read the robot's world; ``execute`` / ``lift`` may be None (plan
    only: the service's dry path); ``grounder`` defaults to the in-process parser."""

    def __init__(self, get_frame: Callable[[float], RGBDFrame] | None, get_q: Callable[[], np.ndarray],
                 perceive: Perceiver, generate: Generator, plan: Planner,
                 execute: ExecuteStage | None = None, lift: LiftStage | None = None,
                 frame_timeout_s: float = 5.0, grounder: Grounder = ground) -> None:
        self.get_frame, self.get_q, self.grounder = get_frame, get_q, grounder
        self.perceive, self.generate, self.plan_stage = perceive, generate, plan
        self.execute, self.lift = execute, lift
        self.frame_timeout_s = frame_timeout_s
        self._lock = threading.Lock()
        self._cancel = threading.Event()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def cancel(self) -> None:
        """Ask the running command to stop; the arm holds where it is."""
        self._cancel.set()

    def run(self, request: PipelineRequest, feedback: Callable[[StageFeedback], None] | None = None,
            execute: bool = True) -> PipelineResult:
        """Run one command to its end. A second call while one runs returns ``BUSY`` at once."""
        if not self._lock.acquire(blocking=False):
            exc = BusyError("a grasp command is already running; wait for it or cancel it")
            return PipelineResult(False, ErrorCode.BUSY, str(exc))
        self._cancel.clear()
        try:
            return self._run(request, feedback, execute and self.execute is not None)
        finally:
            self._lock.release()

    def _run(self, req: PipelineRequest, feedback, execute: bool) -> PipelineResult:
        t0 = time.perf_counter()
        timer = StageTimer()
        res = PipelineResult(False, ErrorCode.STAGE_FAILED, "")
        order = RUN_ORDER if execute else RUN_ORDER[:4]
        motion_t = [math.nan]

        def on_motion() -> None:
            if math.isnan(motion_t[0]):
                motion_t[0] = time.perf_counter() - t0

        def check_cancel() -> None:
            if self._cancel.is_set():
                raise CancelledError("cancelled; the arm stopped and holds its position")

        state: dict = {}
        stage = ""
        try:
            for i, stage in enumerate(order):
                check_cancel()
                if feedback is not None:
                    feedback(StageFeedback(stage, STAGES.index(stage), i / len(order), time.perf_counter() - t0))
                with timer.stage(stage):
                    self._stage(stage, req, state, on_motion)
            res = PipelineResult(True, ErrorCode.OK, self._summary(state, execute), "", state.get("grounded"))
        except IfgraspError as exc:
            if self._cancel.is_set() and not isinstance(exc, CancelledError):
                exc = CancelledError(f"cancelled during {stage}: {exc}")
            res = PipelineResult(False, error_code(exc), f"{stage}: {exc}", stage, state.get("grounded"))
            res.candidates = [c if isinstance(c, str) else c.describe() for c in getattr(exc, "candidates", ())]
        res.grasp = state.get("grasp")
        res.plan = state.get("plan")
        res.stage_latencies_s = dict(timer.durations_s)
        res.command_to_motion_s = motion_t[0]
        res.artifacts = {k: state[k] for k in ("frame", "perception", "grasps") if k in state}
        return res

    def _stage(self, stage: str, req: PipelineRequest, st: dict, on_motion) -> None:
        cancelled = self._cancel.is_set
        if stage == "ground":
            st["grounded"] = self.grounder(req.instruction, req.object_name, req.part_name)
        elif stage == "perceive":
            frame = None
            if self.get_frame is not None:
                st["frame"] = frame = self.get_frame(self.frame_timeout_s)
            st["perception"] = self.perceive(frame, st["grounded"], self.frame_timeout_s)
        elif stage == "generate":
            p = st["perception"]
            st["grasps"] = self.generate(p.cloud, p.T_base_camera)
        elif stage == "plan":
            plan = self.plan_stage(self.get_q(), st["grasps"], st["perception"].scene_base_m,
                                   req.lift_height_m if req.lift_height_m > 0 else None)
            st["plan"], st["grasp"] = plan, st["grasps"].select(np.array([plan.candidate]))
        elif stage == "execute":
            if not self.execute(st["plan"], cancelled, on_motion):
                raise CancelledError("cancelled during execute; the arm stopped and holds its position")
        elif stage == "lift":
            if not self.lift(st["plan"], cancelled):
                raise CancelledError("cancelled during lift; the arm stopped and holds its position")

    @staticmethod
    def _summary(st: dict, executed: bool) -> str:
        g, plan = st["grounded"], st["plan"]
        what = "grasped and lifted" if executed else "planned a grasp of"
        return (f"{what} the {g.part} of the {g.category} (candidate {plan.candidate} of "
                f"{len(st['grasps'])}, approach {plan.approach.duration_s:.2f} s)")
