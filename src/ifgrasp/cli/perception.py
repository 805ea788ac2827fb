"""Perception: evaluation, training of the self-trained network, latency bench."""

from __future__ import annotations

from pathlib import Path

import typer

from ifgrasp.cli.apps import app, bench_app, eval_app


@eval_app.command("perception")
def eval_perception(
    backend: str = typer.Option("trained", help="segmentation backend: trained | oracle | pretrained"),
    split: str = typer.Option("heldout", help="scene family: train | heldout"),
    scenes: int = typer.Option(50, min=1, help="cluttered scenes to render and evaluate"),
    first_seed: int = typer.Option(1000, help="seed of the first scene"),
    out: Path = typer.Option(None, help="JSON report (default out/perception_eval_<backend>_<split>.json)"),
) -> None:
    """Object selection accuracy, part mIoU and per-stage latency on cluttered single views.

    Example: ifgrasp eval perception --backend trained --scenes 50
    """
    from ifgrasp.perception.evaluate import evaluate_perception
    from ifgrasp.perception.segmentation import make_backend

    chosen = "oracle" if backend == "oracle" else make_backend(backend)
    evaluate_perception(chosen, split, scenes, first_seed, out_json=out)


@app.command("train-perception")
def train_perception(
    config: Path = typer.Option(None, help="config (default config/perception_trained.yaml)"),
) -> None:
    """Render cluttered training scenes (resumable) and train the self-trained perception network.

    Example: ifgrasp train-perception
    """
    from ifgrasp.perception.trained.dataset import build_dataset
    from ifgrasp.perception.trained.train import DEFAULT_YAML, train

    build_dataset()
    typer.echo(f"weights -> {train(config or DEFAULT_YAML)}")


@bench_app.command("perception")
def bench_perception(
    instruction: str = typer.Option("pick up the mug by its handle", help="what to segment"),
    frames: int = typer.Option(5, help="simulated 640x480 frames of the default scene"),
    repeats: int = typer.Option(2, help="passes over the frames"),
    backend: list[str] = typer.Option([], help="segmentation backend (repeatable); none = every registered one"),
    points: int = typer.Option(2048, help="points in the object cloud"),
) -> None:
    """Per-frame perception latency (validate, segment, cloud, total) per segmentation backend.

    Example: ``ifgrasp bench perception --backend oracle --frames 10``; backends that cannot be
    built here (e.g. ``pretrained`` without weights) are listed as skipped.
    """
    from ifgrasp.bench import bench_perception as run

    run(instruction=instruction, frames=frames, repeats=repeats, backends=backend or None, n_points=points)
