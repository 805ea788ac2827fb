"""Hardware checks for the robot PC and the foundation benchmark."""

from __future__ import annotations

from enum import Enum

import typer

from ifgrasp.cli.apps import bench_app, hw_app
from ifgrasp.errors import InputError


class Device(str, Enum):
    hand = "hand"
    arm = "arm"


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
    reads: int = typer.Option(200, min=1, help="timed state reads / goal writes per row"),
    latency_timer_ms: float = typer.Option(1.0, min=0.0, help="the emulated USB adapter's latency timer, ms"),
) -> None:
    """Bus time per LEAP state read and per goal write on the emulated Dynamixel bus (realistic wire
    timing), beside the bus budget and the e3ac308 read path."""
    from ifgrasp.drivers.bench import bench_drivers as run

    run(reads=reads, latency_timer_ms=latency_timer_ms)
