"""The main job: ``ifgrasp demo "pick up the mug by its handle"``.

v1 (when the student model ``models/student/student_flow.pt`` exists): the whole pipeline on the default
simulated scene through ``ifgrasp.pipeline.SimWorld``: ground -> perceive (the simulator's labels:
the *oracle* segmentation backend) -> generate (the student) -> plan -> execute -> lift, each
stage's time printed, a picture per stage written, and the outcome measured in MuJoCo (object
height above the table, which of its parts the robot touches).

v0 (no model file): render the scene to colour, depth, part overlay and overview pictures, and say
why the pipeline did not run and how to get the model.

    ifgrasp demo "pick up the mug by its handle" --out out/demo --seed 0

v0 writes ``color.png``, ``depth.png`` (colour-mapped metric depth with a scale), ``parts.png``
(objects and parts overlaid, with a legend) and ``scene_overview.png``; v1's pictures are listed in
``ifgrasp.pipeline.demo_run``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ifgrasp.paths import OUT_DIR
from ifgrasp.pipeline.demo_run import DemoResult
from ifgrasp.timing import StageTimer

OVERVIEW_SIZE = (960, 720)  # width, height in pixels
DEPTH_FAR_M = 2.0  # colour scale of depth.png ends here (the table's far corner); farther reads as far
SETTLE_S = 0.3  # let the objects come to rest before the picture
#: What the demo's session does after the first grasp: put it back, then grasp another object.
SESSION_THEN = ("put it back", "grab the spray bottle by its body")
DEMO_INSTRUCTION = "pick up the mug by its handle"


def demo_scene_config(seed: int):
    """The demo's scene (``SceneConfig.default()``) with every object's seed shifted by ``seed``."""
    from ifgrasp.sim.scene_config import SceneConfig

    cfg = SceneConfig.default()
    objects = [{**o.model_dump(), "seed": o.seed + seed} for o in cfg.objects]
    return cfg.replace(objects=objects)


def run_demo(instruction: str = DEMO_INSTRUCTION, out_dir: Path = OUT_DIR / "demo",
             seed: int = 0, echo=print, model_path: Path | None = None,
             then: tuple[str, ...] = SESSION_THEN) -> DemoResult:
    """The full pipeline when the student checkpoint ``model_path`` (default
    ``models/student/student_flow.pt``, the distilled 4-step student) exists, else the render-only v0; pictures go to ``out_dir``."""
    from ifgrasp.grasp.diffusion.commands import DEFAULT_CHECKPOINT

    model_path = Path(model_path or DEFAULT_CHECKPOINT)
    if model_path.is_file():
        from ifgrasp.pipeline.demo_run import run_pipeline_demo

        return run_pipeline_demo(instruction, Path(out_dir), demo_scene_config(seed), model_path, echo, then)
    echo(f"student model {model_path} not found, so only the scene is rendered (v0). Get the model: "
         "`ifgrasp views --split train && ifgrasp train` (teacher dataset from `ifgrasp synth`), or copy a "
         "distilled student_flow.pt there (ifgrasp distill)")
    return render_scene_only(instruction, Path(out_dir), seed, echo)


def render_scene_only(instruction: str, out_dir: Path, seed: int = 0, echo=print) -> DemoResult:
    """v0: render the default scene (object shapes varied by ``seed``) and write the pictures to ``out_dir``."""
    from PIL import Image

    from ifgrasp.sim import viz  # imports ifgrasp.sim first: headless GL default before MuJoCo loads
    from ifgrasp.sim.camera import SimRGBDCamera, render_view
    from ifgrasp.sim.scene import OVERVIEW_CAMERA, build_scene

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    timer = StageTimer()
    images: dict[str, Path] = {}

    def report(stage: str, what: str) -> None:
        echo(f"[{stage:<9}] {timer.durations_s[stage] * 1e3:8.1f} ms  {what}")

    echo(f"instruction: {instruction!r}")
    with timer.stage("scene"):
        scene = build_scene(demo_scene_config(seed))
    robot = f"xArm7 ({len(scene.arm_joint_names)} joints) + LEAP Hand ({len(scene.hand_joint_names)} joints)"
    report("scene", f"built: table, {robot if scene.has_robot else 'no robot'}, objects {', '.join(scene.object_names)}")

    with timer.stage("settle"):
        scene.step(int(round(SETTLE_S / scene.model.opt.timestep)))
    speed = max((np.linalg.norm(scene.data.cvel[scene.model.body(n).id, 3:]) for n in scene.object_names), default=0.0)
    report("settle", f"{SETTLE_S:.1f} s of physics; fastest object now {speed * 1e3:.1f} mm/s")

    with timer.stage("camera"):
        camera = SimRGBDCamera(scene)
    with timer.stage("render"):
        frame = camera.render()
    k = frame.intrinsics
    valid = frame.depth_m > 0
    report("render", f"RGB-D {k.width}x{k.height} (fx {k.fx:.0f}, fy {k.fy:.0f}); depth "
           f"{frame.depth_m[valid].min():.2f}-{frame.depth_m[valid].max():.2f} m; "
           f"{np.count_nonzero(frame.object_ids >= 0)} object pixels")

    with timer.stage("overview"):
        overview = render_view(scene, OVERVIEW_CAMERA, *OVERVIEW_SIZE)
    report("overview", f"second viewpoint {OVERVIEW_SIZE[0]}x{OVERVIEW_SIZE[1]}")

    with timer.stage("write"):
        labels = [(i, p, f"{name} / {part}") for i, name in enumerate(scene.object_names)
                  for p, part in enumerate(scene.objects[i].part_names)]
        pictures = {
            "color": frame.color,
            "depth": viz.depth_image(frame.depth_m, near_m=float(np.percentile(frame.depth_m[valid], 1)),
                                     far_m=min(float(np.percentile(frame.depth_m[valid], 99)), DEPTH_FAR_M)),
            "parts": viz.label_overlay(frame.color, frame.object_ids, frame.part_ids, labels),
            "scene_overview": viz.caption(overview, "overview: xArm7 + LEAP Hand, objects, RGB-D camera on its stand"),
        }
        for name, img in pictures.items():
            path = out_dir / f"{name}.png"
            Image.fromarray(img).save(path)
            images[name] = path
    report("write", ", ".join(f"{p.name} {pictures[n].shape[1]}x{pictures[n].shape[0]}" for n, p in images.items())
           + f" -> {out_dir}")
    camera.close()

    echo(f"instruction {instruction!r} not executed: no student model (see above)")
    echo(f"total {timer.total_s:.2f} s")
    return DemoResult(images=images, durations_s=dict(timer.durations_s), object_names=scene.object_names)
