"""Basis-point-set (BPS) encoding of a partial object cloud and its instructed part (IFG's input).

A fixed set of basis points (seeded, uniform in a ball of radius ``radius_m``) is placed around the
cloud's centre; each basis point records its distance to the nearest object point and to the nearest
point of the instructed part. The result is a fixed-length vector whatever the number of points,
cheap to compute (one ``cdist``) and exportable to ONNX.

Frames: the cloud is in the camera optical frame (metres). The encoding is relative to the cloud
centre ``center_m`` (the part's centroid), which the student adds back to the wrist translation.
"""

from __future__ import annotations

import numpy as np
import torch


def basis_points(n: int, radius_m: float, seed: int = 0) -> np.ndarray:
    """(n, 3) points uniform in a ball of radius ``radius_m`` (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=(n, 3))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    r = radius_m * rng.uniform(size=(n, 1)) ** (1.0 / 3.0)
    return (direction * r).astype(np.float32)


class BPSEncoder(torch.nn.Module):
    """(B, N, 3) points + (B, N) part mask -> (B, 2 * n_basis) features and (B, 3) centres."""

    def __init__(self, n_basis: int = 512, radius_m: float = 0.15, seed: int = 0) -> None:
        super().__init__()
        self.register_buffer("basis", torch.as_tensor(basis_points(n_basis, radius_m, seed)))
        self.radius_m = radius_m

    @property
    def dim(self) -> int:
        return 2 * self.basis.shape[0]

    def forward(self, points: torch.Tensor, part_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = part_mask.to(points.dtype)  # (B, N)
        center = (points * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)  # (B, 3)
        local = points - center.unsqueeze(1)  # (B, N, 3)
        # |b - p|^2 = |b|^2 + |p|^2 - 2 b.p, written out so the graph exports to ONNX (no cdist op)
        sq = (self.basis**2).sum(-1)[None, :, None] + (local**2).sum(-1)[:, None, :] - 2.0 * torch.einsum(
            "md,bnd->bmn", self.basis, local)
        # the nearest point on squared distances, one square root per basis point (sqrt is monotonic)
        d_object = sq.min(-1).values.clamp(min=0.0).sqrt()  # (B, M)
        # non-part points pushed 10 m away (the part always has points: prepare_cloud, min_part_points)
        d_part = (sq + (1.0 - mask).unsqueeze(1) * 100.0).min(-1).values.clamp(min=0.0).sqrt()
        return torch.cat([d_object, d_part], dim=-1), center


def even_indices(n: torch.Tensor | int, count: int) -> torch.Tensor:
    """(count,) int64 indices spread evenly over ``n`` items, first and last included: the same as
    ``np.linspace(0, n - 1, count).astype(int)``; ``n`` may be a 0-d tensor (read at run time in a graph)."""
    n = torch.as_tensor(n)
    return torch.div(torch.arange(count) * (n - 1), max(count - 1, 1), rounding_mode="floor")


class PointSubset(torch.nn.Module):
    """(1, N, 3) points + (1, N) part mask -> (1, (n_cloud + n_part) * 4) features and (1, 3) centre: an
    even subset of ``n_cloud`` cloud points and of ``n_part`` part points, relative to the part centroid
    (camera axes, metres), each with its part flag (1 part, 0 rest), flattened. The point critic's
    input (:class:`~ifgrasp.grasp.diffusion.critic.PointCritic`), the same subsets as
    :func:`~ifgrasp.grasp.diffusion.train.build_pairs`' ``clouds``. One cloud per call; exports to ONNX."""

    def __init__(self, n_cloud: int = 128, n_part: int = 64) -> None:
        super().__init__()
        self.n_cloud, self.n_part = n_cloud, n_part

    @property
    def dim(self) -> int:
        return 4 * (self.n_cloud + self.n_part)

    def forward(self, points: torch.Tensor, part_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from torch.onnx.operators import shape_as_tensor

        if points.shape[0] != 1:
            raise ValueError(f"PointSubset encodes one cloud per call, got a batch of {points.shape[0]}")
        mask = part_mask[0].to(points.dtype)
        center = (points[0] * mask[:, None]).sum(0) / mask.sum().clamp(min=1.0)
        rel = points[0] - center
        cloud = rel.index_select(0, even_indices(shape_as_tensor(rel)[0], self.n_cloud))
        part_rows = torch.nonzero(mask > 0.5).reshape(-1)
        part = rel.index_select(0, part_rows.index_select(0, even_indices(shape_as_tensor(part_rows)[0], self.n_part)))
        flags = torch.cat([torch.zeros(self.n_cloud, 1), torch.ones(self.n_part, 1)]).to(points.dtype)
        feats = torch.cat([torch.cat([cloud, part], 0), flags], -1)  # (n_cloud + n_part, 4)
        return feats.reshape(1, -1), center[None]
