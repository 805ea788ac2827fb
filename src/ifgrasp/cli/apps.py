"""The typer apps every verb group registers on, and option types they share."""

from __future__ import annotations

from enum import Enum

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="`ifgrasp <verb>`: the command line.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: medians, p95 and ratios (never asserted in tests).")
app.add_typer(bench_app, name="bench")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluations: tables printed and written as JSON.")
app.add_typer(eval_app, name="eval")
hw_app = typer.Typer(no_args_is_help=True, help="Hardware checks for the robot PC (xArm7, LEAP Hand).")
app.add_typer(hw_app, name="hw")


class Split(str, Enum):
    train = "train"
    heldout = "heldout"
