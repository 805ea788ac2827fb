"""`ifgrasp calibrate ...`: hand-eye calibration of the fixed camera with a ChArUco board on the flange."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from ifgrasp.cli.apps import app

calibrate_app = typer.Typer(no_args_is_help=True, help=(
    "Hand-eye calibration (eye-to-hand): T_base_camera from a ChArUco board on the flange "
    "(docs/hardware.md, calibration)."))
app.add_typer(calibrate_app, name="calibrate")

CONFIG_HELP = "calibration config (board, mount, pose plan); default config/calibration.yaml"


def _config(path: Path | None, n_poses: int | None = None):
    from ifgrasp.calibration import CalibrationConfig

    cfg = CalibrationConfig.from_yaml(path) if path else CalibrationConfig.default()
    return cfg.replace(plan=cfg.plan.replace(n_poses=n_poses)) if n_poses else cfg


def _report(res, write: bool, note: str) -> None:
    from ifgrasp.calibration.writeback import camera_args, write_calibration

    typer.echo(res.summary())
    T = res.T_base_camera
    typer.echo("T_base_camera (camera optical frame -> base), metres:\n" + np.array2string(T, precision=6, suppress_small=True))
    typer.echo("static transform: " + " ".join(f"{k}:={v}" for k, v in camera_args(T).items()))
    if write:
        for p in write_calibration(T, note=note):
            typer.echo(f"wrote {p}")
        typer.echo("rebuild the ROS workspace (colcon build) so the installed parameters follow")


@calibrate_app.command("board")
def board(out: Path = typer.Option(Path("out/charuco_board.png"), help="PNG to write"),
          px_per_square: int = typer.Option(200, help="pixels per square"),
          config: Path | None = typer.Option(None, help=CONFIG_HELP)) -> None:
    """Write the board picture to print (print it at the configured square size, then measure)."""
    from PIL import Image

    from ifgrasp.calibration import board_image

    cfg = _config(config)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(board_image(cfg.board, px_per_square)).save(out)
    w, h = cfg.board.size_m
    typer.echo(f"wrote {out}: print it {w * 1000:.0f} x {h * 1000:.0f} mm ({cfg.board.square_m * 1000:.1f} mm squares)")


@calibrate_app.command("sim")
def sim(n_poses: int = typer.Option(12, min=3, help="poses to plan and render"),
        guess_mm: float = typer.Option(20.0, help="the planner's camera guess is this far off the truth"),
        guess_deg: float = typer.Option(3.0, help="... and turned this much"),
        noise: float = typer.Option(0.0, min=0.0, help="Gaussian image noise, grey levels"),
        config: Path | None = typer.Option(None, help=CONFIG_HELP)) -> None:
    """The whole calibration in the MuJoCo world; prints the error against the known camera pose."""
    from ifgrasp.calibration.runs import run_sim

    run = run_sim(_config(config, n_poses), guess_error=(guess_mm, guess_deg), pixel_noise=noise)
    _report(run.result, write=False, note="")
    typer.echo(f"{len(run.result.used)} of {run.n_planned} poses used; error against the scene camera: "
               f"{run.err_mm:.3f} mm, {run.err_deg:.4f} deg")


@calibrate_app.command("bag")
def bag(path: Path = typer.Argument(..., help="rosbag2 directory: colour image + CameraInfo + /joint_states"),
        write: bool = typer.Option(True, help="write T_base_camera into the perception config and robot launch"),
        config: Path | None = typer.Option(None, help=CONFIG_HELP)) -> None:
    """Calibrate offline from a bag recorded while the arm stopped at poses showing the board."""
    from ifgrasp.calibration.runs import calibrate_bag

    _report(calibrate_bag(path, _config(config)), write, note=f"bag {path.name}")


@calibrate_app.command("ros")
def ros(n_poses: int = typer.Option(12, min=3, help="poses to plan and visit"),
        write: bool = typer.Option(True, help="write T_base_camera into the perception config and robot launch"),
        record: Path | None = typer.Option(None, help="also write the views to this bag (re-solve with `calibrate bag`)"),
        speed: float = typer.Option(0.3, min=0.01, max=1.0, help="largest joint speed while moving, rad/s"),
        yes: bool = typer.Option(False, "--yes", help="move without asking (the arm moves to every planned pose)"),
        config: Path | None = typer.Option(None, help=CONFIG_HELP)) -> None:
    """Live: plan poses, move the arm there through /ifgrasp/arm, take images and /joint_states, solve.

    Needs the robot launch running (arm driver, RealSense) and the sourced colcon workspace."""
    from ifgrasp.calibration.writeback import read_perception_yaml
    from ifgrasp.errors import ConfigError

    try:
        from ifgrasp_ros.calibrate_client import run_live
    except ImportError as exc:
        raise ConfigError(f"the ROS workspace is not importable ({exc}): source install/setup.bash") from exc
    cfg = _config(config, n_poses)
    if not yes and not typer.confirm(f"The arm will move to {n_poses} poses at up to {speed} rad/s. Continue?"):
        raise typer.Exit(1)
    res = run_live(cfg, read_perception_yaml(), speed, record, log=typer.echo)
    _report(res, write, note="live")
