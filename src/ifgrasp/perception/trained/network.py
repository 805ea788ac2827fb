"""PartNet: a small DGCNN-style point network (plain torch) for per-point category and part.

Input ``points`` (B, N, 3 + F): xyz normalised by :func:`ifgrasp.perception.trained.vocab.normalise`,
then ``F`` per-point geometry channels (``in_channels`` = 7 with ``features.network_input``'s normal
and curvature; 3 = xyz only, the first checkpoints); output ``category_logits`` (B, N, C) and ``part_logits`` (B, N, P) per point. An instance's
category is the mean of its points' category probabilities; per-point categories also split
clusters where two objects touch.

Edge convolutions use one k-nearest-neighbour graph on xyz (the first 3 channels) (static, not DGCNN's dynamic feature
graph: cheaper, and enough here). Each edge layer is one linear map of ``[f_i, f_j - f_i]`` and a max
over neighbours, factorised so that it costs a gather and a max (see :class:`EdgeConv`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def knn(x: torch.Tensor, k: int) -> torch.Tensor:
    """(B, N, 3) -> (B, N, k) int64 indices of each point's k nearest points (itself included).

    The graph carries no gradient, so it is built with scipy's k-d tree (~20x faster than
    ``cdist`` + ``topk`` on one CPU core)."""
    from scipy.spatial import cKDTree

    pts = x.detach().cpu().numpy()
    k = min(k, pts.shape[1])
    idx = np.stack([cKDTree(p).query(p, k=k)[1].reshape(p.shape[0], k) for p in pts])  # (B, N, k)
    return torch.from_numpy(idx.astype(np.int64)).to(x.device)


def gather(f: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """(B, N, C) features, (B, N, k) indices -> (B, N, k, C)."""
    b, n, k = idx.shape
    flat = (idx + torch.arange(b, device=idx.device)[:, None, None] * f.shape[1]).reshape(-1)
    return f.reshape(b * f.shape[1], -1).index_select(0, flat).reshape(b, n, k, -1)


class EdgeConv(nn.Module):
    """lrelu(A' f_i + max_j B f_j) over the k neighbours j of i, then a point-wise MLP:
    (B, N, Cin) -> (B, N, Cout).

    This is an edge MLP of one linear layer on ``[f_i, f_j - f_i]`` followed by a max over j: the
    activation is monotone, so max_j act(a_i + b_j) = act(a_i + max_j b_j) and the edge tensor
    costs one gather and a max. On xyz input, max_j B x_j is the neighbourhood's support function
    in the directions of B's rows: a local shape descriptor.
    """

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.center = nn.Linear(c_in, c_out)  # A - B
        self.neigh = nn.Linear(c_in, c_out, bias=False)  # B
        self.post = nn.Sequential(nn.LayerNorm(c_out), nn.LeakyReLU(0.2), nn.Linear(c_out, c_out),
                                  nn.LayerNorm(c_out), nn.LeakyReLU(0.2))

    def forward(self, f: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        e = self.center(f) + gather(self.neigh(f), idx).amax(dim=2)  # (B, N, Cout)
        return self.post(e)


class PartNet(nn.Module):
    """Per-point category (C) and part (P) logits from (B, N, in_channels) points: normalised xyz
    first, then optional per-point features (normals, curvature)."""

    def __init__(self, n_categories: int, n_parts: int, k: int = 16, width: int = 64, global_width: int = 256,
                 in_channels: int = 3):
        super().__init__()
        if in_channels < 3:
            raise ValueError(f"PartNet needs xyz first: in_channels {in_channels} < 3")
        self.k, self.in_channels = k, in_channels
        self.n_categories, self.n_parts = n_categories, n_parts
        self.ec1 = EdgeConv(in_channels, width)
        self.ec2 = EdgeConv(width, width)
        self.ec3 = EdgeConv(width, width)
        self.lift = nn.Sequential(nn.Linear(3 * width, global_width), nn.LayerNorm(global_width), nn.LeakyReLU(0.2))
        self.head = nn.Sequential(
            nn.Linear(3 * width + global_width, 128), nn.LayerNorm(128), nn.LeakyReLU(0.2),
            nn.Linear(128, 64), nn.LeakyReLU(0.2), nn.Linear(64, n_categories + n_parts))

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        idx = knn(points[..., :3], self.k)  # (B, N, k) on xyz
        f1 = self.ec1(points, idx)  # (B, N, W)
        f2 = self.ec2(f1, idx)
        f3 = self.ec3(f2, idx)
        local = torch.cat([f1, f2, f3], dim=-1)  # (B, N, 3W)
        g = self.lift(local).amax(dim=1, keepdim=True)  # (B, 1, G)
        out = self.head(torch.cat([local, g.expand(-1, local.shape[1], -1)], dim=-1))  # (B, N, C + P)
        return out[..., : self.n_categories], out[..., self.n_categories:]
