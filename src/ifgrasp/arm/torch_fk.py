"""Differentiable xArm7 forward kinematics in torch (same chain as the numpy ``Xarm7Kinematics``).

For optimisers that need gradients through the arm (e.g. refining a hand pose together with the
arm configuration). Batch first: ``q`` (B, 7) -> ``T_base_flange`` (B, 4, 4), any float dtype/device.
"""

from __future__ import annotations

import torch

from ifgrasp.arm.chain import SerialChain


class TorchArmFK(torch.nn.Module):
    """``forward(q (B, J)) -> T_base_tip (B, 4, 4)``; constants are buffers (``.to(dtype, device)``)."""

    def __init__(self, chain: SerialChain):
        super().__init__()
        axis = torch.as_tensor(chain.axis, dtype=torch.float64)  # (J, 3)
        K = torch.zeros(len(axis), 3, 3, dtype=torch.float64)
        K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
        K = K - K.transpose(-1, -2)  # (J, 3, 3) skew matrices of the axes
        self.register_buffer("K", K)
        self.register_buffer("K2", K @ K)
        self.register_buffer("T_parent_joint", torch.as_tensor(chain.T_parent_joint, dtype=torch.float64))
        self.register_buffer("T_last_tip", torch.as_tensor(chain.T_last_tip, dtype=torch.float64))

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        B, J = q.shape
        s, c = torch.sin(q)[..., None, None], torch.cos(q)[..., None, None]
        eye = torch.eye(3, dtype=q.dtype, device=q.device)
        R = eye + s * self.K + (1.0 - c) * self.K2  # (B, J, 3, 3)
        Rj = torch.zeros(B, J, 4, 4, dtype=q.dtype, device=q.device)
        Rj[..., :3, :3] = R
        Rj[..., 3, 3] = 1.0
        local = self.T_parent_joint @ Rj  # (B, J, 4, 4)
        T = local[:, 0]
        for i in range(1, J):  # loop over joints, not the batch
            T = T @ local[:, i]
        return T @ self.T_last_tip  # (B, 4, 4)
