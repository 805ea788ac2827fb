"""The pipeline on the MuJoCo scene: simulated camera, sim arm/hand drivers, oracle segmentation.

    world = SimWorld.build(SceneConfig.default(), width=320, height=240)
    pipe = world.pipeline(make_generator("diffusion", model_path="models/student/student_flow.pt"))
    result = pipe.run(PipelineRequest("pick up the mug by its handle"))

The drivers follow the (virtual) clock: physics advances whenever a driver reads, so the scene
moves in real time like hardware while a trajectory streams. ``lock`` serialises MuJoCo access
for owners that render or publish from other threads (the ROS ``sim_world`` node).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from ifgrasp.drivers import make_driver
from ifgrasp.pipeline.generator import GraspModel
from ifgrasp.pipeline.orchestrator import GraspPipeline
from ifgrasp.pipeline.stages import (ExecuteStage, GenerateStage, HandActions, LiftStage, PerceiveStage, PlanStage,
                                     SessionStage, sim_oracle_backend)
from ifgrasp.planning import GraspPlanner, PlannerConfig
from ifgrasp.types import RGBDFrame


@dataclass
class SimWorld:
    """A scene with its camera and connected sim drivers (``arm``: ``ArmDriver``, ``hand``: ``HandDriver``)."""

    scene: object
    camera: object
    arm: object
    hand: object
    lock: threading.RLock

    @classmethod
    def build(cls, scene_cfg=None, width: int = 0, height: int = 0, driver_sections: dict | None = None,
              scene=None) -> "SimWorld":
        """``scene``: an already built ``SimScene`` (e.g. with the calibration board) instead of ``scene_cfg``'s."""
        from ifgrasp.sim.camera import SimRGBDCamera
        from ifgrasp.sim.scene import build_scene
        from ifgrasp.sim.scene_config import SceneConfig

        scene = scene or build_scene(scene_cfg or SceneConfig.default())
        intr = None
        if width > 0 and height > 0:
            k = scene.cfg.camera.intrinsics
            sx, sy = width / k.width, height / k.height
            from ifgrasp.types import CameraIntrinsics

            intr = CameraIntrinsics(width, height, k.fx * sx, k.fy * sy, (k.cx + 0.5) * sx - 0.5, (k.cy + 0.5) * sy - 0.5)
        camera = SimRGBDCamera(scene, intrinsics=intr)
        from ifgrasp.drivers.sim.backend import PhysicsClock, SimConfig

        sections = driver_sections or {}
        arm_cfg = SimConfig.from_dict(sections.get("arm") or {})
        physics = PhysicsClock(scene.model, scene.data, time.monotonic, arm_cfg.max_advance_s)
        common = dict(model=scene.model, data=scene.data, physics=physics)  # one MjData, one simulated time
        arm = make_driver("arm", "sim", sections.get("arm"), joint_names=scene.arm_joint_names,
                          actuator_names=scene.arm_joint_names, **common).connect()
        hand = make_driver("hand", "sim", sections.get("hand"), joint_names=scene.hand_joint_names,
                           actuator_names=scene.hand_joint_names, **common).connect()
        return cls(scene, camera, arm, hand, threading.RLock())

    def objects(self) -> list[tuple[str, tuple[str, ...]]]:
        return [(o.category, tuple(o.part_names)) for o in self.scene.objects]

    def render(self, timeout_s: float = 0.0) -> RGBDFrame:
        """The current frame (physics advanced to the driver clock first)."""
        with self.lock:
            self.arm.read_state()
            return self.camera.render()

    def arm_q(self) -> np.ndarray:
        with self.lock:
            return self.arm.read_state().position_rad

    def object_height_m(self, category: str) -> float:
        """Height of the first object of ``category``'s frame origin above the table top (m)."""
        i = next(i for i, o in enumerate(self.scene.objects) if o.category == category)
        return float(self.scene.object_pose(self.scene.object_names[i])[2, 3])

    def lifted(self, category: str, start_height_m: float, min_rise_m: float) -> tuple[bool, float]:
        """The simulator's ground truth of a lift: (the first object of ``category`` rose at least
        ``min_rise_m`` since ``start_height_m`` AND touches neither table nor floor, its rise in m).
        The rise alone is not enough: a mug knocked onto its side raises its frame origin ~5 cm."""
        i = next(i for i, o in enumerate(self.scene.objects) if o.category == category)
        with self.lock:
            self.arm.read_state()  # physics up to the driver clock
            rise = self.object_height_m(category) - start_height_m
            return bool(rise >= min_rise_m and self.scene.support_contacts(i) == 0), float(rise)

    def pipeline(self, generator: GraspModel, k: int = 16, planner: PlannerConfig | None = None,
                 frame_timeout_s: float = 5.0) -> GraspPipeline:
        hands = HandActions(self.hand)
        perceive = PerceiveStage(sim_oracle_backend(self.objects()))
        return GraspPipeline(self.render, self.arm_q, perceive,
                             GenerateStage(generator, k), PlanStage(GraspPlanner(planner)),
                             ExecuteStage(self.arm, hands), LiftStage(self.arm, hands), frame_timeout_s,
                             read_hand=self.read_hand, session=SessionStage(self.arm, hands),
                             look=lambda grounded: perceive(self.render(), grounded),
                             pregrasp_offset_m=(planner or PlannerConfig()).pregrasp_offset_m,
                             hand_filter_margin_m=(planner or PlannerConfig()).self_filter_margin_m)

    def read_hand(self) -> tuple[np.ndarray, np.ndarray, str]:
        """The hand's reading for the held decision: positions (16,) rad, efforts (16,), their unit."""
        with self.lock:
            s = self.hand.read_state()
        return s.position_rad, s.effort, s.effort_unit

    def reset(self) -> None:
        """Scene back to its initial state; drivers re-synchronised to it (hand released)."""
        with self.lock:
            self.scene.reset()
            # the latch first: a latched hand's hold (stop, recover) keeps its squeeze goal, one
            # max_step_rad from the open fingers, and the reset hand would close again on nothing
            self.hand.grasp_latched, self.hand.latched_goal = False, None
            for driver in (self.arm, self.hand):
                driver.stop()
                driver.recover()

    def close(self) -> None:
        self.arm.disconnect()
        self.hand.disconnect()
        self.camera.close()
