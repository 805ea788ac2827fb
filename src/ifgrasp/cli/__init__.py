"""`ifgrasp <verb>`: the command line.

Examples::

    ifgrasp demo "pick up the mug by its handle"   # the whole pipeline on the simulated scene
    ifgrasp views --split train            # camera views of the training objects (student data)
    ifgrasp train                          # distil the teacher's dataset into the student
    ifgrasp export                         # the student's sampler to ONNX
    ifgrasp eval student --steps 1,2,4,8   # held-out lift success and part accuracy per step count
    ifgrasp bench generate                 # student latency: torch vs ONNX (vs TensorRT)
    ifgrasp bench graph                    # per-stage latency and command -> first motion
    ifgrasp bench foundation               # FK throughput, IK solve rate, render time
    ifgrasp bench perception               # per-stage perception latency on simulated frames
    ifgrasp render-objects --split heldout # picture of one object per category
    ifgrasp record-sim --duration 2        # simulated camera + joint states to an MCAP bag
    ifgrasp replay out/bags/sim --loop     # play a bag on ROS 2 (needs the colcon workspace)
    ifgrasp launch sim                     # the ROS 2 graph on the simulator; ready, logs, Ctrl-C stops it
    ifgrasp ask "pick up the mug by its handle"   # one command to the running graph (then "put it back")
    ifgrasp hw dry-run hand --emulate      # first power-on check: read, move nothing
    ifgrasp calibrate sim                  # hand-eye calibration in MuJoCo, error vs the known camera
    ifgrasp calibrate ros                  # live: move the arm, see the board, write T_base_camera
    ifgrasp download-models                # pretrained OWLv2 + SAM weights (needs a network)

Each verb is a thin shell over a core function; the work lives in the modules it imports, which are
imported lazily so that ``ifgrasp --help`` stays fast.
"""

from __future__ import annotations

import sys

import typer

from ifgrasp.cli.apps import app
from ifgrasp.errors import IfgraspError

# Each verb group registers its commands on ``app`` when imported (order = order in --help).
from ifgrasp.cli import run, ros, student, teacher, perception, hw, calibrate  # noqa: E402,F401
from ifgrasp.cli.run import replay_invocation  # noqa: E402,F401  (re-exported for scripts and tests)


def main() -> None:
    """Entry point: ifgrasp's own errors end with one red line and exit code 1, not a traceback."""
    try:
        app()
    except IfgraspError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(1)
