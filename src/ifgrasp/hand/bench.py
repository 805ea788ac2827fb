"""FK throughput benchmark: ``python -m ifgrasp.hand.bench``."""

from __future__ import annotations

import torch

from ifgrasp.hand.model import LeapHandModel
from ifgrasp.timing import LatencyStats, measure


def fk_throughput(batch: int = 1024, repeats: int = 50, device: str = "cpu", seed: int = 0,
                  model: LeapHandModel | None = None) -> LatencyStats:
    """Time FK of ``batch`` random in-limit configurations including all surface points (no grad)."""
    model = model or LeapHandModel(device=device)
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(batch, len(model.lower), generator=gen).to(model.device, model.dtype)
    joints = model.lower + u * (model.upper - model.lower)  # (B, 16)
    wrist_pos = torch.zeros(batch, 3, device=model.device, dtype=model.dtype)
    wrist_rot = torch.eye(3, device=model.device, dtype=model.dtype).expand(batch, 3, 3)

    def run() -> None:
        with torch.no_grad():
            model.surface_points(wrist_pos, wrist_rot, joints)
        if model.device.type == "cuda":
            torch.cuda.synchronize()

    return measure(f"hand FK + {len(model.surface_point_link)} surface points, B={batch}", run, repeats)


if __name__ == "__main__":
    stats = fk_throughput()
    print(f"{stats.name}: median {stats.median_s * 1e3:.2f} ms, p95 {stats.p95_s * 1e3:.2f} ms, "
          f"{1024 / stats.median_s:,.0f} configs/s")
