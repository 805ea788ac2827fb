"""The student (grasp diffusion): views, train, export, eval student, bench generate, bench graph."""

from __future__ import annotations

from pathlib import Path

import typer

from ifgrasp.cli.apps import Split, app, bench_app, eval_app
from ifgrasp.errors import InputError
from ifgrasp.paths import OUT_DIR


def parse_steps(text: str) -> list[int]:
    """``"1,2,4,8,50"`` -> [1, 2, 4, 8, 50]; ``InputError`` for anything but positive integers."""
    try:
        steps = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        steps = []
    if not steps or min(steps) < 1:
        raise InputError(f"--steps must be comma-separated positive integers such as 1,2,4,8,50; got '{text}'")
    return steps


@app.command()
def views(
    split: Split = typer.Option(Split.train, help="object family: train | heldout"),
    views_per_object: int = typer.Option(8, min=1, help="camera views rendered per object"),
    out: Path = typer.Option(None, help="folder to write (default: data/views/<split>)"),
) -> None:
    """Render the student's training data: simulated camera views (partial clouds, part masks) per object.

    Example: ``ifgrasp views --split heldout --views-per-object 4``
    """
    from ifgrasp.grasp.diffusion.commands import views_command

    views_command(split.value, views_per_object, out)


@app.command()
def train(
    config: Path = typer.Option(None, help="TrainConfig YAML (default: config/student.yaml)"),
    out: Path = typer.Option(None, help="folder for student.pt and its checkpoints (default: models/student)"),
    steps: int = typer.Option(None, min=1, help="override: optimiser steps"),
    critic: bool = typer.Option(False, "--critic", help="train the learned grasp score (config/critic.yaml) on every "
                                "teacher grasp instead of the student, into out/critic/critic.pt unless --out"),
) -> None:
    """Distil the teacher's validated grasps into the diffusion student (progress bar, checkpoints, seed).

    Example: ``ifgrasp train --steps 2000 --out out/student_try``; ``ifgrasp train --critic``
    """
    from ifgrasp.grasp.diffusion.commands import train_command

    train_command(config, out, steps, critic)


@app.command()
def distill(
    config: Path = typer.Option(None, help="DistillConfig YAML (default: config/distill.yaml)"),
    out: Path = typer.Option(None, help="folder for student_flow.pt, its couplings and state (default: out/distill; "
                      "copy student_flow.pt beside student.pt to ship it)"),
    steps: int = typer.Option(None, min=1, help="override: optimiser steps"),
) -> None:
    """Distil the DDIM student into a few-step sampler (rectified flow on its 50-step couplings; resumable).

    Example: ``nice -n 10 ifgrasp distill`` (then ``ifgrasp eval student --checkpoint
    out/distill/student_flow.pt --steps 1,2,4``)
    """
    from ifgrasp.grasp.diffusion.commands import distill_command

    distill_command(config, out, steps)


@app.command()
def export(
    checkpoint: Path = typer.Option(None, help="student checkpoint (default: models/student/student_flow.pt)"),
    out: Path = typer.Option(None, help="ONNX file (default: the checkpoint's path with .onnx)"),
    steps: int = typer.Option(None, min=1, help="sampler steps unrolled into the graph (default: the checkpoint's "
                              "own: 8 DDIM steps, or the distilled model's recorded count)"),
    critic: str = typer.Option("auto", help="critic in the same graph: auto (critic.pt beside the checkpoint if "
                               "present), none, or a critic file"),
    ranking: bool = typer.Option(True, help="the ranking's measures in the same graph (--no-ranking: sampler + "
                                 "critic only)"),
) -> None:
    """Export the student's few-step sampler + its critic + the ranking's measures to ONNX, checked against torch.

    Example: ``ifgrasp export --steps 8``; ``ifgrasp export --checkpoint models/student/student_flow.pt``
    """
    from ifgrasp.grasp.diffusion.commands import export_command

    export_command(checkpoint, out, steps, critic, ranking)


@eval_app.command("student")
def eval_student(
    checkpoint: Path = typer.Option(None, help="student checkpoint (default: models/student/student_flow.pt)"),
    views: Path = typer.Option(None, help="held-out camera views (default: data/views/heldout)"),
    k: int = typer.Option(8, min=1, help="grasps kept per view (top-k)"),
    views_per_object: int = typer.Option(8, min=1, help="views evaluated per object (8: ~430 held-out cases)"),
    steps: str = typer.Option("", help="comma-separated sampler step counts to compare (default: the checkpoint's "
                              "own: 4 Euler steps for the distilled flow, 8 DDIM for student.pt)"),
    out: Path = typer.Option(OUT_DIR / "eval_student.json", help="JSON report (per-case rows: same name .jsonl; "
                             "a rerun resumes from it)"),
    critic: str = typer.Option("auto", help="learned ranking term: auto (critic.pt beside the checkpoint if "
                               "present), none, or a critic file; several, comma-separated (label=file), rank the "
                               "same candidates as paired variants, each distinct grasp judged once"),
    physics: str = typer.Option("fill", help="physics variants, paired on the same cases: fill (the generator's "
                         "default: self-collision repair only when fewer than k candidates are within 1 mm, then "
                         "reject), repair (repair the best 16 over 1 mm, then reject), on (refine + repair + reject), "
                         "off (raw sampler), reject (drop candidates over 1 mm self-penetration)"),
    judge: str = typer.Option("v1", help="comma-separated judge versions (validation) to report"),
    max_cases: int = typer.Option(None, min=1, help="only the first N cases (view-major order: every task early)"),
    categories: str = typer.Option("", help="comma-separated object categories to evaluate (default: all)"),
    report_only: bool = typer.Option(False, help="run nothing: rebuild the report from the .jsonl rows so far "
                                     "(with a smaller --k than the run's: each row's first k)"),
) -> None:
    """Student on held-out (object, part, view) cases: top-1 lift with 95% Wilson CI and top-k lift per task,
    judged in MuJoCo, plus a geometric pre-check of every output (self-penetration, cloud penetration,
    fingertip distance to the part).

    Example: ``ifgrasp eval student --steps 8 --physics on,off --judge v1 --views-per-object 8``
    """
    from ifgrasp.grasp.diffusion.commands import eval_student_command

    eval_student_command(checkpoint, views, k, views_per_object, parse_steps(steps) if steps else None, out, critic,
                         tuple(p.strip() for p in physics.split(",")), tuple(j.strip() for j in judge.split(",")),
                         max_cases, None, report_only,
                         tuple(c.strip() for c in categories.split(",") if c.strip()) or None)


@eval_app.command("critic")
def eval_critic(
    critic: str = typer.Option("auto", help="comma-separated critics (label=file, auto = critic.pt beside the "
                               "default student)"),
    dataset: Path = typer.Option(None, help="teacher grasps with stored outcomes (default: data/teacher/heldout)"),
    views: Path = typer.Option(None, help="camera views of the dataset's objects (default: data/views/heldout)"),
    out: Path = typer.Option(OUT_DIR / "eval_critic.json", help="JSON report"),
) -> None:
    """Critics' ranking quality on teacher grasps of held-out objects against their stored outcomes: ROC AUC
    of lift and of v2 (lift with exact penetration and self-penetration <= 1 mm), precision@1/8 of lift per
    (object, part, view), overall and per category.

    Example: ``ifgrasp eval critic --critic release=models/student/critic.pt,v2=out/critic/critic.pt``
    """
    from ifgrasp.grasp.diffusion.commands import eval_critic_command

    eval_critic_command(critic, dataset, views, out)


@bench_app.command("generate")
def bench_generate(
    checkpoint: Path = typer.Option(None, help="the generator timed as new (default: models/student/student_flow.pt)"),
    base: Path = typer.Option(None, help="the old default model (default: models/student/student.pt)"),
    candidates: int = typer.Option(64, min=1, help="grasps sampled per call"),
    base_steps: int = typer.Option(8, min=1, help="the old model's DDIM steps"),
    repeats: int = typer.Option(30, min=1, help="timed calls per path (interleaved)"),
    steps: int = typer.Option(None, min=1, help="the new model's steps (default: the checkpoint's own)"),
    threads: int = typer.Option(1, min=1, help="torch and onnxruntime threads (on the shared 2-core machine 2 threads "
                                "were 2x slower under load)"),
) -> None:
    """Student latency on a 2,048-point view: the old path (8 DDIM steps, ONNX sampler + torch ranking; torch;
    one-graph ONNX) against the new default (distilled flow, torch and one ONNX graph with critic and ranking),
    medians, p95 and ratios in one run, plus the machine's load.

    Example: ``nice -n 10 ifgrasp bench generate --repeats 30``
    """
    from ifgrasp.grasp.diffusion.commands import bench_generate_command

    bench_generate_command(checkpoint, base, candidates, base_steps, repeats, steps, threads)


@bench_app.command("graph")
def bench_graph(
    checkpoint: Path = typer.Option(None, help="student checkpoint (default: models/student/student_flow.pt)"),
    instruction: str = typer.Option("pick up the mug by its handle", help="command to run"),
    repeats: int = typer.Option(3, min=1, help="runs, each on a freshly reset scene"),
    steps: int = typer.Option(None, min=1, help="sampler steps (default: the checkpoint's own: 4 for the flow)"),
    execute: bool = typer.Option(True, help="also execute and lift (--no-execute: plan only)"),
    baseline: bool = typer.Option(False, help="interleave runs of the previous path (the student's "
                                  "self-collision repair runs all its steps) and print the ratio"),
) -> None:
    """Per-stage latency of the grasp pipeline (median, p95) and command -> first arm motion, on the sim.

    Example: ``ifgrasp bench graph --repeats 5 --baseline``
    """
    from ifgrasp.pipeline.bench import bench_graph_command

    bench_graph_command(checkpoint, repeats, instruction, steps, execute, echo=typer.echo, full_repair_baseline=baseline)


@bench_app.command("hold")
def bench_hold(
    checkpoint: Path = typer.Option(None, help="student checkpoint (default: models/student/student_flow.pt)"),
    seeds: int = typer.Option(5, min=1, help="scene seeds; each runs the four held-decision instructions"),
    steps: int = typer.Option(None, min=1, help="sampler steps (default: the checkpoint's own: 4 for the flow)"),
) -> None:
    """The held decision (hand measurements, camera) against the simulator's ground truth: false "held" counted.

    Example: ``ifgrasp bench hold --seeds 5`` (20 grasps)
    """
    from ifgrasp.pipeline.bench import bench_hold_command

    bench_hold_command(checkpoint, seeds, steps, echo=typer.echo)


@eval_app.command("cell")
def eval_cell(
    checkpoint: str = typer.Option("release=models/student/student_flow.pt", help="student checkpoints to compare, "
                                   "comma-separated label=file (a bare file is its own label), each on the same "
                                   "scene seeds"),
    seeds: int = typer.Option(30, min=1, help="scene seeds 0..N-1 (the demo's scene, objects' seeds shifted)"),
    out: Path = typer.Option(OUT_DIR / "eval_cell.json", help="JSON report (rows: same name .jsonl; a rerun "
                             "resumes from it)"),
) -> None:
    """The demo's session (a functional grasp, put it back, another grasp) end to end in the simulated cell:
    success per command with 95% Wilson CI and why the others failed, per checkpoint.

    Example: ``ifgrasp eval cell --checkpoint old=models/student/student_flow.pt,new=out/distill/student_flow.pt``
    """
    import json

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from ifgrasp.grasp.diffusion.commands import parse_labelled
    from ifgrasp.pipeline.cell_eval import evaluate_in_cell

    checkpoints = {label: Path(path) for label, path in
                   parse_labelled(checkpoint, "--checkpoint", "checkpoint", "label=file entries").items()}
    missing = [f"{label}={path}" for label, path in checkpoints.items() if not path.is_file()]
    if missing:
        raise InputError(f"--checkpoint: no such file for {', '.join(missing)}")
    with Progress() as bar:
        task = bar.add_task("cell sessions", total=seeds * len(checkpoints))
        report = evaluate_in_cell(checkpoints, range(seeds), log_path=out.with_suffix(".jsonl"),
                                  progress=lambda done, total: bar.update(task, completed=done))
    table = Table(title=f"the demo's session in the simulated cell, {seeds} scene seeds")
    for h in ("checkpoint", "command", "runs", "success [95% CI]", "failures"):
        table.add_column(h)
    for label, per_command in report.items():
        for command, m in per_command.items():
            table.add_row(label, command, str(m["runs"]), f"{m['rate']:.0%} [{m['ci95'][0]:.0%}-{m['ci95'][1]:.0%}]",
                          ", ".join(f"{code} {n}" for code, n in m["errors"].items()))
    Console().print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
