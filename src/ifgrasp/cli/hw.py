"""Hardware checks for the robot PC and the foundation benchmark."""

from __future__ import annotations

from enum import Enum

import typer

from ifgrasp.cli.apps import bench_app, hw_app


class Device(str, Enum):
    hand = "hand"
    arm = "arm"


@hw_app.command("dry-run")
def hw_dry_run(
    device: Device = typer.Argument(..., help="hand (LEAP Hand over Dynamixel) or arm (xArm7 over Ethernet)"),
    port: str = typer.Option("/dev/ttyUSB0", help="hand: serial port of the U2D2 adapter"),
    ip: str = typer.Option("192.168.1.209", help="arm: controller IP address"),
    seconds: float = typer.Option(10.0, min=0.0, help="how long to print joint readings"),
    emulate: bool = typer.Option(False, help="run against the emulated Dynamixel bus / xArm controller"),
    clear_errors: bool = typer.Option(False, help="arm: clear a controller error (fix its cause first); "
                                      "without it an arm in error is only reported"),
) -> None:
    """Connect, read, move nothing: the hand is configured then torque is turned off; the arm is only read.

    Examples: ``ifgrasp hw dry-run hand --port /dev/serial/by-id/usb-FTDI...``,
    ``ifgrasp hw dry-run hand --emulate --seconds 2``, ``ifgrasp hw dry-run arm --ip 192.168.1.209``,
    ``ifgrasp hw dry-run arm --emulate --seconds 1`` (the real xArm SDK against the controller emulator)
    (docs/hardware.md walks through the first power-on).
    """
    from ifgrasp.drivers.dry_run import run_arm, run_hand

    if device is Device.hand:
        run_hand(port, seconds, emulate)
    else:
        run_arm(ip, seconds, emulate, clear_errors)


@bench_app.command("foundation")
def bench_foundation(
    fk_batch: int = typer.Option(1024, help="hand configurations per FK call"),
    ik_poses: int = typer.Option(1000, help="random reachable poses for IK"),
    renders: int = typer.Option(10, help="640x480 RGB-D frames to render"),
) -> None:
    """LEAP FK throughput, xArm7 IK solve rate and time, RGB-D render time."""
    from ifgrasp.bench import bench_foundation as run

    run(fk_batch=fk_batch, ik_poses=ik_poses, renders=renders)


@bench_app.command("drivers")
def bench_drivers(
    part: list[str] = typer.Option(["arm", "hand"], help="device part to time (repeat the option): arm, hand"),
    arm_calls: int = typer.Option(500, help="arm: SDK calls per measurement (and stream ticks)"),
    hand_reads: int = typer.Option(200, help="hand: timed state reads / goal writes per row"),
    latency_timer_ms: float = typer.Option(1.0, min=0.0, help="hand: the emulated USB adapter's latency timer, ms"),
) -> None:
    """Driver round trips: xArm through the real SDK against the controller emulator; LEAP bus time per
    state read (e3ac308's two sync reads vs one sync / fast sync read) and per goal write on the
    emulated Dynamixel bus with wire timing, beside the bus budget (median, p95)."""
    from ifgrasp.bench import bench_drivers as run

    run(parts=part, arm_calls=arm_calls, hand_reads=hand_reads, latency_timer_ms=latency_timer_ms)
