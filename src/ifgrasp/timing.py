"""Latency statistics for benchmarks and per-stage timing for the demo and the ROS graph."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LatencyStats:
    """Summary of repeated timings, in seconds."""

    name: str
    samples_s: np.ndarray

    @property
    def median_s(self) -> float:
        return float(np.median(self.samples_s))

    @property
    def p95_s(self) -> float:
        return float(np.percentile(self.samples_s, 95))

    def row(self) -> list[str]:
        return [self.name, f"{self.median_s * 1e3:.2f}", f"{self.p95_s * 1e3:.2f}", str(len(self.samples_s))]


def measure(name: str, fn: Callable[[], object], repeats: int, warmup: int = 2) -> LatencyStats:
    """Time ``fn`` ``repeats`` times after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return LatencyStats(name, np.asarray(samples))


@dataclass
class StageTimer:
    """Wall time per named stage, in order: ``with timer.stage("perceive"): ...``."""

    durations_s: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.durations_s[name] = self.durations_s.get(name, 0.0) + time.perf_counter() - t0

    @property
    def total_s(self) -> float:
        return float(sum(self.durations_s.values()))
