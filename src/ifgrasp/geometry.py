"""Rotation helpers shared by the teacher and the student (torch and numpy, batched).

The continuous 6-D rotation representation (Zhou et al., CVPR 2019) used here is the first two
*columns* of the rotation matrix, concatenated: ``r6 = [R[:, 0], R[:, 1]]`` (B, 6).
"""

from __future__ import annotations

import numpy as np
import torch


def rot6d_to_matrix(r6: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt on the two columns; differentiable."""
    a1, a2 = r6[..., :3], r6[..., 3:]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    a2_orth = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    # degenerate input (second column parallel to the first): fall back to the world axis least
    # parallel to b1, so the result is always a proper rotation
    x_axis = torch.zeros_like(b1)
    x_axis[..., 0] = 1.0
    y_axis = torch.zeros_like(b1)
    y_axis[..., 1] = 1.0
    fallback = torch.where(b1[..., :1].abs() < 0.9, x_axis, y_axis)
    fallback = fallback - (b1 * fallback).sum(-1, keepdim=True) * b1
    small = a2_orth.norm(dim=-1, keepdim=True) < 1e-6
    b2 = torch.nn.functional.normalize(torch.where(small, fallback, a2_orth), dim=-1)
    b3 = torch.stack([  # b1 x b2, written out so the graph exports to ONNX
        b1[..., 1] * b2[..., 2] - b1[..., 2] * b2[..., 1],
        b1[..., 2] * b2[..., 0] - b1[..., 0] * b2[..., 2],
        b1[..., 0] * b2[..., 1] - b1[..., 1] * b2[..., 0],
    ], dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rot6d(R: torch.Tensor | np.ndarray):
    """(..., 3, 3) -> (..., 6): the first two columns."""
    if isinstance(R, np.ndarray):
        return np.concatenate([R[..., :, 0], R[..., :, 1]], axis=-1)
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)


def rot6d_to_matrix_np(r6: np.ndarray) -> np.ndarray:
    """numpy twin of :func:`rot6d_to_matrix`."""
    return rot6d_to_matrix(torch.as_tensor(r6, dtype=torch.float64)).numpy()








def invert_transform(T: np.ndarray) -> np.ndarray:
    """Inverse of rigid transforms (..., 4, 4): ``T_a_b`` -> ``T_b_a`` (R^T, -R^T t)."""
    out = np.zeros_like(T)
    Rt = np.swapaxes(T[..., :3, :3], -1, -2)
    out[..., :3, :3] = Rt
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", Rt, T[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out
