"""The main job and the ROS 2 session helpers: demo, record-sim, replay, download-models."""

from __future__ import annotations

from pathlib import Path
import os
import sys

import typer

from ifgrasp.cli.apps import app
from ifgrasp.errors import InputError
from ifgrasp.paths import OUT_DIR, REPO_ROOT


@app.command()
def demo(
    instruction: str = typer.Argument("pick up the mug by its handle", help="natural-language command"),
    out: Path = typer.Option(OUT_DIR / "demo", help="folder for the pictures of each stage"),
    seed: int = typer.Option(0, help="scene seed"),
    then: list[str] = typer.Option(None, help='the session after the first grasp, one command each '
                                   '(default: "put it back", then "grab the spray bottle by its body")'),
    one_shot: bool = typer.Option(False, "--one-shot", help="only the first grasp, no session"),
) -> None:
    """Run a short session on the embedded simulated xArm7 + LEAP Hand scene: grasp, put it back,
    grasp another object (each verified from the hand's own measurements)."""
    from ifgrasp.demo import SESSION_THEN, run_demo

    run_demo(instruction=instruction, out_dir=out, seed=seed, then=() if one_shot else tuple(then or SESSION_THEN))


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
