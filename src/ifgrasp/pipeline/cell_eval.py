"""End-to-end evaluation of student checkpoints in the simulated cell (``ifgrasp eval cell``).

The held-out student evaluation judges a floating hand on one partial view; this one runs the whole
pipeline of ``ifgrasp demo`` (perception, the student, arm planning, execution, lift, the held check)
on the demo's scene for several scene seeds, each checkpoint on the same seeds, and counts what a user
would see: which commands succeed and why the others fail. Rows go to a JSONL log (one per seed,
checkpoint and command, a session's rows written when it has ended), so a rerun resumes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ifgrasp.demo import DEMO_INSTRUCTION, SESSION_THEN, demo_scene_config
from ifgrasp.grasp.diffusion.evaluate import wilson_interval
from ifgrasp.io.rows import append_rows, read_rows

#: The demo's session: a functional grasp, putting it back, then grasping another object.
CELL_COMMANDS = (DEMO_INSTRUCTION, *SESSION_THEN)


def evaluate_in_cell(checkpoints: dict[str, Path], seeds: range, commands: tuple[str, ...] = CELL_COMMANDS,
                     log_path: Path | None = None, progress=None) -> dict:
    """Run ``commands`` in order in a fresh simulated cell per (scene seed, checkpoint); returns
    :func:`summarize_cell`'s report. Grasp commands count as successes when the pipeline reports the
    object held; "put it back" when it was put down."""
    from ifgrasp.pipeline.generator import make_generator
    from ifgrasp.pipeline.orchestrator import PipelineRequest
    from ifgrasp.pipeline.sim import SimWorld

    rows = read_rows(log_path) if log_path is not None else []
    done = {(r["checkpoint"], r["seed"]) for r in rows}
    total = len(seeds) * len(checkpoints)
    for i, seed in enumerate(seeds):
        for j, (label, path) in enumerate(checkpoints.items()):
            if (label, seed) not in done:
                world = SimWorld.build(demo_scene_config(seed))
                session = []
                try:
                    pipe = world.pipeline(make_generator("diffusion", model_path=str(path)), k=16)
                    for step, text in enumerate(commands):
                        r = pipe.run(PipelineRequest(text))
                        session.append({"checkpoint": label, "seed": seed, "step": step, "command": text,
                                        "task": r.task, "success": bool(r.success), "error_code": r.error_code.name,
                                        "failed_stage": r.failed_stage, "message": r.message})
                finally:
                    world.close()
                rows.extend(session)
                if log_path is not None:
                    append_rows(log_path, session)
            if progress is not None:
                progress(i * len(checkpoints) + j + 1, total)
    return summarize_cell([r for r in rows if r["checkpoint"] in checkpoints and r["seed"] in seeds])


def summarize_cell(rows: list[dict]) -> dict:
    """{checkpoint: {command: {runs, successes, rate, ci95, errors: {code: count}}}}."""
    out: dict = {}
    for r in rows:
        entry = out.setdefault(r["checkpoint"], {}).setdefault(r["command"], {"runs": 0, "successes": 0,
                                                                              "errors": Counter()})
        entry["runs"] += 1
        entry["successes"] += int(r["success"])
        if not r["success"]:
            entry["errors"][r["error_code"]] += 1
    for per_command in out.values():
        for entry in per_command.values():
            entry["rate"] = entry["successes"] / entry["runs"]
            entry["ci95"] = list(wilson_interval(entry["successes"], entry["runs"]))
            entry["errors"] = dict(entry["errors"].most_common())
    return out
