"""A learned grasp score (the ranking's optional term): P(lift | observed cloud, grasp).

The student learns only from validated grasps; the teacher also labelled every grasp that failed.
The critic uses them all: an MLP over the same BPS encoding of the partial view and the grasp vector
(camera frame, wrist relative to the part centroid) predicts the teacher's continuous success label
(IFG: lift success under small pose perturbations; 0 for a grasp that dropped the object).
At run time :class:`~ifgrasp.grasp.diffusion.generator.GraspGenerator` adds ``w_learned * P`` to the
geometric ranking score when a critic is loaded (``critic.pt`` beside the student by default).

Frames and units as in :mod:`ifgrasp.grasp.diffusion.policy`: camera optical frame, metres, radians.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from pydantic import Field
from torch import nn

from ifgrasp.config import Config
from ifgrasp.errors import InputError
from ifgrasp.grasp.diffusion.encoding import BPSEncoder
from ifgrasp.grasp.diffusion.policy import GRASP_DIM, GraspDiffusion


class CriticConfig(Config):
    dataset: str = Field("data/teacher", description="teacher dataset folder (every grasp, failures too)")
    views: str = Field("data/views/train", description="camera views of the training objects")
    n_basis: int = Field(512, gt=0, description="BPS basis points")
    radius_m: float = Field(0.15, gt=0, description="BPS ball radius around the part centroid")
    width: int = Field(256, gt=0, description="MLP width")
    steps: int = Field(3000, gt=0, description="optimiser steps")
    batch_size: int = Field(512, gt=0, description="pairs per step")
    lr: float = Field(1e-3, gt=0, description="AdamW learning rate (cosine decay)")
    weight_decay: float = Field(1e-3, ge=0, description="AdamW weight decay")
    dropout: float = Field(0.2, ge=0, lt=1, description="dropout in the MLP")
    holdout_seed: int | None = Field(5, description="object seed kept out for the validation AUC (None: none)")
    seed: int = Field(0, description="seed of initialisation and batches")
    min_part_points: int = Field(16, gt=0, description="views showing fewer part points are skipped")


class GraspCritic(nn.Module):
    """(B,N,3) cloud + (B,N) part mask + (B,25) grasp vectors -> (B,) success logits."""

    def __init__(self, n_basis: int = 512, radius_m: float = 0.15, width: int = 256, dropout: float = 0.2) -> None:
        super().__init__()
        self.encoder = BPSEncoder(n_basis, radius_m)
        self.mlp = nn.Sequential(
            nn.Linear(self.encoder.dim + GRASP_DIM, width), nn.SiLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.SiLU(), nn.Dropout(dropout), nn.Linear(width, 1))
        self.register_buffer("grasp_mean", torch.zeros(GRASP_DIM))
        self.register_buffer("grasp_std", torch.ones(GRASP_DIM))
        self.hyper = dict(n_basis=n_basis, radius_m=radius_m, width=width, dropout=dropout)

    def logits_from_features(self, feats: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """feats (B, 2*n_basis) or (1, 2*n_basis) BPS features, vectors (B, 25) relative to the part
        centroid -> (B,). The first layer is split (features | grasp), so one view's features are
        multiplied once for all its B grasps (the same values as concatenating them to each grasp)."""
        z = (vectors - self.grasp_mean) / self.grasp_std
        first, nf = self.mlp[0], feats.shape[-1]
        h = nn.functional.linear(feats, first.weight[:, :nf], first.bias) + nn.functional.linear(z, first.weight[:, nf:])
        return self.mlp[1:](h).squeeze(-1)

    @torch.no_grad()
    def success_probability(self, points: np.ndarray, part_mask: np.ndarray, pos_m: np.ndarray,
                            rot: np.ndarray, joints_rad: np.ndarray) -> np.ndarray:
        """(K,) P(lift) for K grasps (camera frame) on one observed cloud (N,3) with its part mask (N,)."""
        f32 = dict(dtype=torch.float32)
        feats, center = self.encoder(torch.as_tensor(points, **f32)[None], torch.as_tensor(part_mask, **f32)[None])
        vec = GraspDiffusion.to_vector(torch.as_tensor(pos_m, **f32) - center, torch.as_tensor(rot, **f32),
                                       torch.as_tensor(joints_rad, **f32))
        return torch.sigmoid(self.logits_from_features(feats, vec)).numpy().astype(np.float64)


def save_critic(critic: GraspCritic, path: Path, extra: dict | None = None) -> None:
    from ifgrasp.grasp.diffusion.train import HAND_ID

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"hand": HAND_ID, "kind": "critic", "hyper": critic.hyper, "state_dict": critic.state_dict(),
                "extra": extra or {}}, path)


def load_critic(path: str | Path) -> GraspCritic:
    """Load a critic; ``ModelError`` when missing, not a critic, or for another hand."""
    from ifgrasp.grasp.diffusion.train import read_checkpoint

    ckpt = read_checkpoint(path, "critic", "grasp critic", "grasp critic", "train one with `ifgrasp train --critic`")
    critic = GraspCritic(**ckpt["hyper"])
    critic.load_state_dict(ckpt["state_dict"])
    return critic.eval()


def resolve_critic(spec: str | Path | None, checkpoint: str | Path) -> GraspCritic | None:
    """The critic for the student at ``checkpoint``: "auto" = ``critic.pt`` beside it when present,
    "none" or None = no critic, anything else = a critic file (``ModelError`` when missing)."""
    if spec is None or spec == "none":
        return None
    if spec == "auto":
        path = Path(checkpoint).parent / "critic.pt"
        return load_critic(path) if path.is_file() else None
    return load_critic(spec)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (rank statistic, ties averaged)."""
    from scipy.stats import rankdata

    pos, neg = labels.astype(bool), ~labels.astype(bool)
    if not pos.any() or not neg.any():
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * neg.sum()))


def _fit(critic: GraspCritic, feats, feat_idx, vectors, targets, cfg: CriticConfig, progress: bool) -> list[dict]:
    from rich.progress import Progress

    gen = torch.Generator().manual_seed(cfg.seed)
    critic.grasp_mean.copy_(vectors.mean(0))
    critic.grasp_std.copy_(vectors.std(0).clamp(min=1e-3))
    opt = torch.optim.AdamW(critic.mlp.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    positive = float(targets.mean().clamp(1e-3, 1 - 1e-3))
    pos_weight = torch.tensor((1 - positive) / positive)  # successes are rare: balance the classes
    log = []
    critic.train()
    with Progress(disable=not progress) as bar:
        task = bar.add_task("train critic", total=cfg.steps)
        for step in range(cfg.steps):
            pick = torch.randint(0, len(vectors), (cfg.batch_size,), generator=gen)
            logits = critic.logits_from_features(feats[feat_idx[pick]], vectors[pick])
            loss = nn.functional.binary_cross_entropy_with_logits(logits, targets[pick], pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if step % 100 == 0:
                log.append({"step": step, "loss": float(loss.detach())})
            bar.advance(task)
    critic.eval()
    return log


def _pairs(data, views, encoder, cfg: CriticConfig):
    """BPS features of every (object, view, part) and every grasp's pairs with them; labels per pair."""
    from ifgrasp.grasp.diffusion.train import build_pairs

    keep = np.ones(len(data["lift"]), bool)
    feats, feat_idx, vectors, grasp_idx = build_pairs(data, views, encoder, keep, cfg.min_part_points,
                                                      return_grasp_index=True)
    return torch.as_tensor(feats), torch.as_tensor(feat_idx), torch.as_tensor(vectors), grasp_idx


def train_critic(cfg: CriticConfig, out: Path, progress: bool = True) -> dict:
    """Fit the critic on every teacher grasp; writes ``out/critic.pt`` and returns a summary.

    With ``holdout_seed`` set, a first fit leaves that object seed out and reports the ROC AUC of
    lift on its pairs (objects the fit never saw); the saved critic is then fitted on everything.
    """
    from ifgrasp.grasp.dataset import load_dataset
    from ifgrasp.grasp.diffusion.views import load_views

    torch.manual_seed(cfg.seed)
    data = load_dataset(Path(cfg.dataset))
    if not data:
        raise InputError(f"teacher dataset {cfg.dataset} is empty (run `ifgrasp synth` first)")
    views = load_views(Path(cfg.views))
    t0 = time.perf_counter()
    hyper = dict(n_basis=cfg.n_basis, radius_m=cfg.radius_m, width=cfg.width, dropout=cfg.dropout)
    encoder = BPSEncoder(cfg.n_basis, cfg.radius_m)  # the critics' own basis (seeded, no torch RNG used)
    feats, fidx, vec, gidx = _pairs(data, views, encoder, cfg)  # one build: every fit reuses it
    labels = torch.as_tensor(data["label"][gidx], dtype=torch.float32)
    summary: dict = {"grasps": int(len(data["lift"])), "lifted": int(data["lift"].sum())}
    if cfg.holdout_seed is not None:
        held = torch.as_tensor(data["object_seed"][gidx] == cfg.holdout_seed)  # (P,) pairs of unseen objects
        probe = GraspCritic(**hyper)
        _fit(probe, feats, fidx[~held], vec[~held], labels[~held], cfg, progress)
        with torch.no_grad():
            scores = probe.logits_from_features(feats[fidx[held]], vec[held]).numpy()
        summary["holdout_seed"] = cfg.holdout_seed
        summary["holdout_pairs"] = int(held.sum())
        summary["holdout_auc_lift"] = roc_auc(scores, data["lift"][gidx[held.numpy()]])
    critic = GraspCritic(**hyper)
    log = _fit(critic, feats, fidx, vec, labels, cfg, progress)
    summary.update(pairs=int(len(vec)), steps=cfg.steps, final_loss=log[-1]["loss"] if log else None,
                   train_s=time.perf_counter() - t0, params=sum(p.numel() for p in critic.parameters()))
    save_critic(critic, out / "critic.pt", {"summary": summary, "config": cfg.model_dump()})
    (out / "critic_log.json").write_text(json.dumps({"summary": summary, "log": log}, indent=1))
    return summary
