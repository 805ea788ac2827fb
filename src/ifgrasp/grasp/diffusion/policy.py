"""The grasp diffusion policy: normalisation, noise schedule, training loss and sampling.

Grasp vector (25,) in the camera optical frame: [wrist translation relative to the part centre (3),
6-D rotation = first two columns of R_camera_hand (6), joints in motor order (16)]. Two samplers,
recorded in the checkpoint's ``sampler``:

- ``"ddim"`` (trained by ``ifgrasp train``): the denoiser predicts the noise (epsilon); sampling is
  deterministic DDIM (eta = 0) over ``steps`` evenly spaced steps of the ``num_train_steps`` schedule,
  so 1 to ``num_train_steps`` network evaluations from the same model.
- ``"flow"`` (distilled by ``ifgrasp distill``, :mod:`.distill`): the denoiser predicts a velocity
  v(x_s, s) of the straight path x_s = (1 - s) z + s x from noise z (s = 0) to the normalised grasp x
  (s = 1); sampling is ``steps`` Euler steps of ds = 1 / steps. The network's time input is the
  diffusion step with the same noise level, t = (1 - s) (num_train_steps - 1), so a flow model starts
  from the DDIM model's weights.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ifgrasp.geometry import matrix_to_rot6d, rot6d_to_matrix
from ifgrasp.grasp.diffusion.encoding import BPSEncoder, PointSubset
from ifgrasp.grasp.diffusion.network import GraspDenoiser

GRASP_DIM = 25
SAMPLERS = ("ddim", "flow")
ENCODERS = ("bps", "points")


def cosine_alphas_cumprod(num_steps: int, s: float = 0.008) -> torch.Tensor:
    """(T,) cumulative signal level of the cosine schedule (Nichol & Dhariwal 2021)."""
    t = torch.linspace(0, num_steps, num_steps + 1, dtype=torch.float64) / num_steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    alphas = (f[1:] / f[:-1]).clamp(min=1e-4, max=0.9999)
    return torch.cumprod(alphas, 0).float()


def ddim_timesteps(num_train_steps: int, steps: int) -> list[int]:
    """Descending step indices used by a ``steps``-evaluation sampler."""
    if not 1 <= steps <= num_train_steps:
        raise ValueError(f"steps must be in 1..{num_train_steps}, got {steps}")
    return [int(round(x)) for x in np.linspace(num_train_steps - 1, 0, steps)]


class GraspDiffusion(nn.Module):
    """Encoder + denoiser + schedule + grasp normalisation, saved and loaded as one state_dict."""

    def __init__(self, n_basis: int = 512, radius_m: float = 0.15, width: int = 512, depth: int = 4,
                 num_train_steps: int = 100, clip_x0: float = 3.0, sampler: str = "ddim", encoder: str = "bps",
                 n_cloud: int = 128, n_part: int = 64, point_width: int = 128) -> None:
        super().__init__()
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler '{sampler}'; known: {', '.join(SAMPLERS)}")
        if encoder not in ENCODERS:
            raise ValueError(f"unknown encoder '{encoder}'; known: {', '.join(ENCODERS)}")
        self.sampler = sampler
        self.default_steps = 8  # network evaluations per sample unless told; a checkpoint may record its own
        if encoder == "bps":
            self.encoder = BPSEncoder(n_basis, radius_m)
            self.denoiser = GraspDenoiser(GRASP_DIM, self.encoder.dim, width, depth)
        else:  # fixed point subsets here, the learned PointNet inside the denoiser (features stay precomputable)
            self.encoder = PointSubset(n_cloud, n_part)
            self.denoiser = GraspDenoiser(GRASP_DIM, self.encoder.dim, width, depth, point_width=point_width)
        self.num_train_steps = num_train_steps
        self.clip_x0 = clip_x0
        self.register_buffer("alphas_cumprod", cosine_alphas_cumprod(num_train_steps))
        self.register_buffer("grasp_mean", torch.zeros(GRASP_DIM))
        self.register_buffer("grasp_std", torch.ones(GRASP_DIM))
        self.hyper = dict(n_basis=n_basis, radius_m=radius_m, width=width, depth=depth,
                          num_train_steps=num_train_steps, clip_x0=clip_x0, sampler=sampler)
        if encoder != "bps":  # BPS checkpoints keep the hyperparameters older builds read
            self.hyper.update(encoder=encoder, n_cloud=n_cloud, n_part=n_part, point_width=point_width)

    # --- grasp vectors -------------------------------------------------------------------
    @staticmethod
    def to_vector(pos_rel: torch.Tensor, rot: torch.Tensor, joints: torch.Tensor) -> torch.Tensor:
        """(B,3), (B,3,3), (B,16) -> (B,25) un-normalised grasp vector."""
        return torch.cat([pos_rel, matrix_to_rot6d(rot), joints], dim=-1)

    @staticmethod
    def from_vector(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return v[..., :3], rot6d_to_matrix(v[..., 3:9]), v[..., 9:]

    def set_normalizer(self, vectors: torch.Tensor) -> None:
        self.grasp_mean.copy_(vectors.mean(0))
        self.grasp_std.copy_(vectors.std(0).clamp(min=1e-3))

    def normalize(self, v: torch.Tensor) -> torch.Tensor:
        return (v - self.grasp_mean) / self.grasp_std

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.grasp_std + self.grasp_mean

    # --- training ------------------------------------------------------------------------
    def loss(self, points: torch.Tensor, part_mask: torch.Tensor, vectors: torch.Tensor,
             generator: torch.Generator | None = None, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Epsilon-prediction MSE. points (B,N,3), part_mask (B,N), vectors (B,25) relative to the
        part centre the encoder computes (the caller subtracts it)."""
        cond, _ = self.encoder(points, part_mask)
        return self.loss_from_features(cond, vectors, generator, weights)

    def loss_from_features(self, cond, vectors, generator=None, weights=None, return_x0: bool = False):
        """Epsilon MSE; with ``return_x0`` also the predicted clean grasps (B, 25, normalised) and each
        sample's signal level alpha-bar (B,), for losses on the predicted grasp."""
        x0 = self.normalize(vectors)
        b = x0.shape[0]
        t = torch.randint(0, self.num_train_steps, (b,), generator=generator)
        noise = torch.randn(x0.shape, generator=generator)
        a = self.alphas_cumprod[t].unsqueeze(-1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        eps = self.denoiser(xt, t, cond)
        err = ((eps - noise) ** 2).mean(-1)
        loss = (err * weights).sum() / weights.sum().clamp(min=1e-6) if weights is not None else err.mean()
        if not return_x0:
            return loss
        x0_hat = ((xt - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-self.clip_x0, self.clip_x0)
        return loss, x0_hat, a[:, 0]

    # --- sampling ------------------------------------------------------------------------
    def velocity(self, x: torch.Tensor, s: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Flow sampler's velocity (B, 25) at x (B, 25, normalised) and path time s (B,) in [0, 1]."""
        return self.denoiser(x, (1.0 - s) * (self.num_train_steps - 1), cond)

    def sample_from_features(self, cond: torch.Tensor, noise: torch.Tensor, steps: int) -> torch.Tensor:
        """``steps`` network evaluations (DDIM or Euler, by ``self.sampler``). cond (B,C) or (1,C), noise
        (B,25) -> (B,25) un-normalised grasp vectors. With one condition (1,C) for B samples of one view
        the conditioning branch (BPS features + step -> FiLM) runs once per step and broadcasts over the
        samples: same values, ~60% fewer multiply-adds than ``cond.expand(B, -1)``."""
        if self.sampler == "flow":
            return self._sample_flow(cond, noise, steps)
        x = noise
        ts = ddim_timesteps(self.num_train_steps, steps)
        for i, t in enumerate(ts):
            a = self.alphas_cumprod[t]
            t_batch = torch.full((cond.shape[0],), t, dtype=torch.long)
            eps = self.denoiser(x, t_batch, cond)
            x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-self.clip_x0, self.clip_x0)
            if i + 1 < len(ts):
                a_next = self.alphas_cumprod[ts[i + 1]]
                eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
                x = a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
            else:
                x = x0
        return self.denormalize(x)

    def _sample_flow(self, cond: torch.Tensor, noise: torch.Tensor, steps: int) -> torch.Tensor:
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        x = noise
        for i in range(steps):
            s = torch.full((cond.shape[0],), i / steps, dtype=x.dtype)
            x = x + self.velocity(x, s, cond) / steps
        return self.denormalize(x.clamp(-self.clip_x0, self.clip_x0))

    def sample(self, points: torch.Tensor, part_mask: torch.Tensor, noise: torch.Tensor, steps: int):
        """One cloud (1,N,3)/(1,N), noise (K,25) -> wrist pos (K,3) camera frame, rot (K,3,3), joints (K,16)."""
        cond, center = self.encoder(points, part_mask)
        v = self.sample_from_features(cond, noise, steps)  # one condition, broadcast over the K samples
        pos_rel, rot, joints = self.from_vector(v)
        return pos_rel + center, rot, joints


class UnrolledSampler(nn.Module):
    """The whole K-step sampler as one graph (for ONNX / TensorRT): encoder + K denoiser calls.

    Inputs: points (1, N, 3) float32 metres (camera frame), part_mask (1, N) float32 in {0, 1},
    noise (K, 25) float32. Outputs: wrist_pos (K, 3), rot6d (K, 6) (Gram-Schmidt applied), joints (K, 16).
    """

    def __init__(self, policy: GraspDiffusion, steps: int) -> None:
        super().__init__()
        self.policy = policy
        self.steps = steps

    def forward(self, points: torch.Tensor, part_mask: torch.Tensor, noise: torch.Tensor):
        pos, rot, joints = self.policy.sample(points, part_mask, noise, self.steps)
        return pos, matrix_to_rot6d(rot), joints


class SamplerGraph(nn.Module):
    """Sampler + the critic's P(lift) + the ranking's measures in one graph (torch and ONNX share it).

    Like :class:`UnrolledSampler`, plus an output ``lift_probability`` (K,) when a critic is given (its
    score, :meth:`~ifgrasp.grasp.diffusion.critic.GraspCritic.score_from_features`).
    When the critic's BPS basis equals the student's (the default), the cloud is encoded once and both
    networks read the same features; otherwise the critic's own encoder runs in the graph. With a
    ``hand`` (:class:`~ifgrasp.hand.LeapHandModel`) the graph takes a fourth input ``table_plane`` (4,)
    (:func:`~ifgrasp.grasp.diffusion.ranking.table_plane`) and also outputs the ranking's measures
    (:data:`~ifgrasp.grasp.diffusion.ranking.TERMS`, :func:`~ifgrasp.grasp.diffusion.ranking.ranking_terms`
    on the first ``probe_points`` points): sampling, critic and ranking are then one call.
    ``output_names`` lists the outputs in order.
    """

    def __init__(self, policy: GraspDiffusion, steps: int, critic: nn.Module | None = None, hand=None,
                 probe_points: int = 128) -> None:
        super().__init__()
        self.policy, self.steps, self.critic = policy, steps, critic
        self.shared = (critic is not None and hasattr(critic.encoder, "basis") and hasattr(policy.encoder, "basis")
                       and torch.equal(critic.encoder.basis, policy.encoder.basis))
        self.hand, self.probe_points = hand, probe_points
        self.self_collision = None
        if hand is not None:
            from ifgrasp.hand.self_collision import HandSelfCollision

            self.self_collision = HandSelfCollision(hand)

    @property
    def output_names(self) -> list[str]:
        from ifgrasp.grasp.diffusion.ranking import TERMS

        return (["wrist_pos", "rot6d", "joints"] + (["lift_probability"] if self.critic is not None else [])
                + (list(TERMS) if self.hand is not None else []))

    def forward(self, points: torch.Tensor, part_mask: torch.Tensor, noise: torch.Tensor,
                table_plane: torch.Tensor | None = None):
        policy = self.policy
        cond, center = policy.encoder(points, part_mask)
        v = policy.sample_from_features(cond, noise, self.steps)  # conditioning once, broadcast over K
        pos_rel, rot, joints = policy.from_vector(v)
        pos = pos_rel + center
        out = (pos, matrix_to_rot6d(rot), joints)
        if self.critic is not None:
            feats = cond if self.shared else self.critic.encoder(points, part_mask)[0]
            vec = GraspDiffusion.to_vector(pos_rel, rot, joints)  # the critic's input: relative to the part centre
            out = (*out, self.critic.score_from_features(feats, vec))
        if self.hand is None:
            return out
        from ifgrasp.grasp.diffusion.ranking import TERMS, ranking_terms

        if table_plane is None:
            table_plane = points.new_tensor([0.0, 0.0, 0.0, 1.0])
        terms = ranking_terms(self.hand, pos, rot, joints, points[0], part_mask[0], table_plane, self.probe_points,
                              self.self_collision)
        return (*out, *(terms[name] for name in TERMS))
