"""Benchmarks printed by ``ifgrasp bench foundation`` and ``ifgrasp bench perception``.

The measuring lives with each concern (``ifgrasp.hand.bench.fk_throughput``,
``ifgrasp.arm.bench.ik_benchmark``, ``ifgrasp.sim.bench.render_benchmark``,
``ifgrasp.perception.bench.perception_latency``); this module runs them, turns their numbers into
:class:`BenchRow` s (times in milliseconds, rates per second) and prints one rich table. Numbers are
reported, never asserted.

    rows = bench_foundation(fk_batch=1024, ik_poses=1000, renders=10)   # prints the table too
    rows = bench_drivers(parts=("arm",), arm_calls=500)                  # xArm SDK vs the emulator
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from rich.console import Console
from rich.table import Table

from ifgrasp.errors import InputError, IfgraspError
from ifgrasp.timing import LatencyStats


class BenchRow(NamedTuple):
    """One line of a benchmark table. Times in milliseconds (NaN where not meaningful);
    ``rate`` with its ``rate_unit`` (e.g. 12,000 "configs/s"); ``note``: ratios and sizes."""

    name: str
    median_ms: float
    p95_ms: float
    rate: float
    rate_unit: str
    note: str = ""


def _console() -> Console:
    """A console that keeps the table on one line per row when output is piped (rich assumes 80 columns)."""
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 150)
    return console


def _fmt(x: float, digits: int = 2) -> str:
    return "-" if not np.isfinite(x) else f"{x:,.{digits}f}"


def print_table(rows: Sequence[BenchRow], title: str, console: Console | None = None) -> Table:
    """Print ``rows`` as one rich table (name, median ms, p95 ms, rate, notes); returns the table."""
    table = Table(title=title)
    for col, justify in (("benchmark", "left"), ("median ms", "right"), ("p95 ms", "right"),
                         ("rate", "right"), ("notes", "left")):
        table.add_column(col, justify=justify)
    for r in rows:
        table.add_row(r.name, _fmt(r.median_ms, 3), _fmt(r.p95_ms, 3), f"{_fmt(r.rate, 1)} {r.rate_unit}", r.note)
    (console or _console()).print(table)
    return table


def _check_positive(**sizes: int) -> None:
    bad = {k: v for k, v in sizes.items() if v < 1}
    if bad:
        raise InputError(f"benchmark sizes must be >= 1, got {bad}")


# --- foundation: hand FK, arm IK, rendering --------------------------------------------------------
def fk_rows(batch: int, repeats: int) -> list[BenchRow]:
    """LEAP Hand FK + surface points for ``batch`` random in-limit configurations (torch, CPU)."""
    from ifgrasp.hand.bench import fk_throughput

    s = fk_throughput(batch=batch, repeats=repeats)
    return [BenchRow(f"LEAP FK + surface points, B={batch}", s.median_s * 1e3, s.p95_s * 1e3,
                     batch / s.median_s, "configs/s", f"{s.median_s * 1e6 / batch:.2f} us/config, {repeats} runs")]


def ik_rows(n_poses: int, seed: int = 0) -> list[BenchRow]:
    """xArm7 IK on ``n_poses`` random reachable flange poses: one pose per call (latency) and all
    poses in one batched call (throughput), with the batched speed-up per pose."""
    from ifgrasp.arm.bench import ik_benchmark

    r = ik_benchmark(n_poses=n_poses, seed=seed)
    batched_ms = r["batched_s_per_1000"]  # s per 1,000 poses == ms per pose
    speedup = r["median_ms"] / batched_ms if batched_ms > 0 else float("nan")
    return [
        BenchRow(f"xArm7 IK, 1 pose/call (N={n_poses})", r["median_ms"], r["p95_ms"], 1e3 / r["median_ms"],
                 "poses/s", f"solve rate {r['solve_rate']:.1%}; max err {r['max_pos_err_m'] * 1e3:.3f} mm, "
                            f"{np.degrees(r['max_rot_err_rad']):.3f} deg"),
        BenchRow(f"xArm7 IK, batched (N={n_poses})", batched_ms, float("nan"), 1e3 / batched_ms, "poses/s",
                 f"solve rate {r['batched_solve_rate']:.1%}; {speedup:.1f}x per pose vs 1 pose/call"),
        BenchRow("xArm7 FK, batched", r["fk_us_per_pose"] * 1e-3, float("nan"), 1e6 / r["fk_us_per_pose"],
                 "poses/s", f"{r['fk_us_per_pose']:.2f} us/pose"),
    ]


def render_rows(repeats: int) -> list[BenchRow]:
    """One RGB-D + segmentation frame of the default scene (MuJoCo, headless)."""
    from ifgrasp.sim.bench import render_benchmark

    s = render_benchmark(repeats=repeats, warmup=1)
    return [BenchRow(s.name, s.median_s * 1e3, s.p95_s * 1e3, 1.0 / s.median_s, "frames/s", f"{repeats} frames")]


def bench_foundation(fk_batch: int = 1024, ik_poses: int = 1000, renders: int = 10, fk_repeats: int = 20,
                     console: Console | None = None) -> list[BenchRow]:
    """FK throughput (``fk_batch`` hand configurations per call), IK solve rate and time
    (``ik_poses`` poses), render time (``renders`` 640x480 frames); prints one table, returns its rows."""
    _check_positive(fk_batch=fk_batch, ik_poses=ik_poses, renders=renders, fk_repeats=fk_repeats)
    console = console or _console()
    rows: list[BenchRow] = []
    for what, make in (("hand FK", lambda: fk_rows(fk_batch, fk_repeats)), ("arm IK", lambda: ik_rows(ik_poses)),
                       ("render", lambda: render_rows(renders))):
        with console.status(f"timing {what} ..."):
            rows += make()
    print_table(rows, "ifgrasp bench foundation (CPU)", console)
    return rows


# --- perception: simulated frames through each segmentation backend ---------------------------------
def default_scene_frames(n_frames: int, scene=None, settle_s: float = 0.3, spacing_s: float = 0.05):
    """``n_frames`` RGB-D frames of ``scene`` (default: the default scene) after its objects settled
    for ``settle_s``, one frame every ``spacing_s`` of physics."""
    from ifgrasp.sim.camera import SimRGBDCamera
    from ifgrasp.sim.scene import build_scene

    scene = scene or build_scene()
    dt = scene.model.opt.timestep
    scene.step(int(round(settle_s / dt)))
    frames = []
    with SimRGBDCamera(scene) as camera:
        for _ in range(n_frames):
            frames.append(camera.render())
            scene.step(max(1, int(round(spacing_s / dt))))
    return frames


def oracle_tables(scene, category: str) -> dict:
    """``OracleBackend`` keyword arguments for a scene: object index -> category, and part index ->
    name for ``category`` (part ids are per object; the oracle intersects them with the object mask)."""
    parts = next((o.part_names for o in scene.objects if o.category == category), ())
    return dict(object_categories={i: o.category for i, o in enumerate(scene.objects)},
                part_names=dict(enumerate(parts)))


def _backends(names: Sequence[str], scene, category: str) -> list[tuple[str, Callable | None, str]]:
    """(name, constructor or None, why skipped) per requested backend."""
    from ifgrasp.perception.segmentation import backend_names, make_backend

    known_names = backend_names()
    out = []
    for name in names:
        if name not in known_names:
            raise InputError(f"unknown segmentation backend '{name}'; known: {', '.join(known_names)}")
        kwargs = oracle_tables(scene, category) if name == "oracle" else {}
        try:
            out.append((name, make_backend(name, **kwargs), ""))
        except IfgraspError as exc:  # e.g. pretrained weights not downloaded
            out.append((name, None, str(exc)))
    return out


def bench_perception(instruction: str = "pick up the mug by its handle", frames: int = 5, repeats: int = 2,
                     backends: Sequence[str] | None = None, n_points: int = 2048,
                     console: Console | None = None) -> list[BenchRow]:
    """Per-stage perception latency (validate, segment, cloud, total) on ``frames`` simulated
    640x480 frames of the default scene, for each backend in ``backends`` (default: every
    registered one; backends that cannot be built, e.g. without weights, are listed as skipped)."""
    from ifgrasp.grounding import parse_instruction
    from ifgrasp.perception.bench import STAGES, perception_latency
    from ifgrasp.perception.cloud import CloudConfig
    from ifgrasp.perception.segmentation import backend_names
    from ifgrasp.sim.scene import build_scene

    _check_positive(frames=frames, repeats=repeats, n_points=n_points)
    console = console or _console()
    grounded = parse_instruction(instruction)
    scene = build_scene()
    built = []
    for name, backend, why in _backends(backends or backend_names(), scene, grounded.category):
        if backend is None:
            console.print(f"[yellow]skipped backend '{name}':[/] {why}")
        else:
            built.append((name, backend))
    if not built:
        raise InputError(f"no segmentation backend could be built from {list(backends or backend_names())}")
    with console.status(f"rendering {frames} frames of the default scene ..."):
        imgs = default_scene_frames(frames, scene)
    rows: list[BenchRow] = []
    for name, backend in built:
        with console.status(f"timing backend '{name}' ..."):
            stats: dict[str, LatencyStats] = perception_latency(
                backend, imgs, grounded, CloudConfig(n_points=n_points), repeats=repeats)
        for stage in STAGES:
            s = stats[stage]
            rows.append(BenchRow(f"{name}: {stage}", s.median_s * 1e3, s.p95_s * 1e3, 1.0 / s.median_s,
                                 "frames/s", f"{len(s.samples_s)} samples" if stage != "total"
                                 else f"{grounded.category}/{grounded.part}, {n_points} points"))
    print_table(rows, f"ifgrasp bench perception: {instruction!r} (CPU, 640x480)", console)
    return rows


# --- drivers: device round trips against the emulators ----------------------------------------------
def arm_rows(n_calls: int) -> list[BenchRow]:
    """xArm round trips through the real SDK against the controller emulator (its own process)."""
    from ifgrasp.drivers.xarm.bench import xarm_roundtrip

    rows = []
    for name, s in xarm_roundtrip(n=n_calls).items():
        note = f"{len(s.samples_s)} calls, loopback, emulator in its own process"
        if name.startswith("servo stream"):
            note = f"{len(s.samples_s)} ticks; max {s.samples_s.max() * 1e3:.1f} ms"
        rows.append(BenchRow(f"xArm {name}", s.median_s * 1e3, s.p95_s * 1e3, 1.0 / s.median_s, "calls/s", note))
    return rows


#: part name -> rows maker taking the benchmark sizes (``arm_calls``, ...) as keywords.
def _hand_rows(hand_reads: int = 200, latency_timer_ms: float = 1.0, **_) -> list[BenchRow]:
    from ifgrasp.drivers.bench import hand_bus_rows

    return hand_bus_rows(hand_reads, latency_timer_ms)


DRIVER_PARTS: dict[str, Callable[..., list[BenchRow]]] = {
    "arm": lambda arm_calls=500, **_: arm_rows(arm_calls),
    "hand": _hand_rows,
}


def bench_drivers(parts: Sequence[str] = ("arm", "hand"), arm_calls: int = 500, hand_reads: int = 200,
                  latency_timer_ms: float = 1.0, console: Console | None = None) -> list[BenchRow]:
    """Driver round trips per part (``arm``: xArm SDK against the emulator; ``hand``: LEAP bus time on
    the emulated Dynamixel bus, ``ifgrasp.drivers.bench``); prints one table."""
    _check_positive(arm_calls=arm_calls, hand_reads=hand_reads)
    unknown = [p for p in parts if p not in DRIVER_PARTS]
    if unknown:
        raise InputError(f"unknown driver benchmark part(s) {unknown}; known: {', '.join(DRIVER_PARTS)}")
    console = console or _console()
    rows: list[BenchRow] = []
    for part in parts:
        with console.status(f"timing {part} ..."):
            rows += DRIVER_PARTS[part](arm_calls=arm_calls, hand_reads=hand_reads, latency_timer_ms=latency_timer_ms)
    print_table(rows, "ifgrasp bench drivers (emulated devices, loopback)", console)
    return rows
