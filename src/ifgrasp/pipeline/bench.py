"""Latency of the grasp pipeline per stage and command -> first arm motion (``ifgrasp bench graph``).

    results = run_sim_bench(generator, repeats=3)          # in-process on the MuJoCo scene
    for stats in stage_stats(results): print(stats.row())  # name, median ms, p95 ms, n

``stage_stats`` also takes the ROS action's results turned into ``(stage -> seconds, command_to_motion_s)``
pairs, so the graph benchmark and the in-process one print the same table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ifgrasp.pipeline.orchestrator import RUN_ORDER, PipelineRequest, PipelineResult
from ifgrasp.timing import LatencyStats


def stage_stats(results: Iterable[PipelineResult | tuple[dict[str, float], float]]) -> list[LatencyStats]:
    """Per-stage ``LatencyStats`` (run order), then ``command_to_motion`` and ``total``; a stage
    missing from a run (it failed earlier) is left out of that stage's samples."""
    per: dict[str, list[float]] = {s: [] for s in RUN_ORDER}
    motion, total = [], []
    for r in results:
        lat, c2m = (r.stage_latencies_s, r.command_to_motion_s) if isinstance(r, PipelineResult) else r
        for s, v in lat.items():
            per.setdefault(s, []).append(float(v))
        if not math.isnan(c2m):
            motion.append(float(c2m))
        total.append(float(sum(lat.values())))
    out = [LatencyStats(s, np.asarray(v)) for s, v in per.items() if v]
    if motion:
        out.append(LatencyStats("command_to_motion", np.asarray(motion)))
    out.append(LatencyStats("total", np.asarray(total)))
    return out


def run_sim_bench(generator, instruction: str = "pick up the mug by its handle", repeats: int = 3,
                  width: int = 320, height: int = 240, k: int = 16, execute: bool = True,
                  before_run=None) -> list[PipelineResult]:
    """Run the whole pipeline ``repeats`` times on a fresh-reset simulated scene; returns the results.
    ``before_run(i)`` (optional) is called before run ``i`` (e.g. to switch a setting for an A/B)."""
    from ifgrasp.pipeline.sim import SimWorld

    world = SimWorld.build(width=width, height=height)
    try:
        pipe = world.pipeline(generator, k=k)
        results = []
        for i in range(repeats):
            world.reset()
            pipe.holding = None  # the reset released the hand (a held mug made every later run HOLDING)
            if before_run is not None:
                before_run(i)
            results.append(pipe.run(PipelineRequest(instruction), execute=execute))
        return results
    finally:
        world.close()


def print_stage_table(stats: list[LatencyStats], title: str, console=None) -> None:
    """One row per stage (run order), then ``command_to_motion`` and ``total``: median and p95 in ms."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for h in ("stage", "median ms", "p95 ms", "runs"):
        table.add_column(h)
    for s in stats:
        table.add_row(*s.row())
    (console or Console()).print(table)


def bench_graph_command(checkpoint, repeats: int, instruction: str, steps: int | None = None, execute: bool = True,
                        echo=print, full_repair_baseline: bool = False) -> list[LatencyStats]:
    """``ifgrasp bench graph``: the in-process pipeline on the simulated scene with the student,
    ``repeats`` runs; prints the per-stage table and the outcome of each run.
    ``full_repair_baseline``: every other run uses the previous path (the student's self-collision
    repair always runs all its steps), and both tables and the command -> motion ratio are printed."""
    from ifgrasp.errors import InputError
    from ifgrasp.grasp.diffusion.commands import DEFAULT_CHECKPOINT
    from ifgrasp.pipeline.generator import make_generator

    if repeats < 1:
        raise InputError(f"--repeats must be >= 1, got {repeats}")
    gen = make_generator("diffusion", model_path=str(checkpoint or DEFAULT_CHECKPOINT), steps=steps or None)
    names, extra = ["current"], {}
    if full_repair_baseline:
        paths = {"current": gen.physics_cfg, "previous: full repair": gen.physics_cfg.replace(repair_check_every=0)}
        names = list(paths)

        def before_run(i: int) -> None:
            gen.physics_cfg, gen._physics = paths[names[i % len(names)]], None

        extra["before_run"] = before_run
    results = run_sim_bench(gen, instruction=instruction, repeats=repeats * len(names), execute=execute, **extra)
    for i, r in enumerate(results):
        echo(f"run {i + 1} ({names[i % len(names)]}): {r.error_code.name}: {r.message}")
    out, motion = [], {}
    for j, name in enumerate(names):
        stats = stage_stats(results[j::len(names)])
        print_stage_table(stats, f"ifgrasp bench graph: '{instruction}', {repeats} runs, sim 320x240, student "
                          f"{steps} steps, {name} (in-process stages; the ROS graph adds transport)")
        motion[name] = next((s.median_s for s in stats if s.name == "command_to_motion"), float("nan"))
        out = out or stats
    if full_repair_baseline:
        echo(f"command -> first motion median: current / previous = {motion[names[0]] / motion[names[1]]:.2f}")
    return out


#: Instructions of the held-decision trials: parts that hold well and parts that often slip.
HOLD_INSTRUCTIONS = ("pick up the mug by its handle", "hold the spray bottle by its trigger",
                     "pick up the mug by its body", "grab the spray bottle by its body")
HELD_RISE_M = 0.05  # simulator ground truth: held when the object rose this much and is off the table


def run_hold_trials(generator, instructions=HOLD_INSTRUCTIONS, seeds=range(5), width: int = 320,
                    height: int = 240, k: int = 16, echo=print, keep_clouds: bool = False) -> list[dict]:
    """The held decision (hand and camera) against the simulator's ground truth (``SimWorld.lifted``:
    rose ``HELD_RISE_M``, off the table), one row per instruction and scene seed that reached the
    verify stage; ``keep_clouds``: rows also carry the target's base-frame clouds before and after."""
    from ifgrasp.pipeline.sim import SimWorld
    from ifgrasp.sim.scene_config import SceneConfig

    rows = []
    for seed in seeds:
        cfg = SceneConfig.default()
        cfg = cfg.replace(objects=[{**o.model_dump(), "seed": o.seed + seed} for o in cfg.objects])
        world = SimWorld.build(cfg, width, height)
        try:
            pipe = world.pipeline(generator, k=k)
            for text in instructions:
                world.reset()
                pipe.holding = None
                z0 = {o.category: world.object_height_m(o.category) for o in world.scene.objects}
                res = pipe.run(PipelineRequest(text))
                if "verify" not in res.stage_latencies_s or res.grounded is None:
                    echo(f"seed {seed} '{text}': {res.error_code.name} before verify: {res.message[:120]}")
                    continue
                cat = res.grounded.category
                truth, rise = world.lifted(cat, z0[cat], HELD_RISE_M)
                row = {"seed": seed, "instruction": text, "held": res.held, "truth": truth,
                       "rise_m": rise, "evidence": res.evidence, **_cloud_rises(res.artifacts)}
                if keep_clouds:
                    row.update({k: _base_cloud(res.artifacts[a]) for k, a in (("cloud_before", "perception"),
                                                                            ("cloud_after", "look"))
                                if a in res.artifacts})
                rows.append(row)
                echo(f"seed {seed} '{text}': decided {'held' if row['held'] else 'DROPPED'}, truth "
                     f"{'held' if row['truth'] else 'dropped'} (rise {100 * rise:.1f} cm): {res.evidence}")
        finally:
            world.close()
    return rows


def _base_cloud(p) -> np.ndarray:
    """A perception's target cloud (N, 3) in the base frame, m."""
    return p.cloud.points_m @ p.T_base_camera[:3, :3].T + p.T_base_camera[:3, 3]


def _cloud_rises(artifacts: dict, q=(10, 50, 75, 90, 95)) -> dict:
    """Diagnostics: the target cloud's rise at several height percentiles (m) and its point counts."""
    from ifgrasp.pipeline.hold import cloud_height_m

    before, after = artifacts.get("perception"), artifacts.get("look")
    if before is None or after is None:
        return {}
    out = {f"rise_p{p}_m": cloud_height_m(after.cloud.points_m, after.T_base_camera, p)
           - cloud_height_m(before.cloud.points_m, before.T_base_camera, p) for p in q}
    out["pixels_before"] = int(before.object_mask.sum()) if before.object_mask is not None else -1
    out["pixels_after"] = int(after.object_mask.sum()) if after.object_mask is not None else -1
    return out


def bench_hold_command(checkpoint, seeds: int, steps: int | None = None, echo=print) -> list[dict]:
    """``ifgrasp bench hold``: ``run_hold_trials`` with the student, then the confusion counts
    (truth: ``SimWorld.lifted``, the object rose and is off the table)."""
    from ifgrasp.grasp.diffusion.commands import DEFAULT_CHECKPOINT
    from ifgrasp.pipeline.generator import make_generator

    gen = make_generator("diffusion", model_path=str(checkpoint or DEFAULT_CHECKPOINT), steps=steps or None)
    rows = run_hold_trials(gen, seeds=range(seeds), echo=echo)
    n = {(r["held"], r["truth"]): 0 for r in rows}
    for r in rows:
        n[(r["held"], r["truth"])] = n.get((r["held"], r["truth"]), 0) + 1
    echo(f"{len(rows)} grasps reached verify: held & held {n.get((True, True), 0)}, DROPPED & dropped "
         f"{n.get((False, False), 0)}, false held {n.get((True, False), 0)}, false DROPPED {n.get((False, True), 0)}")
    return rows
