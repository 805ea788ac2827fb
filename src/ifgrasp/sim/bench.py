"""Render benchmark: one 640x480 RGB-D + segmentation frame of the default scene."""

from __future__ import annotations

from ifgrasp.timing import LatencyStats, measure


def render_benchmark(repeats: int = 10, warmup: int = 2) -> LatencyStats:
    """Wall time of ``SimRGBDCamera.render()`` (colour, depth and segmentation passes plus label
    lookup) on the default scene (``config/scene.yaml``: robot and objects), seconds per frame."""
    from ifgrasp.sim.camera import SimRGBDCamera
    from ifgrasp.sim.scene import build_scene

    scene = build_scene()
    with SimRGBDCamera(scene) as camera:
        k = camera.intrinsics
        return measure(f"render RGB-D+seg {k.width}x{k.height}", camera.render, repeats=repeats, warmup=warmup)
