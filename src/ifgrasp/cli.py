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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
