"""Load a ``GraspDiffusion`` checkpoint and sample grasps from it (until the student package ships
its own loader, ``ifgrasp.grasp.diffusion.generator``).

File format (``torch.save``): ``{"state_dict": model.state_dict(), "hyper": model.hyper}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ifgrasp.errors import InputError, ModelError
from ifgrasp.types import GraspBatch, ObjectCloud


def save_checkpoint(model, path: str | Path) -> Path:
    """Write ``model`` (a ``GraspDiffusion``) as the state_dict + hyperparameters file above."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "hyper": dict(model.hyper)}, path)
    return path


class CheckpointGenerator:
    """``GraspGenerator`` over a saved ``GraspDiffusion``: DDIM with ``steps`` evaluations, seeded noise."""

    def __init__(self, model_path: str | Path, steps: int = 10, seed: int = 0, n_points: int = 1024) -> None:
        import torch

        from ifgrasp.grasp.diffusion.policy import GraspDiffusion

        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"grasp model file not found: {path} (train one with the student, or pass "
                             "model_path)")
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
            self.model = GraspDiffusion(**ckpt["hyper"])
            self.model.load_state_dict(ckpt["state_dict"])
        except Exception as exc:  # any unreadable / mismatched file is a model problem, said once
            raise ModelError(f"cannot load grasp model {path}: {exc}") from exc
        self.model.eval()
        self.steps, self.n_points = int(steps), int(n_points)
        self._gen = torch.Generator().manual_seed(seed)

    def generate(self, cloud: ObjectCloud, k: int) -> GraspBatch:
        import torch

        if len(cloud.points_m) == 0 or not cloud.part_mask.any():
            raise InputError("cloud has no points on the instructed part")
        pts = torch.as_tensor(cloud.points_m[None], dtype=torch.float32)  # (1, N, 3)
        mask = torch.as_tensor(cloud.part_mask[None], dtype=torch.float32)  # (1, N)
        noise = torch.randn((k, 25), generator=self._gen)  # (k, 25)
        with torch.no_grad():
            pos, rot, joints = self.model.sample(pts, mask, noise, self.steps)
        return GraspBatch(wrist_pos_m=pos.numpy().astype(np.float64), wrist_rot=rot.numpy().astype(np.float64),
                          joints_rad=joints.numpy().astype(np.float64), frame=cloud.frame)
