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
                  width: int = 320, height: int = 240, k: int = 16, execute: bool = True) -> list[PipelineResult]:
    """Run the whole pipeline ``repeats`` times on a fresh-reset simulated scene; returns the results."""
    from ifgrasp.pipeline.sim import SimWorld

    world = SimWorld.build(width=width, height=height)
    try:
        pipe = world.pipeline(generator, k=k)
        results = []
        for _ in range(repeats):
            world.reset()
            results.append(pipe.run(PipelineRequest(instruction), execute=execute))
        return results
    finally:
        world.close()
