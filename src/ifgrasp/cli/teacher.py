"""The teacher (grasp synthesis + physics validation) and object pictures."""

from __future__ import annotations

from pathlib import Path

import typer

from ifgrasp.cli.apps import Split, app, bench_app, eval_app
from ifgrasp.paths import OUT_DIR


@app.command()
def synth(
    config: Path = typer.Option(None, help="DatasetConfig YAML (default: config/teacher_dataset.yaml)"),
    out: Path = typer.Option(None, help="dataset folder (default: data/teacher)"),
    per_category: int = typer.Option(None, help="override: objects per category"),
    rounds: int = typer.Option(None, help="override: synthesis batches per (object, part)"),
    batch: int = typer.Option(None, help="override: grasps per batch"),
    steps: int = typer.Option(None, help="override: optimisation steps"),
    categories: str = typer.Option(None, help="override: comma-separated categories"),
    parts: str = typer.Option(None, help="only these instructed parts, comma-separated (e.g. handle,trigger)"),
    worker: int = typer.Option(0, help="this process takes every WORKERS-th missing shard, starting at WORKER"),
    workers: int = typer.Option(1, help="processes sharing the work"),
) -> None:
    """Teacher dataset: synthesise + validate grasps for every training object and part (resumable).

    Two cores: ``ifgrasp synth --worker 0 --workers 2`` beside ``--worker 1 --workers 2``; grow the
    scarce tasks with ``--categories mug,spray_bottle --parts handle,trigger --rounds R``."""
    from ifgrasp.grasp.commands import synth_command

    synth_command(config, out, per_category, rounds, batch, steps, categories, worker, workers, parts)


@app.command()
def revalidate(
    config: Path = typer.Option(None, help="DatasetConfig YAML whose validation settings to apply (default: config/teacher_dataset.yaml)"),
    out: Path = typer.Option(None, help="dataset folder (default: data/teacher)"),
    worker: int = typer.Option(0, help="this process takes every WORKERS-th stale shard, starting at WORKER"),
    workers: int = typer.Option(1, help="processes sharing the work"),
    incomplete: bool = typer.Option(False, help="also shards whose labels are current but that lack "
                                    "results the judge added later (per-push 6-direction, grip margin, "
                                    "thumb share)"),
) -> None:
    """Teacher dataset: re-run the physics tests of shards made under other validation settings
    (resumable; grasps kept). Example: ``ifgrasp revalidate --worker 0 --workers 2`` beside
    ``--worker 1 --workers 2``."""
    from ifgrasp.grasp.commands import revalidate_command

    revalidate_command(config, out, worker, workers, incomplete)


@eval_app.command("teacher")
def eval_teacher(
    dataset: Path = typer.Option(None, help="evaluate an existing dataset folder instead of generating"),
    split: str = typer.Option("heldout", help="object family: train | heldout"),
    per_category: int = typer.Option(1, help="objects per category when generating"),
    batch: int = typer.Option(16, help="grasps per (object, part) when generating"),
    steps: int = typer.Option(None, help="override: optimisation steps"),
    out: Path = typer.Option(OUT_DIR / "eval_teacher.json", help="JSON report"),
) -> None:
    """Teacher metrics per category: lift / shake / 6-dir, part accuracy, penetration, diversity."""
    from ifgrasp.grasp.commands import eval_teacher_command

    eval_teacher_command(dataset, split, per_category, batch, steps, out)


@app.command("render-grasps")
def render_grasps(
    category: str = typer.Option("mug", help="object category"),
    seed: int = typer.Option(0, help="object seed"),
    part: str = typer.Option(None, help="part to grasp (default: the category's first task)"),
    dataset: Path = typer.Option(None, help="draw grasps from this dataset folder instead of synthesising"),
    count: int = typer.Option(8, help="grasps to draw"),
    steps: int = typer.Option(None, help="override: optimisation steps when synthesising"),
    validated: bool = typer.Option(False, help="with --dataset: only the grasps the teacher kept (what the student learns)"),
    judge: str = typer.Option("v2", help="with --validated: the filter that decides what was kept (v2, or v1 for "
                              "labels made before the v2 judge)"),
    out: Path = typer.Option(OUT_DIR / "grasps.png", help="PNG to write"),
) -> None:
    """Draw grasps on an object (hand, object coloured by part, contact points) to a PNG."""
    from ifgrasp.grasp.commands import render_grasps_command

    render_grasps_command(category, seed, part, dataset, count, steps, out, validated, judge)


@bench_app.command("teacher")
def bench_teacher(
    batch: int = typer.Option(16, help="grasps per batch"),
    steps: int = typer.Option(None, help="override: optimisation steps"),
    objects: int = typer.Option(3, help="(object, part) pairs to time"),
) -> None:
    """Optimised grasps/s, validated grasps/s and the share of optimised grasps that pass."""
    from ifgrasp.grasp.commands import bench_teacher_command

    bench_teacher_command(batch, steps, objects)


@app.command("render-objects")
def render_objects(
    split: Split = typer.Option(Split.train, help="object family"),
    index: int = typer.Option(0, min=0, help="which instance of each category (0 = first seed of the family)"),
    cols: int = typer.Option(4, min=1, help="tiles per row"),
    out: Path = typer.Option(None, help="PNG to write (default: out/objects_<split>.png)"),
) -> None:
    """One picture of every object category, coloured by part, captioned with name, parts and mass.

    Example: ``ifgrasp render-objects --split heldout --out out/heldout.png``
    """
    from ifgrasp.sim.objects import render_object_gallery

    path = render_object_gallery(out or OUT_DIR / f"objects_{split.value}.png", split=split.value, index=index, cols=cols)
    typer.echo(f"wrote {path}")
