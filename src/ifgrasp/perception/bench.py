"""Per-frame perception latency split into stages: validate (depth checks), segment (backend),
cloud (fixed-size object cloud). Numbers for ``ifgrasp bench perception``; never asserted in tests."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from ifgrasp.grounding import GroundedInstruction
from ifgrasp.perception.cloud import CloudConfig, build_object_cloud
from ifgrasp.perception.depth import validate_depth
from ifgrasp.perception.segmentation.base import SegmentationBackend
from ifgrasp.timing import LatencyStats
from ifgrasp.types import RGBDFrame

STAGES = ("validate", "segment", "cloud", "total")


def perception_latency(backend: SegmentationBackend, frames: Sequence[RGBDFrame], grounded: GroundedInstruction,
                       cloud: CloudConfig = CloudConfig(), repeats: int = 1, warmup: int = 1) -> dict[str, LatencyStats]:
    """Time each stage on every frame ``repeats`` times (after ``warmup`` untimed passes over the
    first frame); returns stage -> ``LatencyStats`` (seconds), including ``total``."""
    def one(frame: RGBDFrame) -> dict[str, float]:
        t = [time.perf_counter()]
        validate_depth(frame.depth_m, frame.intrinsics, color_shape=frame.color.shape)
        t.append(time.perf_counter())
        seg = backend.segment(frame, grounded)
        t.append(time.perf_counter())
        build_object_cloud(frame, seg.object_mask, seg.part_mask, cloud, grounded.category, grounded.part,
                           require_part=False)
        t.append(time.perf_counter())
        d = np.diff(t)
        return {"validate": d[0], "segment": d[1], "cloud": d[2], "total": float(t[-1] - t[0])}

    for _ in range(warmup):
        one(frames[0])
    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    for _ in range(repeats):
        for frame in frames:
            for stage, v in one(frame).items():
                samples[stage].append(v)
    return {s: LatencyStats(s, np.asarray(v)) for s, v in samples.items()}
