"""``GraspPipeline``: one grasping session. A grasp runs ground -> perceive -> generate -> plan ->
execute -> lift -> verify with a ``StageTimer``, a feedback callback per stage, cancellation, and a
result with an error code; afterwards the pipeline remembers what the hand holds, so the session
goes on with ``place`` (put it back where it was picked up, or at a given position), ``release``
(open the hand) and ``home`` (the arm back to its start), also asked for in words ("put it back",
"let go", "go home": ``ifgrasp.grounding.session.task_of``).

Grounding runs before perception (the segmentation needs the grounded target, and an unknown
object fails at once without waiting for a camera). Every wait lives in the injected callables
(``get_frame(timeout_s)`` raises ``NoCameraDataError`` naming its topic), so the same object runs
in-process on the simulator, behind the ROS commander, or in a benchmark. Each stage is any object
with the stage's call signature (``ifgrasp.pipeline.stages``: ``Grounder``, ``Perceiver``,
``Generator``, ``Planner``): the in-process classes, or adapters calling the ROS stage nodes
(``get_frame=None``: the perceiver reads its own camera). Whether the object is held is decided
from the hand's measurements (``read_hand``; ``ifgrasp.pipeline.hold``), never from a simulator.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ifgrasp.errors import DriverError, IfgraspError, InputError, SafetyError
from ifgrasp.grounding import GroundedInstruction, parts_of
from ifgrasp.grounding.session import task_of
from ifgrasp.hand.joints import CLOSING_MASK, OPEN_JOINTS_RAD, squeezed
from ifgrasp.pipeline.errors import (BusyError, CancelledError, DroppedError, ErrorCode, HoldingError,
                                     NotHoldingError, StageFailedError, StageTimeoutError, error_code)
from ifgrasp.pipeline.hold import HoldCheck, HoldVerdict, camera_low_rise_m, camera_rise_m, verify_hold
from ifgrasp.pipeline.stages import (ExecuteStage, Generator, Grounder, LiftStage, Perceiver, Planner, SessionStage,
                                     ground)
from ifgrasp.perception import transform_points
from ifgrasp.planning import GraspPlan, PlannerConfig
from ifgrasp.planning.approach import clear_of_target_first
from ifgrasp.timing import StageTimer
from ifgrasp.types import GraspBatch, RGBDFrame

#: Stage names and numbers of the ExecuteGrasp feedback (STAGE_GROUND = 0 ...), in run order.
STAGES = ("ground", "perceive", "generate", "plan", "execute", "lift", "verify", "place", "release", "home")
#: The stages of a grasp, in run order (a plan-only command runs the first four).
RUN_ORDER = ("ground", "perceive", "generate", "plan", "execute", "lift", "verify")
#: The stages of each task.
TASK_STAGES = {"grasp": RUN_ORDER, "place": ("place", "release", "home"), "release": ("release",),
               "home": ("home",)}
SETTLE_S = 0.3  # the fingers settle on (or close past) the object before the held decision
CONTACT_SHORT_RAD = 0.01  # an approach that fails this far (rad, any joint) from its end stopped on contact
HAND_OPEN_TOL_RAD = 0.1  # a hand this close to open on every closing joint holds nothing
TARGET_MOVED_M = 0.01  # the target's centroid moved this much after a contact: the grasps move with it


@dataclass
class PipelineRequest:
    """An instruction, or an explicit ``object_name`` + ``part_name``; ``lift_height_m <= 0``: default.
    ``task``: grasp | place | release | home ("" = from the instruction's words, default grasp);
    ``place_position_m`` (3,) base frame: where a place sets the object down (None: back where it
    was picked up)."""

    instruction: str = ""
    object_name: str = ""
    part_name: str = ""
    lift_height_m: float = 0.0
    task: str = ""
    place_position_m: np.ndarray | None = None


@dataclass
class StageFeedback:
    stage: str
    index: int  # STAGES.index(stage)
    progress: float  # in [0, 1] over the whole task
    elapsed_s: float
    message: str = ""
    stage_progress: float = 0.0  # in [0, 1] within the stage (the arm's trajectory time)


@dataclass
class Holding:
    """What the hand holds after a verified grasp: the target, the executed plan, the hand's
    squeeze target (16,) rad, and the verdict that said held."""

    grounded: GroundedInstruction
    plan: GraspPlan
    q_hand_target: np.ndarray
    verdict: HoldVerdict


@dataclass
class PipelineResult:
    """``error_code`` as the action's; ``failed_stage`` empty on success; ``stage_latencies_s`` in run
    order; ``command_to_motion_s`` NaN when the arm never moved; ``grasp`` (1 grasp, base frame);
    ``held`` / ``evidence``: the hand holds the object after this command, and what was measured."""

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
    task: str = "grasp"
    held: bool = False
    evidence: str = ""


class GraspPipeline:
    """The orchestrator. ``get_frame(timeout_s) -> RGBDFrame`` (None: the perceiver reads its own
    camera) and ``get_q() -> (7,)`` read the robot's world; ``execute`` / ``lift`` may be None (plan
    only: the service's dry path); ``grounder`` defaults to the in-process parser;
    ``read_hand() -> (q (16,), effort (16,) | None, effort_unit)`` the hand's reading for the held
    decision (None: no verify stage, the session cannot know what it holds); ``session`` the place /
    release / home moves (None: grasps only); ``home_q`` (7,) where "home" goes (default: the arm's
    configuration before the session's first motion); ``look(grounded) -> Perception`` perceives the
    target in a frame taken now (the verify stage's camera check; None: fingers only);
    ``target_margin_m``: candidates whose pre-shaped hand comes closer than this to the target's own
    points on the final approach (``ifgrasp.planning.approach``: it would shove the object before
    closing) are planned after all others (0: off); ``pregrasp_offset_m`` the planner's;
    ``hand_filter_margin_m``: scene points this close to the hand at its measured joints are the
    hand, not obstacles (0: off; needs ``read_hand``); ``max_grasp_tries``: grasps tried when
    approaches stop short on contact (the next ranked one after backing off; needs ``session``)."""

    def __init__(self, get_frame: Callable[[float], RGBDFrame] | None, get_q: Callable[[], np.ndarray],
                 perceive: Perceiver, generate: Generator, plan: Planner,
                 execute: ExecuteStage | None = None, lift: LiftStage | None = None,
                 frame_timeout_s: float = 5.0, grounder: Grounder = ground,
                 read_hand: Callable[[], tuple] | None = None, hold_check: HoldCheck = HoldCheck(),
                 home_q: np.ndarray | None = None, session: SessionStage | None = None,
                 look: Callable[[GroundedInstruction], object] | None = None, target_margin_m: float = 0.005,
                 pregrasp_offset_m: float = PlannerConfig().pregrasp_offset_m,
                 hand_filter_margin_m: float = PlannerConfig().self_filter_margin_m, max_grasp_tries: int = 3) -> None:
        self.get_frame, self.get_q, self.grounder = get_frame, get_q, grounder
        self.perceive, self.generate, self.plan_stage = perceive, generate, plan
        self.execute, self.lift = execute, lift
        self.frame_timeout_s = frame_timeout_s
        self.read_hand, self.hold_check = read_hand, hold_check
        self.home_q = None if home_q is None else np.asarray(home_q, float)
        self.session, self.look = session, look
        self.target_margin_m, self.pregrasp_offset_m = target_margin_m, pregrasp_offset_m
        self.hand_filter_margin_m = hand_filter_margin_m
        self.max_grasp_tries = max(1, int(max_grasp_tries))
        self._kin = None
        self.holding: Holding | None = None
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
        task = req.task or (task_of(req.instruction) if req.instruction.strip() else "grasp")
        if task not in TASK_STAGES:
            exc = InputError(f"unknown task '{task}'; known: {', '.join(TASK_STAGES)}")
            return PipelineResult(False, error_code(exc), str(exc), task=task)
        order = TASK_STAGES[task]
        if task != "grasp" and self.session is None:
            exc = InputError(f"'{task}' needs the session moves (arm and hand); this pipeline only grasps")
            return PipelineResult(False, error_code(exc), str(exc), task=task)
        if task == "grasp" and not execute:
            order = RUN_ORDER[:4]
        elif task == "grasp" and self.read_hand is None:
            order = RUN_ORDER[:6]
        res = PipelineResult(False, ErrorCode.STAGE_FAILED, "", task=task)
        motion_t = [math.nan]

        def on_motion() -> None:
            if math.isnan(motion_t[0]):
                motion_t[0] = time.perf_counter() - t0

        def check_cancel() -> None:
            if self._cancel.is_set():
                raise CancelledError("cancelled; the arm stopped and holds its position")

        state: dict = {}
        stage = note = ""
        try:
            if task != "grasp" and not execute:
                raise InputError(f"'{task}' moves the robot; ask for it as a goal of the ExecuteGrasp action")
            note = self._check_session(task, execute)
            for i, stage in enumerate(order):
                check_cancel()

                def progress(frac: float, message: str = "", i=i, stage=stage) -> None:
                    if feedback is not None:
                        feedback(StageFeedback(stage, STAGES.index(stage), (i + min(max(frac, 0.0), 1.0)) / len(order),
                                               time.perf_counter() - t0, message, min(max(frac, 0.0), 1.0)))

                progress(0.0)
                with timer.stage(stage):
                    self._stage(stage, req, state, on_motion, progress)
            res = PipelineResult(True, ErrorCode.OK, self._summary(task, state, execute), "", state.get("grounded"),
                                 task=task)
        except IfgraspError as exc:
            if self._cancel.is_set() and not isinstance(exc, CancelledError):
                exc = CancelledError(f"cancelled during {stage}: {exc}")
            res = PipelineResult(False, error_code(exc), f"{stage}: {exc}" if stage else str(exc), stage,
                                 state.get("grounded"), task=task)
            res.candidates = [c if isinstance(c, str) else c.describe() for c in getattr(exc, "candidates", ())]
        res.message = note + res.message
        res.grasp = state.get("grasp")
        res.plan = state.get("plan")
        res.stage_latencies_s = dict(timer.durations_s)
        res.command_to_motion_s = motion_t[0]
        res.artifacts = {k: state[k] for k in ("frame", "perception", "grasps", "look") if k in state}
        res.held = self.holding is not None
        verdict = state.get("verdict")
        res.evidence = verdict.evidence if verdict is not None else ""
        if res.grounded is None and self.holding is not None:
            res.grounded = self.holding.grounded
        return res

    def _check_session(self, task: str, execute: bool) -> str:
        """A grasp while the hand holds something, or a place / release with nothing held, fails
        here, saying what to do (the hold is measured again: a scene reset or a slip clears it).
        Returns what the user should know before this command's own result ('' when nothing)."""
        note = ""
        if self.holding is not None and self.read_hand is not None:
            # fingers that were blocked by the object and are not any more: it slipped out, or the
            # scene was reset; a hooked object blocks no finger: it is gone when the hand is open
            # (a reset opens it; a hook curls the fingers)
            was_blocked = self.holding.verdict.blocked.any()
            gone = not self._verdict(self.holding.q_hand_target).blocked.any() if was_blocked else self._hand_open()
            if gone:
                g = self.holding.grounded
                why = "no finger is blocked by it any more" if was_blocked else "the hand is open"
                note = f"the {g.category} is no longer in the hand ({why}: it slipped out, or the scene was reset); "
                self.holding = None
        if task == "grasp" and execute and self.holding is not None:
            g = self.holding.grounded
            raise HoldingError(f"the hand holds the {g.category} (by its {g.part}): say \"put it back\" or "
                               "\"let go\" first")
        if task == "place" and self.holding is None:
            raise NotHoldingError(note + "the hand holds nothing to put back; grasp an object first")
        return note

    def _hand_open(self) -> bool:
        """Every closing joint of the hand within ``HAND_OPEN_TOL_RAD`` of the open pose (its reading)."""
        q = np.asarray(self.read_hand()[0], float)
        return bool(np.all(np.abs(q - OPEN_JOINTS_RAD)[CLOSING_MASK] < HAND_OPEN_TOL_RAD))

    def _verdict(self, q_target: np.ndarray, rise_m: float | None = None, low_rise_m: float | None = None) -> HoldVerdict:
        q, effort, unit = self.read_hand()
        return verify_hold(q_target, q, effort, unit, rise_m=rise_m, check=self.hold_check, low_rise_m=low_rise_m)

    def _rise(self, st: dict) -> tuple[float | None, float | None, str]:
        """How far the target's points and its lowest points rose since perception (m;
        ``camera_rise_m``, ``camera_low_rise_m``), from a new look, and a note for the evidence;
        None (and why) when the camera cannot tell."""
        before, g = st["perception"], st["grounded"]
        after, errors = None, []
        # the whole object's cloud is what is compared; the hand may hide the instructed part, so
        # any visible part of the object will do
        for part in dict.fromkeys((g.part, *parts_of(g.category))):
            try:
                after = self.look(dataclasses.replace(g, part=part, contact_parts=(part,)))
                break
            except StageTimeoutError as exc:  # no frame at all: another part would wait as long again
                errors.append(str(exc))
                break
            except IfgraspError as exc:
                errors.append(str(exc))
        if after is None:
            return None, None, f"; no camera check ({errors[0]})"
        st["look"] = after
        rise, med, top = camera_rise_m(before.cloud.points_m, before.T_base_camera, after.cloud.points_m,
                                       after.T_base_camera, self.hold_check.top_percentile)
        if not np.isfinite(rise):
            return None, None, "; no camera check (empty cloud)"
        low = camera_low_rise_m(before.cloud.points_m, before.T_base_camera, after.cloud.points_m,
                                after.T_base_camera, self.hold_check.low_percentile)
        return rise, low, f" (median {100 * med:+.1f} cm, top {100 * top:+.1f} cm: the smaller counts)"

    def _stage(self, stage: str, req: PipelineRequest, st: dict, on_motion, progress) -> None:
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
            self._plan(req, st, np.arange(len(st["grasps"])))
        elif stage == "execute":
            if self.home_q is None:
                self.home_q = np.asarray(self.get_q(), float)  # the session's start: where "home" goes
            self._execute(req, st, on_motion, progress)
        elif stage == "lift":
            if not self.lift(st["plan"], cancelled, progress):
                raise CancelledError("cancelled during lift; the arm stopped and holds its position")
        elif stage == "verify":
            time.sleep(SETTLE_S)
            target = squeezed(st["plan"].hand_joints_rad, self.execute.squeeze_rad)
            verdict = self._verdict(target)
            if self.look is not None and "perception" in st:
                rise, low, note = self._rise(st)
                verdict = self._verdict(target, rise, low)
                if note:
                    verdict = HoldVerdict(verdict.held, verdict.blocked, verdict.shortfall_rad, verdict.evidence + note)
            st["verdict"] = verdict
            if not verdict.held:
                g = st["grounded"]
                raise DroppedError(f"DROPPED: the {g.category} is not in the hand after the lift: {verdict.evidence}")
            self.holding = Holding(st["grounded"], st["plan"], target, verdict)
        elif stage == "place":
            h = self.holding
            st["grounded"], st["plan"] = h.grounded, h.plan
            if not self.session.place(h.plan, self.get_q(), req.place_position_m, cancelled, progress, h.q_hand_target):
                raise CancelledError("cancelled during place; the arm stopped and holds its position")
        elif stage == "release":
            self.session.release(cancelled)
            self.holding = None
            if "plan" in st:  # after a place: back off along the approach, clear of the object
                if not self.session.retreat(st["plan"], self.get_q(), cancelled, progress):
                    raise CancelledError("cancelled during release; the arm stopped and holds its position")
        elif stage == "home":
            if self.home_q is None:
                self.home_q = np.asarray(self.get_q(), float)
            if not self.session.home(self.get_q(), self.home_q, cancelled, progress):
                raise CancelledError("cancelled on the way home; the arm stopped and holds its position")

    def _plan(self, req: PipelineRequest, st: dict, candidates: np.ndarray) -> None:
        """Plan the first feasible of ``candidates`` (indices into ``st["grasps"]``, best first; those
        that would shove the target planned last) from the arm's configuration now."""
        grasps = st["grasps"].select(candidates)
        order = self._clear_of_target_first(grasps, st["perception"])
        q = self.get_q()
        plan = self.plan_stage(q, grasps.select(order), self._without_hand(q, st["perception"].scene_base_m),
                               req.lift_height_m if req.lift_height_m > 0 else None)
        plan.candidate = int(candidates[order[plan.candidate]])  # an index into the generator's batch again
        st["plan"], st["grasp"] = plan, st["grasps"].select(np.array([plan.candidate]))

    def _execute(self, req: PipelineRequest, st: dict, on_motion, progress) -> None:
        """Run the planned approach and close the hand. An approach that stops short of its grasp
        (the hand met something the plan did not see: the arm holds, off its path's end by more than
        ``CONTACT_SHORT_RAD``) is not the end: the hand opens, the arm backs off along the approach
        to where it started, the scene is perceived again and the next ranked grasp of the batch is
        planned (the batch moved with the target's centroid when it was shoved more than
        ``TARGET_MOVED_M``), at most ``max_grasp_tries`` grasps in all, each try announced in the
        stage's feedback."""
        cancelled = self._cancel.is_set
        tried = [st["plan"].candidate]
        for attempt in range(1, self.max_grasp_tries + 1):
            plan = st["plan"]
            try:
                if not self.execute(plan, cancelled, on_motion, progress):
                    raise CancelledError("cancelled during execute; the arm stopped and holds its position")
                return
            except DriverError as exc:
                if isinstance(exc, SafetyError) or cancelled() or self.session is None or attempt == self.max_grasp_tries:
                    raise
                q = np.asarray(self.get_q(), float)
                short = float(np.max(np.abs(q - plan.approach.q[-1])))
                if short < CONTACT_SHORT_RAD:
                    raise  # at the grasp: not a contact on the way, a fault of another kind
                progress(0.0, f"try {attempt} of {self.max_grasp_tries}: candidate {plan.candidate} stopped "
                              f"{short:.3f} rad short of its grasp (contact: {exc}); backing off to plan the next "
                              "ranked grasp")
                self.session.release(cancelled)
                if not self.session.retreat(plan, q, cancelled):
                    raise CancelledError("cancelled while backing off; the arm stopped and holds its position") from None
            before = self._target_centre(st["perception"])
            self._stage("perceive", req, st, on_motion, lambda *a, **k: None)  # the scene after the contact
            shift = self._target_centre(st["perception"]) - before
            if np.linalg.norm(shift) > TARGET_MOVED_M:  # shoved: the grasps go with it
                g = st["grasps"]
                st["grasps"] = dataclasses.replace(g, wrist_pos_m=np.asarray(g.wrist_pos_m) + shift)
            left = np.setdiff1d(np.arange(len(st["grasps"])), tried)
            if not len(left):
                raise StageFailedError(f"every grasp candidate stopped short on contact ({len(tried)} tried)")
            self._plan(req, st, left)
            tried.append(st["plan"].candidate)
            progress(0.0, f"try {attempt + 1} of {self.max_grasp_tries}: candidate {st['plan'].candidate}")

    @staticmethod
    def _target_centre(perception) -> np.ndarray:
        """(3,) the target cloud's centroid in the base frame, m."""
        pts = perception.cloud.points_m
        if perception.cloud.frame != "base":
            pts = transform_points(perception.T_base_camera, pts)
        return np.asarray(pts, float).mean(axis=0)

    def _without_hand(self, q_arm: np.ndarray, scene_base_m: np.ndarray | None) -> np.ndarray | None:
        """The scene cloud (M, 3) without the hand's own points: those within ``hand_filter_margin_m``
        of its collision boxes at its measured joints (``read_hand``) and the arm's ``q_arm`` (7,).
        The planner filters the robot by its sphere cover of an open hand only; fingers left closed
        (after a drop, or on a scene reset) reach past it, and the moving hand would meet its own
        fingers' points on every path (all candidates "approach to pre-grasp": UNREACHABLE)."""
        if scene_base_m is None or not len(scene_base_m) or self.read_hand is None or self.hand_filter_margin_m <= 0:
            return scene_base_m
        from ifgrasp.arm import Xarm7Kinematics
        from ifgrasp.planning.collision import hand_clearance_m

        if self._kin is None:
            self._kin = Xarm7Kinematics()
        try:
            q_hand = self.read_hand()[0]
        except IfgraspError:
            return scene_base_m  # no hand reading (a replayed bag without the hand): the planner's own filter
        T_base_hand = self._kin.fk_hand(np.asarray(q_arm, float).reshape(1, -1))[0]
        keep = hand_clearance_m(scene_base_m, T_base_hand, q_hand) > self.hand_filter_margin_m
        return scene_base_m[keep]

    def _clear_of_target_first(self, grasps: GraspBatch, perception) -> np.ndarray:
        """Planning order (B,) of ``grasps``: those whose opened hand keeps ``target_margin_m`` off
        the target first."""
        pts = perception.cloud.points_m
        if perception.cloud.frame != "base":
            pts = transform_points(perception.T_base_camera, pts)
        return clear_of_target_first(grasps, pts, self.pregrasp_offset_m, self.target_margin_m)

    @staticmethod
    def _summary(task: str, st: dict, executed: bool) -> str:
        if task == "place":
            g = st["grounded"]
            return f"put the {g.category} back down, released it and went home"
        if task == "release":
            return "opened the hand"
        if task == "home":
            return "the arm is back at its start configuration"
        g, plan = st["grounded"], st["plan"]
        what = "grasped, lifted and holds" if "verdict" in st else ("grasped and lifted" if executed else "planned a grasp of")
        text = (f"{what} the {g.part} of the {g.category} (candidate {plan.candidate} of "
                f"{len(st['grasps'])}, approach {plan.approach.duration_s:.2f} s)")
        if "verdict" in st:
            text += f": {st['verdict'].evidence}"
        return text
