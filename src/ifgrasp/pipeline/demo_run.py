"""``ifgrasp demo`` v1: the whole pipeline on the simulated scene with the student, a picture per stage.

Pictures (``out_dir``): ``color.png``, ``depth.png`` (the camera frame perceived), ``target.png``
(the oracle segmentation of the grounded object and part), ``candidates.png`` (hand surfaces of the
best grasps), ``plan_path.png`` (hand path of the approach and the lift in the camera image),
``plan_arm.png`` (the arm at start, pre-grasp, grasp and lift, rendered without moving anything),
``grasp.png`` (the scene when the hand has closed), ``lifted.png`` (the scene at the end).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ifgrasp.pipeline.orchestrator import RUN_ORDER, PipelineRequest

SETTLE_S = 0.3  # objects come to rest before the command
OVERVIEW_SIZE = (640, 480)
DEPTH_FAR_M = 2.0  # depth.png's colour scale ends here (the floor beyond the table reads as far)
LIFT_GOAL_M = 0.10
HELD_SHARE = 0.5  # "held by the part": at least this share of the robot's contacts on the object are on it

class DemoResult(NamedTuple):
    """What ``ifgrasp demo`` produced: image paths by name, wall time per stage (s), the scene's
    objects, and for the full pipeline its outcome (``None`` for the render-only v0)."""

    images: dict[str, Path]
    durations_s: dict[str, float]
    object_names: tuple[str, ...]
    outcome: dict | None = None


_WHAT = {"ground": "instruction -> object + part", "perceive": "oracle segmentation (simulator labels) -> cloud",
         "generate": "student diffusion sampling + ranking", "plan": "IK + collision-checked trajectory",
         "execute": "open, pre-shape, approach, close the hand", "lift": "lift while holding",
         "verify": "held? fingers stopped by the object, camera sees it risen"}


def _outcome(world, category: str, part: str, z0_m: float) -> dict:
    scene = world.scene
    i = next(i for i, o in enumerate(scene.objects) if o.category == category)
    with world.lock:
        world.arm.read_state()  # physics up to the driver clock
        z = world.object_height_m(category)
        parts = scene.robot_contacts(i)
    n = len(parts)
    part_i = scene.objects[i].part_index(part)
    share = float(np.mean(parts == part_i)) if n else 0.0
    return {"object": scene.object_names[i], "height_m": z, "start_height_m": z0_m, "lifted": z - z0_m >= LIFT_GOAL_M,
            "robot_contacts": n, "part_contact_share": share, "held_by_part": n > 0 and share >= HELD_SHARE}


def run_pipeline_demo(instruction: str, out_dir: Path, scene_cfg, model_path: Path, echo=print,
                      then: tuple[str, ...] = ()):
    from PIL import Image

    from ifgrasp.arm import Xarm7Kinematics
    from ifgrasp.pipeline import pictures
    from ifgrasp.pipeline.generator import make_generator
    from ifgrasp.pipeline.sim import SimWorld
    from ifgrasp.sim import viz
    from ifgrasp.sim.camera import render_view
    from ifgrasp.sim.scene import OVERVIEW_CAMERA
    from ifgrasp.timing import StageTimer

    out_dir.mkdir(parents=True, exist_ok=True)
    timer = StageTimer()
    echo(f"instruction: {instruction!r}")
    with timer.stage("scene"):
        world = SimWorld.build(scene_cfg)
    echo(f"[scene    ] {timer.durations_s['scene'] * 1e3:8.1f} ms  table, xArm7 + LEAP Hand, objects "
         f"{', '.join(world.scene.object_names)}")
    with timer.stage("model"):
        gen = make_generator("diffusion", model_path=str(model_path))  # the checkpoint's own step count
    echo(f"[model    ] {timer.durations_s['model'] * 1e3:8.1f} ms  student {model_path} ({gen.backend}, {gen.steps} "
         f"{'Euler' if gen.policy.sampler == 'flow' else 'DDIM'} steps, "
         f"{gen.num_candidates} candidates)")
    snaps: dict[str, np.ndarray] = {}

    def overview() -> np.ndarray:
        with world.lock:
            world.arm.read_state()
            return render_view(world.scene, OVERVIEW_CAMERA, *OVERVIEW_SIZE)

    def on_stage(f) -> None:
        if f.stage == "lift":  # the hand has closed on the object
            snaps["grasp"] = overview()

    try:
        time.sleep(SETTLE_S)
        z0 = {o.category: world.object_height_m(o.category) for o in world.scene.objects}
        q_start = (world.arm_q(), world.hand.read_state().position_rad)
        pipe = world.pipeline(gen, k=16)
        res = pipe.run(PipelineRequest(instruction), on_stage)
        for stage in RUN_ORDER:
            if stage in res.stage_latencies_s:
                mark = "FAILED " if stage == res.failed_stage else ""
                echo(f"[{stage:<9}] {res.stage_latencies_s[stage] * 1e3:8.1f} ms  {mark}{_WHAT[stage]}")
        if res.failed_stage:
            echo(f"stopped at '{res.failed_stage}': {res.error_code.name}: {res.message}")
        snaps["lifted"] = overview()
        g = res.grounded
        outcome = {"success": res.success, "error_code": res.error_code.name, "message": res.message,
                   "failed_stage": res.failed_stage, "command_to_motion_s": res.command_to_motion_s,
                   "held": res.held, "evidence": res.evidence}
        if g is not None:
            outcome.update(category=g.category, part=g.part, **_outcome(world, g.category, g.part, z0[g.category]))

        with timer.stage("pictures"):
            pics = _pictures(res, world, q_start, snaps, outcome, pictures, viz, Xarm7Kinematics())
            images = {}
            for name, img in pics.items():
                images[name] = out_dir / f"{name}.png"
                Image.fromarray(img).save(images[name])
        echo(f"[pictures ] {timer.durations_s['pictures'] * 1e3:8.1f} ms  {', '.join(p.name for p in images.values())} "
             f"-> {out_dir}")
        outcome["session"] = _session(pipe, then, echo)
    finally:
        world.close()

    if g is not None and "height_m" in outcome:
        echo(f"outcome: the {g.category} ({outcome['object']}) is {100 * (outcome['height_m'] - outcome['start_height_m']):.1f}"
             f" cm above where it stood ({'>=' if outcome['lifted'] else '<'} {100 * LIFT_GOAL_M:.0f} cm: "
             f"{'lifted' if outcome['lifted'] else 'NOT lifted'}); robot contacts on it {outcome['robot_contacts']}, "
             f"{100 * outcome['part_contact_share']:.0f}% on the {g.part} -> "
             f"{'held by the ' + g.part if outcome['held_by_part'] else 'NOT held by the ' + g.part}")
    if not np.isnan(res.command_to_motion_s):
        echo(f"command -> first arm motion {res.command_to_motion_s:.2f} s")
    durations = {**timer.durations_s, **res.stage_latencies_s}
    echo(f"total {sum(durations.values()):.2f} s")
    return DemoResult(images, durations, world.scene.object_names, outcome)


def _session(pipe, commands: tuple[str, ...], echo) -> list[dict]:
    """The rest of the demo's session (e.g. "put it back", then another grasp): one line each."""
    out = []
    for text in commands:
        r = pipe.run(PipelineRequest(text))
        stages = ", ".join(f"{s} {v:.2f} s" for s, v in r.stage_latencies_s.items())
        echo(f"[session  ] '{text}' ({r.task}): {r.error_code.name}: {r.message} [{stages}]")
        out.append({"instruction": text, "task": r.task, "error_code": r.error_code.name, "success": r.success,
                    "held": r.held, "message": r.message})
    return out


def _pictures(res, world, q_start, snaps, outcome, pictures, viz, kin) -> dict[str, np.ndarray]:
    """Every picture the stages that ran allow (see the module docstring)."""
    art = res.artifacts
    out: dict[str, np.ndarray] = {}
    frame = art.get("frame")
    if frame is not None:
        valid = frame.depth_m > 0
        out["color"] = viz.caption(frame.color, "camera colour (what perception saw)")
        out["depth"] = viz.depth_image(frame.depth_m, float(np.percentile(frame.depth_m[valid], 1)),
                                       min(float(np.percentile(frame.depth_m[valid], 99)), DEPTH_FAR_M))
    per = art.get("perception")
    if per is not None:
        c = per.cloud
        out["target"] = viz.caption(per.overlay, f"oracle segmentation: {c.object_name} / {c.part_name}: "
                                                 f"{len(c.points_m)} cloud points, {int(c.part_mask.sum())} on the part")
    grasps = art.get("grasps")
    if grasps is not None and frame is not None:
        chosen = res.plan.candidate if res.plan is not None else None
        out["candidates"] = pictures.draw_grasps(frame.color, grasps, frame.T_base_camera, frame.intrinsics,
                                                 n=4, chosen=chosen)
    plan = res.plan
    if plan is not None and frame is not None:
        paths = [("approach (hand origin)", kin.fk_hand(plan.approach.q)[:, :3, 3]),
                 ("lift", kin.fk_hand(plan.lift.q)[:, :3, 3])]
        out["plan_path"] = pictures.draw_path(frame.color, paths, frame.T_base_camera, frame.intrinsics,
                                              f"planned hand path: approach {plan.approach.duration_s:.1f} s, "
                                              f"lift {plan.lift.duration_s:.1f} s")
        open_q = q_start[1]
        out["plan_arm"] = pictures.render_configurations(world.scene, [
            ("start", q_start[0], open_q), ("pre-grasp", plan.q_pregrasp, open_q),
            ("grasp", plan.q_grasp, plan.hand_joints_rad), ("lift", plan.q_lift, plan.hand_joints_rad)], size=(320, 240))
    if "grasp" in snaps:
        out["grasp"] = viz.caption(snaps["grasp"], "hand closed on the object (before the lift)")
    end = (f"pipeline {res.error_code.name}" + (f" at {res.failed_stage}" if res.failed_stage else ""))
    if "height_m" in outcome:
        end += (f"; {outcome['object']} {100 * (outcome['height_m'] - outcome['start_height_m']):.1f} cm up, "
                f"{'held' if outcome['held_by_part'] else 'not held'} by the {outcome['part']}")
    out["lifted"] = viz.caption(snaps["lifted"], f"end of the command: {end}")
    return out
