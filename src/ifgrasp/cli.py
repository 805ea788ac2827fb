"""`ifgrasp <verb>`: the command line.

Examples::

    ifgrasp demo                       # render the default simulated scene (more stages as they land)
    ifgrasp bench foundation           # FK throughput, IK solve rate, render time

Each verb is a thin shell over a core function; the work lives in the modules it imports, which are
imported lazily so that ``ifgrasp --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ifgrasp.paths import OUT_DIR

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__.split("\n\n")[0])
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: medians, p95 and ratios (never asserted in tests).")
app.add_typer(bench_app, name="bench")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluations: tables printed and written as JSON.")
app.add_typer(eval_app, name="eval")


@app.command()
def demo(
    instruction: str = typer.Argument("pick up the mug by its handle", help="natural-language command"),
    out: Path = typer.Option(OUT_DIR / "demo", help="folder for the pictures of each stage"),
    seed: int = typer.Option(0, help="scene seed"),
) -> None:
    """Run the main job on the embedded simulated xArm7 + LEAP Hand scene."""
    from ifgrasp.demo import run_demo

    run_demo(instruction=instruction, out_dir=out, seed=seed)


@bench_app.command("foundation")
def bench_foundation(
    fk_batch: int = typer.Option(1024, help="hand configurations per FK call"),
    ik_poses: int = typer.Option(1000, help="random reachable poses for IK"),
    renders: int = typer.Option(10, help="640x480 RGB-D frames to render"),
) -> None:
    """LEAP FK throughput, xArm7 IK solve rate and time, RGB-D render time."""
    from ifgrasp.bench import bench_foundation as run

    run(fk_batch=fk_batch, ik_poses=ik_poses, renders=renders)


@app.command()
def synth(
    config: Path = typer.Option(None, help="DatasetConfig YAML (default: config/teacher_dataset.yaml)"),
    out: Path = typer.Option(None, help="dataset folder (default: data/teacher)"),
    per_category: int = typer.Option(None, help="override: objects per category"),
    rounds: int = typer.Option(None, help="override: synthesis batches per (object, part)"),
    batch: int = typer.Option(None, help="override: grasps per batch"),
    steps: int = typer.Option(None, help="override: optimisation steps"),
    categories: str = typer.Option(None, help="override: comma-separated categories"),
) -> None:
    """Teacher dataset: synthesise + validate grasps for every training object and part (resumable)."""
    from ifgrasp.grasp.commands import synth_command

    synth_command(config, out, per_category, rounds, batch, steps, categories)


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
    out: Path = typer.Option(OUT_DIR / "grasps.png", help="PNG to write"),
) -> None:
    """Draw grasps on an object (hand, object coloured by part, contact points) to a PNG."""
    from ifgrasp.grasp.commands import render_grasps_command

    render_grasps_command(category, seed, part, dataset, count, steps, out)


@bench_app.command("teacher")
def bench_teacher(
    batch: int = typer.Option(16, help="grasps per batch"),
    steps: int = typer.Option(None, help="override: optimisation steps"),
    objects: int = typer.Option(3, help="(object, part) pairs to time"),
) -> None:
    """Optimised grasps/s, validated grasps/s and the share of optimised grasps that pass."""
    from ifgrasp.grasp.commands import bench_teacher_command

    bench_teacher_command(batch, steps, objects)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
