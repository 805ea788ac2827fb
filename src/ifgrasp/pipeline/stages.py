"""The pipeline's stages as plain objects with typed inputs and outputs (no ROS, no threads).

ground:   instruction text (or object + part)              -> GroundedInstruction
perceive: RGBDFrame + GroundedInstruction                  -> Perception (target cloud, camera frame)
generate: ObjectCloud                                      -> GraspBatch, base frame, best first
plan:     q_current + GraspBatch (base) + scene cloud      -> GraspPlan (approach, lift)
execute / lift: the plan on an ``ArmDriver`` + ``HandDriver`` (``ifgrasp.drivers``)

The ``Grounder`` / ``Perceiver`` / ``Generator`` / ``Planner`` protocols below are what
``GraspPipeline`` calls; the classes here implement them in-process, ``ifgrasp_ros.remote_stages``
over the stage nodes' services.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.ndimage import binary_dilation

from ifgrasp.hand.joints import CLOSE_S, PREGRASP_OPEN_RAD, SQUEEZE_RAD, pregrasp, squeezed

from ifgrasp.drivers.streaming import HandStream
from ifgrasp.errors import InputError
from ifgrasp.grounding import GroundedInstruction, check_part, parse_instruction
from ifgrasp.vocabulary import category as category_spec
from ifgrasp.perception import CloudConfig, build_object_cloud, depth_to_points, transform_points
from ifgrasp.perception.segmentation import SegmentationBackend, make_backend
from ifgrasp.pipeline.errors import NoGraspError
from ifgrasp.pipeline.generator import GraspModel
from ifgrasp.planning import GraspPlan, GraspPlanner
from ifgrasp.types import GraspBatch, ObjectCloud, RGBDFrame

TARGET_MARGIN_PX = 3  # the target's mask grows this much before its pixels leave the obstacle cloud
PART_ID_STRIDE = 100  # global part id = object index * stride + the object's own part index


def ground(instruction: str = "", object_name: str = "", part_name: str = "") -> GroundedInstruction:
    """Parse ``instruction``; when it is empty, the explicit ``object_name`` (+ ``part_name``, default:
    the category's default part) is checked against the vocabulary."""
    if instruction.strip():
        return parse_instruction(instruction)
    if not object_name:
        raise InputError("goal has neither an instruction nor an object_name")
    spec = category_spec(object_name)  # UnknownObjectError lists the categories
    part = check_part(object_name, part_name) if part_name else spec.default_part
    return GroundedInstruction(text=f"{object_name} {part}", category=object_name, part=part,
                               part_is_default=not part_name, contact_parts=(part,))


def sim_oracle_backend(objects: list[tuple[str, tuple[str, ...]]]) -> SegmentationBackend:
    """The oracle backend for a simulated scene: ``objects[i] = (category, part_names)`` in the
    scene's object order; frames must carry part ids made global by ``globalize_part_ids``."""
    cats = {i: cat for i, (cat, _) in enumerate(objects)}
    parts = {i * PART_ID_STRIDE + j: p for i, (_, names) in enumerate(objects) for j, p in enumerate(names)}
    return make_backend("oracle", object_categories=cats, part_names=parts)


def globalize_part_ids(frame: RGBDFrame) -> RGBDFrame:
    """Per-object part indices (the simulator's labels) -> ids unique across objects."""
    if frame.part_ids is None or frame.object_ids is None:
        return frame
    g = np.where((frame.part_ids >= 0) & (frame.object_ids >= 0),
                 frame.object_ids * PART_ID_STRIDE + frame.part_ids, -1).astype(np.int32)
    return RGBDFrame(frame.color, frame.depth_m, frame.intrinsics, frame.T_base_camera, frame.stamp_s,
                     frame.object_ids, g)


@dataclass
class Perception:
    """``cloud``: the target (camera frame) with its part mask; ``scene_base_m`` (M, 3) every valid
    depth point off the target in the base frame (the other objects and the table: obstacles); ``overlay`` (H, W, 3) uint8 debug image;
    ``object_mask`` / ``part_mask`` (H, W) bool image masks (None when perceived elsewhere)."""

    cloud: ObjectCloud
    scene_base_m: np.ndarray
    overlay: np.ndarray | None
    T_base_camera: np.ndarray
    object_mask: np.ndarray | None = None
    part_mask: np.ndarray | None = None


class Grounder(Protocol):
    """``(instruction, object_name, part_name) -> GroundedInstruction`` (``ground`` in-process)."""

    def __call__(self, instruction: str, object_name: str, part_name: str) -> GroundedInstruction: ...


class Perceiver(Protocol):
    """``(frame, grounded) -> Perception``; ``frame`` None: the perceiver reads its own camera
    (waiting at most ``timeout_s``)."""

    def __call__(self, frame: RGBDFrame | None, grounded: GroundedInstruction, timeout_s: float = 5.0) -> Perception: ...


class Generator(Protocol):
    """``(cloud (camera frame), T_base_camera (4, 4)) -> GraspBatch``, base frame, best first."""

    def __call__(self, cloud: ObjectCloud, T_base_camera: np.ndarray) -> GraspBatch: ...


class Planner(Protocol):
    """``(q_current (7,), grasps (base), scene_base_m (M, 3) | None, lift_height_m | None) -> GraspPlan``."""

    def __call__(self, q_current: np.ndarray, grasps_base: GraspBatch, scene_base_m: np.ndarray | None,
                 lift_height_m: float | None = None) -> GraspPlan: ...


class PerceiveStage:
    """Segment the instructed object and part and build its cloud (``ifgrasp.perception``)."""

    def __init__(self, backend: SegmentationBackend, cloud: CloudConfig = CloudConfig(n_points=1024),
                 scene_stride: int = 4, relabel: bool = True) -> None:
        self.backend, self.cloud_cfg, self.stride, self.relabel = backend, cloud, scene_stride, relabel

    def __call__(self, frame: RGBDFrame, grounded: GroundedInstruction, timeout_s: float = 0.0) -> Perception:
        """``timeout_s`` is unused: the frame is given."""
        if self.relabel:
            frame = globalize_part_ids(frame)
        seg = self.backend.segment(frame, grounded)
        cloud = build_object_cloud(frame, seg.object_mask, seg.part_mask, self.cloud_cfg, grounded.category,
                                   grounded.part)
        s = self.stride
        sub = np.zeros_like(frame.depth_m, dtype=bool)
        sub[::s, ::s] = True
        # obstacles: everything but the target (its mask grown by a few pixels: edge pixels mix depths)
        sub &= ~binary_dilation(seg.object_mask, iterations=TARGET_MARGIN_PX)
        scene = transform_points(frame.T_base_camera, depth_to_points(frame.depth_m, frame.intrinsics, mask=sub))
        return Perception(cloud, scene, seg.overlay, frame.T_base_camera, seg.object_mask, seg.part_mask)


class GenerateStage:
    """Sample ``k`` grasps in the camera frame, express them in the base frame, best first."""

    def __init__(self, generator: GraspModel, k: int = 16) -> None:
        self.generator, self.k = generator, k

    def __call__(self, cloud: ObjectCloud, T_base_camera: np.ndarray) -> GraspBatch:
        batch = self.generator.generate(cloud, k=self.k, T_base_camera=T_base_camera)
        ok = np.isfinite(batch.wrist_pos_m).all(1) & np.isfinite(batch.joints_rad).all(1)  # (B,)
        if not ok.any():
            raise NoGraspError(f"the grasp generator returned no finite grasp for the {cloud.part_name} of "
                               f"the {cloud.object_name} ({len(batch)} sampled)")
        batch = batch.select(np.flatnonzero(ok))
        if batch.scores is not None:
            batch = batch.select(np.argsort(-batch.scores, kind="stable"))
        return batch.transformed(T_base_camera, "base") if batch.frame != "base" else batch


class PlanStage:
    """``GraspPlanner.plan`` over a base-frame batch."""

    def __init__(self, planner: GraspPlanner | None = None) -> None:
        self.planner = planner or GraspPlanner()

    def __call__(self, q_current: np.ndarray, grasps_base: GraspBatch, scene_base_m: np.ndarray | None,
                 lift_height_m: float | None = None) -> GraspPlan:
        return self.planner.plan(q_current, grasps_base.T_frame_wrist, grasps_base.joints_rad, scene_base_m,
                                 lift_height_m)


class HandActions:
    """Hand moves the stages need, over an in-process ``HandDriver``: ``open``, ``preshape`` (move,
    nothing latched), ``close`` (latching the grasp) and ``hold`` (re-send the grasp: keeps the
    watchdog from releasing it). The streaming is ``ifgrasp.drivers.streaming.HandStream`` (the one
    the ROS driver endpoint uses), one step every ``1 / rate_hz`` s; moves ramp over
    ``close_time_s``. The ROS commander's hand client offers the same four."""

    def __init__(self, hand, close_time_s: float = CLOSE_S, rate_hz: float = 50.0, timeout_s: float = 10.0) -> None:
        self.hand, self.close_time_s, self.rate_hz, self.timeout_s = hand, close_time_s, rate_hz, timeout_s
        self.stream = HandStream(hand)

    def open(self, should_cancel: Callable[[], bool]) -> None:
        self._run(np.zeros(0), np.zeros((0, self.hand.limits.dof)), should_cancel)

    def preshape(self, q_target: np.ndarray, should_cancel: Callable[[], bool]) -> None:
        self._run([self.close_time_s], np.asarray(q_target)[None], should_cancel, latch=False)

    def open_steps(self, should_cancel: Callable[[], bool]):
        """The opening as an iterator (``next`` streams one step; the caller sets the pace)."""
        return self._steps(np.zeros(0), np.zeros((0, self.hand.limits.dof)), should_cancel)

    def preshape_steps(self, q_target: np.ndarray, should_cancel: Callable[[], bool]):
        """The pre-shape as an iterator: each ``next`` streams one step (no sleeping: the caller's
        loop, e.g. the arm's stream, sets the pace); running it out finishes the move."""
        return self._steps([self.close_time_s], np.asarray(q_target)[None], should_cancel, latch=False)

    def close(self, q_target: np.ndarray, should_cancel: Callable[[], bool]) -> None:
        self._run([self.close_time_s], np.asarray(q_target)[None], should_cancel, latch=True)

    def _steps(self, times_s, q, should_cancel: Callable[[], bool], latch: bool | None = None):
        """Start streaming ``q`` at ``times_s`` now; the returned iterator streams one tick per
        ``next`` until done, cancelled or timed out."""
        self.stream.start(times_s, q, latch=latch)
        deadline = time.monotonic() + self.timeout_s

        def ticks():
            while time.monotonic() < deadline:
                if should_cancel():
                    self.stream.cancel()
                    return
                if self.stream.tick() == "done":
                    return
                yield
            self.stream.cancel()

        return ticks()

    def _run(self, times_s, q, should_cancel: Callable[[], bool], latch: bool | None = None) -> None:
        for _ in self._steps(times_s, q, should_cancel, latch):
            time.sleep(1.0 / self.rate_hz)

    def hold(self, q_target: np.ndarray) -> None:
        """Re-send the grasp, at most one safe step from the driver's reference (``HandStream.hold``)."""
        self.stream.hold(q_target)


class ExecuteStage:
    """Execute a planned grasp with the closing protocol the teacher validated it with
    (``ifgrasp.hand.joints``): open the hand and pre-shape it (closing joints ``pregrasp_open_rad``
    short of the grasp) while the approach starts on the arm, then close to ``squeeze_rad`` past
    the grasp (position targets past contact make the current-limited fingers press)."""

    def __init__(self, arm, hand: HandActions, squeeze_rad: float = SQUEEZE_RAD,
                 pregrasp_open_rad: float = PREGRASP_OPEN_RAD) -> None:
        self.arm, self.hand, self.squeeze_rad, self.pregrasp_open_rad = arm, hand, squeeze_rad, pregrasp_open_rad

    def __call__(self, plan: GraspPlan, should_cancel: Callable[[], bool], on_motion: Callable[[], None],
                 progress: Callable[[float], None] | None = None) -> bool:
        """Returns False when cancelled (the arm then holds). ``progress(fraction)`` follows the
        approach's trajectory time."""
        # the hand opens (releasing a latched grasp), then pre-shapes, during the approach's first
        # samples (one hand step per arm feedback, on the arm's thread): the arm starts at once, and
        # the hand is shaped long before the grasp
        target = pregrasp(plan.hand_joints_rad, self.pregrasp_open_rad)

        def open_then_shape():
            yield from self.hand.open_steps(should_cancel)
            yield from self.hand.preshape_steps(target, should_cancel)

        shaping = open_then_shape()
        next(shaping, None)  # the opening is sent now, the arm's trajectory right after it
        first = [True]
        report = _progress_reporter(plan.approach.times_s, progress)

        def feedback(fb) -> None:
            if first[0]:
                first[0] = False
                on_motion()
            next(shaping, None)
            report(fb)

        done = self.arm.execute_trajectory(plan.approach.times_s, plan.approach.q, feedback, should_cancel)
        for _ in shaping:  # an approach shorter than the pre-shape: finish it before closing
            time.sleep(0.02)
        if not done:
            return False
        self.hand.close(squeezed(plan.hand_joints_rad, self.squeeze_rad), should_cancel)
        return not should_cancel()


def _progress_reporter(times_s: np.ndarray, progress: Callable[[float], None] | None, every_s: float = 0.25):
    """A trajectory feedback callback calling ``progress(t / duration)`` at most every ``every_s`` of
    trajectory time (drivers call back per sample; ROS clients with None while running)."""
    duration = float(times_s[-1]) if len(times_s) else 0.0
    last = [0.0]  # the stage start itself is reported by the orchestrator

    def report(fb) -> None:
        if progress is None or fb is None or duration <= 0:
            return
        t = float(getattr(fb, "time_s", 0.0))
        if t - last[0] >= every_s:
            last[0] = t
            progress(t / duration)

    return report


class LiftStage:
    """Run the lift while re-sending the (squeezed) grasp so the hand's watchdog never releases it."""

    def __init__(self, arm, hand: HandActions, squeeze_rad: float = SQUEEZE_RAD) -> None:
        self.arm, self.hand, self.squeeze_rad = arm, hand, squeeze_rad

    def __call__(self, plan: GraspPlan, should_cancel: Callable[[], bool],
                 progress: Callable[[float], None] | None = None) -> bool:
        report = _progress_reporter(plan.lift.times_s, progress)

        def keep_grasp(fb) -> None:
            self.hand.hold(squeezed(plan.hand_joints_rad, self.squeeze_rad))
            report(fb)

        return self.arm.execute_trajectory(plan.lift.times_s, plan.lift.q, keep_grasp, should_cancel)


class SessionStage:
    """The arm and hand moves of a session after a grasp: ``place`` (the lift backwards, or the
    same lowering moved to a given position), ``release`` (open the hand), ``retreat`` (the approach
    backwards: the hand backs off along its approach, clear of the object, to where it started) and
    ``home`` (a joint-space move to the session's start). Each returns False when cancelled."""

    def __init__(self, arm, hand: HandActions, velocity_scale: float = 0.5, acceleration_rad_s2: float = 2.0,
                 dt_s: float = 0.02) -> None:
        self.arm, self.hand = arm, hand
        self.velocity_scale, self.acceleration_rad_s2, self.dt_s = velocity_scale, acceleration_rad_s2, dt_s
        self._limits = None

    def _move(self, waypoints: np.ndarray, should_cancel, progress, keep=None) -> bool:
        """Rest-to-rest straight joint segments through ``waypoints`` (W, 7) rad, from the arm's limits."""
        from ifgrasp.planning.trajectory import time_parametrize

        wp = np.asarray(waypoints, float)
        keep_idx = [0] + [i for i in range(1, len(wp)) if np.max(np.abs(wp[i] - wp[i - 1])) > 1e-4]
        wp = wp[keep_idx]
        if len(wp) < 2:
            return not should_cancel()
        if self._limits is None:
            from ifgrasp.drivers.limits import arm_limits

            self._limits = arm_limits()
        lim = self._limits
        traj = time_parametrize(wp, lim.velocity_rad_s * self.velocity_scale,
                                np.minimum(lim.acceleration_rad_s2, self.acceleration_rad_s2), self.dt_s)
        report = _progress_reporter(traj.times_s, progress)

        def fb(f) -> None:
            if keep is not None:
                self.hand.hold(keep)
            report(f)

        return self.arm.execute_trajectory(traj.times_s, traj.q, fb, should_cancel)

    def place(self, plan: GraspPlan, q_now: np.ndarray, position_m: np.ndarray | None, should_cancel,
              progress=None, q_hand_target: np.ndarray | None = None) -> bool:
        """Lower the held object: back down the lift to the grasp configuration (``position_m``
        None), or to the grasp pose moved by ``position_m - grasp position`` in x, y (base frame, m;
        same height). Raises ``UnreachableGraspError`` when no IK solution reaches it."""
        if position_m is None:
            return self._move(np.stack([q_now, plan.q_lift, plan.q_grasp]), should_cancel, progress, q_hand_target)
        from ifgrasp.arm import Xarm7Kinematics
        from ifgrasp.planning.planner import UnreachableGraspError

        kin = Xarm7Kinematics()
        T = np.array(plan.T_base_hand, float)
        T[:2, 3] = np.asarray(position_m, float).reshape(-1)[:2]
        T_above = T.copy()
        T_above[2, 3] += float(kin.fk_hand(plan.q_lift)[0, 2, 3] - plan.T_base_hand[2, 3])
        ik = kin.ik_hand(np.stack([T_above, T]), q_seed=np.stack([q_now, plan.q_grasp]), num_seeds=8)
        if not np.all(ik.success):
            raise UnreachableGraspError(f"the arm cannot set the object down at {np.round(T[:3, 3], 3).tolist()} m "
                                        "(base frame): no IK solution; choose a place within reach")
        q_above, q_down = np.asarray(ik.q)[0], np.asarray(ik.q)[1]
        plan.q_grasp, plan.q_pregrasp = q_down, q_above  # the retreat backs off upwards from here
        return self._move(np.stack([q_now, q_above, q_down]), should_cancel, progress, q_hand_target)

    def release(self, should_cancel) -> None:
        self.hand.open(should_cancel)

    def retreat(self, plan: GraspPlan, q_now: np.ndarray, should_cancel, progress=None) -> bool:
        """Back off along the approach (grasp -> pre-grasp), then to where the approach started."""
        return self._move(np.stack([q_now, plan.q_pregrasp, plan.approach.q[0]]), should_cancel, progress)

    def home(self, q_now: np.ndarray, q_home: np.ndarray, should_cancel, progress=None) -> bool:
        return self._move(np.stack([q_now, q_home]), should_cancel, progress)
