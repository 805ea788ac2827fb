"""Denoiser network: a residual MLP over the grasp vector, conditioned by FiLM on the timestep and
the BPS features of the observed cloud.

Shapes: x (B, 25) = [wrist translation (3), 6-D rotation (6), joints (16)] normalised;
t (B,) integer diffusion steps; cond (B, C) BPS features, or flattened point subsets that a
:class:`PointNetCondition` inside the denoiser encodes -> (B, 25) predicted noise.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) -> (B, dim) sinusoidal embedding of the diffusion step."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float().unsqueeze(-1) * freqs
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class ResidualBlock(nn.Module):
    def __init__(self, width: int, cond_width: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        self.film = nn.Linear(cond_width, 2 * width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(c).chunk(2, dim=-1)
        y = self.norm(h) * (1 + scale) + shift
        y = self.fc2(self.dropout(torch.nn.functional.silu(self.fc1(torch.nn.functional.silu(y)))))
        return h + y


class PointNetCondition(nn.Module):
    """(B, n * 4) flattened points [x, y, z relative to the part centre (m), part flag] -> (B, 2 * width):
    a two-layer MLP shared by every point, then max- and mean-pooled (PointNet)."""

    def __init__(self, width: int = 128, scale: float = 10.0) -> None:
        super().__init__()
        self.scale = scale  # metres -> about unit range for a 15 cm neighbourhood
        self.mlp = nn.Sequential(nn.Linear(4, width // 2), nn.SiLU(), nn.Linear(width // 2, width), nn.SiLU())
        self.dim = 2 * width

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        pts = flat.reshape(flat.shape[0], -1, 4)
        h = self.mlp(torch.cat([pts[..., :3] * self.scale, pts[..., 3:]], -1))  # (B, n, width)
        return torch.cat([h.max(1).values, h.mean(1)], -1)


class GraspDenoiser(nn.Module):
    """epsilon-prediction network for the grasp diffusion model; with ``point_width`` the condition is
    flattened point subsets, encoded by a :class:`PointNetCondition` trained with the rest."""

    def __init__(self, grasp_dim: int = 25, cond_dim: int = 1024, width: int = 512, depth: int = 4,
                 time_dim: int = 128, dropout: float = 0.0, point_width: int | None = None) -> None:
        super().__init__()
        self.point_net = PointNetCondition(point_width) if point_width else None
        if self.point_net is not None:
            cond_dim = self.point_net.dim
        self.time_dim = time_dim
        cond_width = width
        self.cond_net = nn.Sequential(nn.Linear(cond_dim + time_dim, width), nn.SiLU(), nn.Linear(width, cond_width))
        self.inp = nn.Linear(grasp_dim, width)
        self.blocks = nn.ModuleList([ResidualBlock(width, cond_width, dropout) for _ in range(depth)])
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, grasp_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if self.point_net is not None:
            cond = self.point_net(cond)
        c = self.cond_net(torch.cat([cond, timestep_embedding(t, self.time_dim)], dim=-1))
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, c)
        return self.out(h)
