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
    ifgrasp hw dry-run hand --emulate      # first power-on check: read, move nothing
    ifgrasp download-models                # pretrained OWLv2 + SAM weights (needs a network)

Each verb is a thin shell over a core function; the work lives in the modules it imports, which are
imported lazily so that ``ifgrasp --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import os
import sys
from enum import Enum

import typer

from ifgrasp.errors import InputError, IfgraspError
from ifgrasp.paths import OUT_DIR, REPO_ROOT

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__.split("\n\n")[0])
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: medians, p95 and ratios (never asserted in tests).")
app.add_typer(bench_app, name="bench")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluations: tables printed and written as JSON.")
app.add_typer(eval_app, name="eval")
hw_app = typer.Typer(no_args_is_help=True, help="Hardware checks for the robot PC (xArm7, LEAP Hand).")
app.add_typer(hw_app, name="hw")


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


class Split(str, Enum):
    train = "train"
    heldout = "heldout"


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
    critic: bool = typer.Option(False, "--critic", help="train the learned grasp score (critic.pt, config/critic.yaml) "
                                "on every teacher grasp instead of the student"),
) -> None:
    """Distil the teacher's validated grasps into the diffusion student (progress bar, checkpoints, seed).

    Example: ``ifgrasp train --steps 2000 --out out/student_try``; ``ifgrasp train --critic``
    """
    from ifgrasp.grasp.diffusion.commands import train_command

    train_command(config, out, steps, critic)


@app.command()
def export(
    checkpoint: Path = typer.Option(None, help="student checkpoint (default: models/student/student.pt)"),
    out: Path = typer.Option(None, help="ONNX file (default: models/student/student.onnx)"),
    steps: int = typer.Option(8, min=1, help="DDIM steps unrolled into the graph"),
) -> None:
    """Export the student's few-step sampler to ONNX and check onnxruntime against torch.

    Example: ``ifgrasp export --steps 8``
    """
    from ifgrasp.grasp.diffusion.commands import export_command

    export_command(checkpoint, out, steps)


@eval_app.command("student")
def eval_student(
    checkpoint: Path = typer.Option(None, help="student checkpoint (default: models/student/student.pt)"),
    views: Path = typer.Option(None, help="held-out camera views (default: data/views/heldout)"),
    k: int = typer.Option(8, min=1, help="grasps kept per view (top-k)"),
    views_per_object: int = typer.Option(2, min=1, help="views evaluated per object"),
    steps: str = typer.Option("1,2,4,8,50", help="comma-separated DDIM step counts to compare"),
    out: Path = typer.Option(OUT_DIR / "eval_student.json", help="JSON report"),
    critic: str = typer.Option("auto", help="learned ranking term: auto (critic.pt beside the checkpoint if "
                               "present), none, or a critic file"),
) -> None:
    """Student on held-out objects through the teacher's validation: top-1 / top-k lift, part share, per step count.

    Example: ``ifgrasp eval student --steps 1,8 --views-per-object 1 --critic none``
    """
    from ifgrasp.grasp.diffusion.commands import eval_student_command

    eval_student_command(checkpoint, views, k, views_per_object, parse_steps(steps), out, critic)


@bench_app.command("generate")
def bench_generate(
    checkpoint: Path = typer.Option(None, help="student checkpoint (default: models/student/student.pt)"),
    onnx: Path = typer.Option(None, help="exported sampler (default: models/student/student.onnx; exported if missing)"),
    candidates: int = typer.Option(64, min=1, help="grasps sampled per call"),
    steps: int = typer.Option(8, min=1, help="DDIM steps"),
    repeats: int = typer.Option(30, min=1, help="timed calls per runtime"),
) -> None:
    """Student latency on a 2,048-point view: encoding, sampling, ranking; torch vs ONNX (vs TensorRT).

    Example: ``ifgrasp bench generate --candidates 64 --repeats 50``
    """
    from ifgrasp.grasp.diffusion.commands import bench_generate_command

    bench_generate_command(checkpoint, onnx, candidates, steps, repeats)


@bench_app.command("graph")
def bench_graph(
    checkpoint: Path = typer.Option(None, help="student checkpoint (default: models/student/student.pt)"),
    instruction: str = typer.Option("pick up the mug by its handle", help="command to run"),
    repeats: int = typer.Option(3, min=1, help="runs, each on a freshly reset scene"),
    steps: int = typer.Option(8, min=1, help="DDIM steps"),
    execute: bool = typer.Option(True, help="also execute and lift (--no-execute: plan only)"),
) -> None:
    """Per-stage latency of the grasp pipeline (median, p95) and command -> first arm motion, on the sim.

    Example: ``ifgrasp bench graph --repeats 5``
    """
    from ifgrasp.pipeline.bench import bench_graph_command

    bench_graph_command(checkpoint, repeats, instruction, steps, execute, echo=typer.echo)


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
    incomplete: bool = typer.Option(False, help="also shards whose labels are current but that predate "
                                    "per-push 6-direction results (2026-12-05)"),
) -> None:
    """Teacher dataset: re-run the physics tests of shards made under other validation settings
    (resumable; grasps kept). Example: ``ifgrasp revalidate --worker 0 --workers 2`` beside
    ``--worker 1 --workers 2``."""
    from ifgrasp.grasp.commands import revalidate_command

    revalidate_command(config, out, worker, workers, incomplete)


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
    out: Path = typer.Option(OUT_DIR / "grasps.png", help="PNG to write"),
) -> None:
    """Draw grasps on an object (hand, object coloured by part, contact points) to a PNG."""
    from ifgrasp.grasp.commands import render_grasps_command

    render_grasps_command(category, seed, part, dataset, count, steps, out, validated)


@bench_app.command("teacher")
def bench_teacher(
    batch: int = typer.Option(16, help="grasps per batch"),
    steps: int = typer.Option(None, help="override: optimisation steps"),
    objects: int = typer.Option(3, help="(object, part) pairs to time"),
) -> None:
    """Optimised grasps/s, validated grasps/s and the share of optimised grasps that pass."""
    from ifgrasp.grasp.commands import bench_teacher_command

    bench_teacher_command(batch, steps, objects)


class Device(str, Enum):
    hand = "hand"
    arm = "arm"


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


@hw_app.command("dry-run")
def hw_dry_run(
    device: Device = typer.Argument(..., help="hand (LEAP Hand over Dynamixel) or arm (xArm7 over Ethernet)"),
    port: str = typer.Option("/dev/ttyUSB0", help="hand: serial port of the U2D2 adapter"),
    ip: str = typer.Option("192.168.1.209", help="arm: controller IP address"),
    seconds: float = typer.Option(10.0, min=0.0, help="how long to print joint readings"),
    emulate: bool = typer.Option(False, help="hand only: run against the emulated Dynamixel bus"),
) -> None:
    """Connect, read, move nothing: the hand is configured then torque is turned off; the arm is only read.

    Examples: ``ifgrasp hw dry-run hand --port /dev/serial/by-id/usb-FTDI...``,
    ``ifgrasp hw dry-run hand --emulate --seconds 2``, ``ifgrasp hw dry-run arm --ip 192.168.1.209``
    (docs/hardware.md walks through the first power-on).
    """
    from ifgrasp.drivers.dry_run import run_arm, run_hand

    if emulate and device is Device.arm:
        raise InputError("--emulate works for the hand only (the xArm7 protocol is closed); known devices "
                         "for --emulate: hand")
    run_hand(port, seconds, emulate) if device is Device.hand else run_arm(ip, seconds)


@app.command("record-sim")
def record_sim(
    out: Path = typer.Option(OUT_DIR / "bags" / "sim", help="bag directory to write (rosbag2, MCAP)"),
    duration: float = typer.Option(2.0, help="simulated seconds to record"),
    fps: float = typer.Option(15.0, help="colour + depth frames per second"),
    joint_rate: float = typer.Option(50.0, help="joint states per second"),
    overwrite: bool = typer.Option(False, help="replace an existing bag at OUT"),
) -> None:
    """Simulated RealSense topics and /joint_states of the default scene into an MCAP bag.

    Example: ``ifgrasp record-sim --out out/bags/sim --duration 2 --fps 15`` then
    ``ifgrasp replay out/bags/sim``.
    """
    from ifgrasp.io.record_sim import record_sim as run

    summary = run(out, duration_s=duration, fps=fps, joint_rate_hz=joint_rate, overwrite=overwrite)
    counts = ", ".join(f"{t} {n}" for t, n in sorted(summary.counts.items()))
    typer.echo(f"wrote {summary.path}: {summary.duration_s:.2f} s; {counts}")


def replay_invocation(bag: Path, rate: float, loop: bool, topics: list[str],
                      install_dir: Path | None = None) -> tuple[list[str], dict[str, str]]:
    """(argv, env) that start the colcon-installed ``bag_replay`` node on ``bag`` with loopback-only
    DDS discovery; ``install_dir`` defaults to ``<repo>/install`` (``scripts/install.sh`` builds it)."""
    if not bag.is_dir():
        raise InputError(f"no bag directory at '{bag}' (a rosbag2 folder with metadata.yaml; "
                         "`ifgrasp record-sim` writes one)")
    if not rate > 0:
        raise InputError(f"--rate must be > 0 (1.0 = recorded timing), got {rate}")
    install_dir = install_dir or REPO_ROOT / "install"
    setup, exe = install_dir / "setup.bash", install_dir / "ifgrasp_ros" / "lib" / "ifgrasp_ros" / "bag_replay"
    if not (setup.is_file() and exe.is_file()):
        raise InputError(
            f"the ROS 2 workspace is not built ({exe} missing). Build it with `bash scripts/install.sh` "
            "(ROS 2 Jazzy wheels + colcon), or on a robot PC with apt ROS 2: `source /opt/ros/jazzy/setup.bash "
            "&& colcon build --base-paths ros2_ws/src` at the repo root (docs/ros2.md)")
    params = [f"bag_path:={bag.resolve()}", f"rate:={rate!r}", f"loop:={'true' if loop else 'false'}"]
    if topics:
        params.append(f"topics:=[{','.join(topics)}]")
    argv = ["bash", "-c", 'set +u; . "$0" >/dev/null; exec "$@"', str(setup), str(exe), "--ros-args"]
    for p in params:
        argv += ["-p", p]
    env = {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    return argv, env


@app.command()
def replay(
    bag: Path = typer.Argument(..., help="rosbag2 directory (e.g. from `ifgrasp record-sim`)"),
    rate: float = typer.Option(1.0, help="playback speed factor, 1.0 = recorded timing"),
    loop: bool = typer.Option(False, help="start again after the last message"),
    topic: list[str] = typer.Option([], help="topic to play (repeatable); none = all"),
) -> None:
    """Publish a bag on ROS 2 with its recorded timing (the ``bag_replay`` node; DDS on loopback only).

    Example: ``ifgrasp replay out/bags/sim --rate 2 --loop --topic /joint_states``. Ctrl-C stops it.
    """
    argv, env = replay_invocation(bag, rate, loop, topic)
    sys.stdout.flush()
    os.execvpe(argv[0], argv, env)  # the node gets Ctrl-C directly and exits cleanly


@app.command("download-models")
def download_models(
    dest: Path = typer.Option(None, help="folder for owlv2/ and sam/ (default: models/pretrained)"),
    timeout: float = typer.Option(3.0, min=0.1, help="seconds to wait for the network before giving up"),
) -> None:
    """Fetch the pretrained OWLv2 + SAM checkpoints for the ``pretrained`` perception backend.

    Example: ``ifgrasp download-models`` on a machine with a network (fails in seconds without one,
    saying which folders to copy instead).
    """
    from ifgrasp.perception.segmentation import download_models as run

    typer.echo(f"models in {run(dest, timeout_s=timeout)}")


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


def main() -> None:
    """Entry point: ifgrasp's own errors end with one red line and exit code 1, not a traceback."""
    try:
        app()
    except IfgraspError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(1)


if __name__ == "__main__":
    main()
