"""A learned grasp score (the ranking's optional term): how likely a grasp holds, from the observed cloud.

The student learns only from validated grasps; the teacher also labelled every grasp that failed.
The critic uses them all: an MLP over the same BPS encoding of the partial view and the grasp vector
(camera frame, wrist relative to the part centroid) predicts one or more of the judge's per-grasp
outcomes (:data:`TARGETS`, each a target in [0, 1], one sigmoid head each, BCE; targets a shard lacks
are masked). Its **score** (:meth:`GraspCritic.score_from_features`) is the weighted mean of the heads'
probabilities with ``score_weights``: the ranking's learned term. The first release learned IFG's
continuous ``label`` alone (judge v1); a critic fitted with ``labels: v2`` learns only from the shards
whose stored validation settings are the current judge's (``ifgrasp.grasp.dataset.stale_shards``).
At run time :class:`~ifgrasp.grasp.diffusion.generator.GraspGenerator` adds ``w_learned * score`` to the
geometric ranking score when a critic is loaded (``critic.pt`` beside the student by default).

Frames and units as in :mod:`ifgrasp.grasp.diffusion.policy`: camera optical frame, metres, radians.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from typing import Literal

from pydantic import Field, model_validator
from torch import nn

from ifgrasp.config import Config
from ifgrasp.errors import InputError, ModelError
from ifgrasp.grasp.diffusion.encoding import BPSEncoder
from ifgrasp.grasp.diffusion.policy import GRASP_DIM, GraspDiffusion


def _field(data: dict, name: str) -> np.ndarray:
    """(N,) float64 of a stored per-grasp result; NaN where the dataset lacks it."""
    return np.asarray(data[name], np.float64) if name in data else np.full(len(data["lift"]), np.nan)


def _clear(data: dict) -> np.ndarray:
    """1 where the exact hand-object overlap at pre-grasp and grasp and the hand's self-penetration are
    <= 1 mm (the v2 gates of ``ifgrasp eval student``), NaN where the shard lacks exact penetration."""
    if "penetration_stages_m" not in data:
        return np.full(len(data["lift"]), np.nan)
    stages = np.asarray(data["penetration_stages_m"], np.float64)[:, :2]
    pen = np.where(np.isnan(stages).all(1), np.nan, np.nanmax(np.nan_to_num(stages, nan=-np.inf), axis=1))
    self_pen = _field(data, "self_penetration_m")
    out = ((pen <= 1e-3) & (self_pen <= 1e-3)).astype(np.float64)
    out[~np.isfinite(pen) | ~np.isfinite(self_pen)] = np.nan
    return out


#: Per-grasp targets in [0, 1] the critic can learn, from a loaded teacher dataset (NaN: not measured).
#: label: IFG's continuous success (share of nominal + perturbed executions that lift); lift: the judge's lift
#: (object moved < 2 cm and turned < 10 deg); grip: grip margin (friction x normal force / weight) / 2, clipped
#: (a margin of 2 and more = 1); shove: 1 - the object's push while closing / 1 cm, clipped; turn: 1 - its
#: rotation in the lift / 20 deg, clipped; clear: exact penetration and self-penetration <= 1 mm.
TARGETS = {
    "label": lambda d: _field(d, "label"),
    "lift": lambda d: _field(d, "lift"),
    "grip": lambda d: np.clip(_field(d, "grip_margin") / 2.0, 0.0, 1.0),
    "shove": lambda d: 1.0 - np.clip(_field(d, "shove_m") / 0.01, 0.0, 1.0),
    "turn": lambda d: 1.0 - np.clip(_field(d, "lift_rotation_rad") / np.radians(20.0), 0.0, 1.0),
    "clear": _clear,
}


class CriticConfig(Config):
    dataset: str = Field("data/teacher", description="teacher dataset folder (every grasp, failures too)")
    labels: Literal["v2", "any"] = Field("v2", description="v2: only shards whose labels were made under the "
                                         "current validation settings (those of dataset_config); any: every shard")
    dataset_config: str | None = Field(None, description="DatasetConfig YAML whose validation settings are the "
                                       "current ones (None: config/teacher_dataset.yaml, as `ifgrasp revalidate`)")
    heads: tuple[str, ...] = Field(("lift", "grip", "shove", "turn", "clear"), min_length=1,
                                   description="targets learned, one sigmoid head each (TARGETS)")
    score_weights: tuple[float, ...] = Field((1.0, 0.0, 0.0, 0.0, 0.0), description="the score = weighted mean "
                                             "of the heads' probabilities (same order as heads)")
    balance_heads: tuple[str, ...] = Field(("lift",), description="binary heads whose rare positives are "
                                           "up-weighted to balance the classes")
    views: str = Field("data/views/train", description="camera views of the training objects")
    n_basis: int = Field(512, gt=0, description="BPS basis points")
    radius_m: float = Field(0.15, gt=0, description="BPS ball radius around the part centroid")
    encoder: Literal["bps", "points"] = Field("bps", description="bps: the student's BPS features; points: "
                                              "a PointNet on cloud and part points in each grasp's wrist frame")
    n_cloud: int = Field(64, gt=0, description="points encoder: cloud points (even subset)")
    n_part: int = Field(32, gt=0, description="points encoder: part points (even subset)")
    point_width: int = Field(64, gt=0, description="points encoder: per-point feature width (two layers)")
    width: int = Field(256, gt=0, description="MLP width")
    steps: int = Field(3000, gt=0, description="optimiser steps")
    batch_size: int = Field(512, gt=0, description="pairs per step")
    lr: float = Field(1e-3, gt=0, description="AdamW learning rate (cosine decay)")
    weight_decay: float = Field(1e-3, ge=0, description="AdamW weight decay")
    dropout: float = Field(0.2, ge=0, lt=1, description="dropout in the MLP")
    holdout_seed: int | None = Field(5, description="object seed kept out for the validation AUC (None: none)")
    seed: int = Field(0, description="seed of initialisation and batches")
    min_part_points: int = Field(16, gt=0, description="views showing fewer part points are skipped")
    checkpoint_every: int = Field(500, gt=0, description="steps between resume states (out/critic_state.pt)")

    @model_validator(mode="after")
    def _check_heads(self) -> "CriticConfig":
        unknown = sorted(set(self.heads) - set(TARGETS))
        if unknown:
            raise ValueError(f"unknown critic head(s) {unknown}; known: {', '.join(TARGETS)}")
        if len(self.score_weights) != len(self.heads) or sum(self.score_weights) <= 0:
            raise ValueError(f"score_weights needs one weight >= 0 per head ({len(self.heads)}), "
                             f"with a positive sum; got {self.score_weights}")
        return self


class GraspCritic(nn.Module):
    """(B,N,3) cloud + (B,N) part mask + (B,25) grasp vectors -> (B, H) logits, one per head, and the score.

    ``heads`` names the learned targets (:data:`TARGETS`), ``score_weights`` their weights in the score
    (:meth:`score_from_features`). A critic saved before heads existed is one ``label`` head."""

    def __init__(self, n_basis: int = 512, radius_m: float = 0.15, width: int = 256, dropout: float = 0.2,
                 heads: tuple[str, ...] | list[str] = ("label",), score_weights: tuple[float, ...] | list[float] | None = None
                 ) -> None:
        super().__init__()
        self.encoder = BPSEncoder(n_basis, radius_m)
        weights = self._add_heads(self.encoder.dim, width, dropout, heads, score_weights)
        self.hyper = dict(n_basis=n_basis, radius_m=radius_m, width=width, dropout=dropout, heads=list(self.heads),
                          score_weights=list(weights))

    def _add_heads(self, feature_dim: int, width: int, dropout: float, heads, score_weights) -> tuple[float, ...]:
        """The MLP over (features, normalised grasp vector) with one output per head, the grasp vector's
        normalisation buffers and the score's weights (checked against ``heads``; default: equal). Returns
        the weights as given."""
        heads = tuple(heads)
        weights = tuple(float(w) for w in (score_weights if score_weights is not None else (1.0,) * len(heads)))
        if len(weights) != len(heads) or sum(weights) <= 0 or min(weights) < 0:
            raise ValueError(f"score_weights {weights} do not fit heads {heads}")
        self.mlp = nn.Sequential(
            nn.Linear(feature_dim + GRASP_DIM, width), nn.SiLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.SiLU(), nn.Dropout(dropout), nn.Linear(width, len(heads)))
        self.register_buffer("grasp_mean", torch.zeros(GRASP_DIM))
        self.register_buffer("grasp_std", torch.ones(GRASP_DIM))
        # not in the state dict (the hyperparameters hold the weights): a one-head critic's file is as before
        self.register_buffer("score_weights", torch.tensor(weights) / sum(weights), persistent=False)
        self.heads = heads
        return weights

    def head_logits(self, feats: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """feats (B, 2*n_basis) or (1, 2*n_basis) BPS features, vectors (B, 25) relative to the part
        centroid -> (B, H). The first layer is split (features | grasp), so one view's features are
        multiplied once for all its B grasps (the same values as concatenating them to each grasp)."""
        z = (vectors - self.grasp_mean) / self.grasp_std
        first, nf = self.mlp[0], feats.shape[-1]
        h = nn.functional.linear(feats, first.weight[:, :nf], first.bias) + nn.functional.linear(z, first.weight[:, nf:])
        return self.mlp[1:](h)

    @property
    def trainable(self):
        """The parameters a fit optimises (not the fixed encoder)."""
        return list(self.mlp.parameters())

    def logits_from_features(self, feats: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """(B,) logits of the first head (the one-head critic's P(lift) logit)."""
        return self.head_logits(feats, vectors)[..., 0]

    def score_from_features(self, feats: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """(B,) the critic's score in [0, 1]: ``score_weights``-weighted mean of the heads' probabilities
        (for a one-head critic its sigmoid). The ranking's learned term and the graph's ``lift_probability``."""
        return torch.sigmoid(self.head_logits(feats, vectors)) @ self.score_weights

    @torch.no_grad()
    def success_probability(self, points: np.ndarray, part_mask: np.ndarray, pos_m: np.ndarray,
                            rot: np.ndarray, joints_rad: np.ndarray) -> np.ndarray:
        """(K,) the score for K grasps (camera frame) on one observed cloud (N,3) with its part mask (N,)."""
        f32 = dict(dtype=torch.float32)
        feats, center = self.encoder(torch.as_tensor(points, **f32)[None], torch.as_tensor(part_mask, **f32)[None])
        vec = GraspDiffusion.to_vector(torch.as_tensor(pos_m, **f32) - center, torch.as_tensor(rot, **f32),
                                       torch.as_tensor(joints_rad, **f32))
        return self.score_from_features(feats, vec).numpy().astype(np.float64)


class PointCritic(GraspCritic):
    """The critic with a point encoder instead of BPS (issue 22 item 5): an even subset of the observed
    cloud and of its part (:class:`~ifgrasp.grasp.diffusion.encoding.PointSubset`) is moved into each
    grasp's wrist frame, a shared MLP per point (position in the wrist frame, part flag) is max-pooled
    (PointNet), and the pooled feature with the normalised grasp vector goes through the same MLP and
    heads as the BPS critic. The points are seen from the hand, as grasp-quality networks on points do
    (e.g. PointNetGPD), not from the object's centre."""

    def __init__(self, n_cloud: int = 64, n_part: int = 32, point_width: int = 64, width: int = 256,
                 dropout: float = 0.2, heads: tuple[str, ...] | list[str] = ("lift",),
                 score_weights: tuple[float, ...] | list[float] | None = None) -> None:
        nn.Module.__init__(self)
        from ifgrasp.grasp.diffusion.encoding import PointSubset

        self.encoder = PointSubset(n_cloud, n_part)
        self.points = nn.Sequential(nn.Linear(4, point_width), nn.SiLU(), nn.Linear(point_width, point_width))
        weights = self._add_heads(point_width, width, dropout, heads, score_weights)
        self.hyper = dict(encoder="points", n_cloud=n_cloud, n_part=n_part, point_width=point_width, width=width,
                          dropout=dropout, heads=list(self.heads), score_weights=list(weights))

    def pooled(self, feats: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """(B, point_width): the max-pooled per-point features of the encoder's points (B or 1, P * 4; xyz
        relative to the part centre, part flag) seen from each grasp's wrist (vectors (B, 25))."""
        from ifgrasp.geometry import rot6d_to_matrix

        pts = feats.reshape(feats.shape[0], -1, 4)
        rot = rot6d_to_matrix(vectors[:, 3:9])  # (B, 3, 3) R_camera_wrist
        local = torch.einsum("bpi,bij->bpj", pts[..., :3] - vectors[:, None, :3], rot)  # R^T (p - t) per grasp
        flag = pts[..., 3:].expand(local.shape[0], -1, -1)
        return self.points(torch.cat([local, flag], -1)).amax(1)

    def head_logits(self, feats: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """feats (B or 1, (n_cloud + n_part) * 4) from the encoder, vectors (B, 25) -> (B, H)."""
        z = (vectors - self.grasp_mean) / self.grasp_std
        return self.mlp(torch.cat([self.pooled(feats, vectors), z], -1))

    @property
    def trainable(self):
        return list(self.points.parameters()) + list(self.mlp.parameters())


def make_critic(hyper: dict) -> GraspCritic:
    """A critic from its hyperparameters (``encoder``: "bps", the default, or "points")."""
    hyper = dict(hyper)
    return PointCritic(**hyper) if hyper.pop("encoder", "bps") == "points" else GraspCritic(**hyper)


def save_critic(critic: GraspCritic, path: Path, extra: dict | None = None) -> None:
    from ifgrasp.grasp.diffusion.train import HAND_ID

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"hand": HAND_ID, "kind": "critic", "hyper": critic.hyper, "state_dict": critic.state_dict(),
                "extra": extra or {}}, path)


def load_critic(path: str | Path) -> GraspCritic:
    """Load a critic; ``ModelError`` when missing, not a critic, or for another hand."""
    from ifgrasp.grasp.diffusion.train import read_checkpoint

    ckpt = read_checkpoint(path, "critic", "grasp critic", "grasp critic", "train one with `ifgrasp train --critic`")
    try:
        critic = make_critic(ckpt["hyper"])
        critic.load_state_dict(ckpt["state_dict"])
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:  # hyperparameters and weights that do not fit
        raise ModelError(f"grasp critic {path} does not match this build's critic: {exc}") from exc
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


def targets_of(data: dict[str, np.ndarray], heads) -> np.ndarray:
    """(N, H) float32 targets in [0, 1] of every grasp for ``heads`` (:data:`TARGETS`); NaN = not measured."""
    return np.stack([TARGETS[h](data) for h in heads], -1).astype(np.float32)


def _loss(critic: GraspCritic, logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor) -> torch.Tensor:
    """Mean over heads of the masked BCE (a NaN target does not count); ``pos_weight`` (H,) per head."""
    known = ~torch.isnan(targets)
    y = torch.nan_to_num(targets)
    bce = nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
    weight = 1.0 + (pos_weight - 1.0) * y  # positives of a balanced head count pos_weight times
    per_head = (bce * weight * known).sum(0) / known.sum(0).clamp(min=1)
    return per_head.mean()


def _fit(critic: GraspCritic, feats, feat_idx, vectors, targets, cfg: CriticConfig, progress: bool,
         state_path: Path | None = None, name: str = "fit") -> list[dict]:
    """Fit ``critic`` on the pairs; with ``state_path`` the fit resumes from (and saves) its state there
    every ``checkpoint_every`` steps (a state of another config, data size or ``name`` is ignored)."""
    from rich.progress import Progress

    gen = torch.Generator().manual_seed(cfg.seed)
    critic.grasp_mean.copy_(vectors.mean(0))
    critic.grasp_std.copy_(vectors.std(0).clamp(min=1e-3))
    opt = torch.optim.AdamW(critic.trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    rate = torch.nanmean(targets, 0).nan_to_num(0.5).clamp(1e-3, 1 - 1e-3)
    balanced = torch.tensor([h in cfg.balance_heads for h in critic.heads])
    pos_weight = torch.where(balanced, (1 - rate) / rate, torch.ones_like(rate))  # rare successes count as much
    log, start = [], 0
    key = {"name": name, "config": cfg.model_dump(mode="json"), "pairs": len(vectors)}
    if state_path is not None and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        if state["key"] == key:
            critic.load_state_dict(state["critic"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            gen.set_state(state["gen"])
            torch.set_rng_state(state["torch_rng"])  # dropout's draws continue as in an uninterrupted fit
            start, log = state["step"], state["log"]
    critic.train()
    with Progress(disable=not progress) as bar:
        task = bar.add_task(f"train critic ({name})", total=cfg.steps, completed=start)
        for step in range(start, cfg.steps):
            pick = torch.randint(0, len(vectors), (cfg.batch_size,), generator=gen)
            logits = critic.head_logits(feats[feat_idx[pick]], vectors[pick])
            loss = _loss(critic, logits, targets[pick], pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if step % 100 == 0:
                log.append({"step": step, "loss": float(loss.detach())})
            if state_path is not None and ((step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps):
                torch.save({"key": key, "critic": critic.state_dict(), "opt": opt.state_dict(),
                            "sched": sched.state_dict(), "gen": gen.get_state(), "torch_rng": torch.get_rng_state(),
                            "step": step + 1, "log": log},
                           state_path)
            bar.advance(task)
    critic.eval()
    return log


def _pairs(data, views, encoder, min_part_points: int):
    """BPS features of every (object, view, part) and every grasp's pairs with them."""
    from ifgrasp.grasp.diffusion.train import build_pairs

    keep = np.ones(len(data["lift"]), bool)
    feats, feat_idx, vectors, grasp_idx = build_pairs(data, views, encoder, keep, min_part_points,
                                                      return_grasp_index=True)
    return torch.as_tensor(feats), torch.as_tensor(feat_idx), torch.as_tensor(vectors), grasp_idx


def labelled_shards(cfg: CriticConfig) -> list[Path]:
    """The shards of ``cfg.dataset`` the critic learns from: with ``labels: v2`` only those whose stored
    validation settings are the current ones (``dataset_config``'s; the test ``ifgrasp revalidate`` uses),
    so a dataset being re-validated contributes its finished shards; ``InputError`` when none is."""
    from ifgrasp.grasp.dataset import DatasetConfig, shard_files, stale_shards

    folder = Path(cfg.dataset)
    files = shard_files(folder)
    if cfg.labels == "any" or not files:
        return files
    from ifgrasp.paths import CONFIG_DIR

    ds_path = Path(cfg.dataset_config) if cfg.dataset_config else CONFIG_DIR / "teacher_dataset.yaml"
    dataset_cfg = DatasetConfig.from_yaml(ds_path) if ds_path.is_file() else DatasetConfig()
    stale = set(stale_shards(folder, dataset_cfg))
    current = [f for f in files if f not in stale]
    if not current:
        raise InputError(f"none of the {len(files)} shards of {folder} carries labels of the current validation "
                         f"settings ({ds_path}): run `ifgrasp revalidate --out {folder}`, or set labels: any")
    return current


def train_critic(cfg: CriticConfig, out: Path, progress: bool = True) -> dict:
    """Fit the critic on every teacher grasp of the labelled shards (:func:`labelled_shards`); writes
    ``out/critic.pt`` and returns a summary. Resumable: ``out/critic_state*.pt`` hold the fits' progress.

    With ``holdout_seed`` set, a first fit leaves that object seed out and reports, on its pairs (objects
    the fit never saw), the ROC AUC of lift of the score and of each head; the saved critic is then
    fitted on everything."""
    from ifgrasp.grasp.dataset import load_dataset
    from ifgrasp.grasp.diffusion.views import load_views

    torch.manual_seed(cfg.seed)
    files = labelled_shards(cfg)
    data = load_dataset(Path(cfg.dataset), files)
    if not data:
        raise InputError(f"teacher dataset {cfg.dataset} is empty (run `ifgrasp synth` first)")
    views = load_views(Path(cfg.views))
    t0 = time.perf_counter()
    common = dict(width=cfg.width, dropout=cfg.dropout, heads=cfg.heads, score_weights=cfg.score_weights)
    if cfg.encoder == "points":
        hyper = dict(encoder="points", n_cloud=cfg.n_cloud, n_part=cfg.n_part, point_width=cfg.point_width, **common)
    else:
        hyper = dict(n_basis=cfg.n_basis, radius_m=cfg.radius_m, **common)
    from ifgrasp.grasp.diffusion.encoding import PointSubset

    # the fixed encoder (no torch RNG used: BPS's basis is seeded)
    encoder = PointSubset(cfg.n_cloud, cfg.n_part) if cfg.encoder == "points" else BPSEncoder(cfg.n_basis, cfg.radius_m)
    feats, fidx, vec, gidx = _pairs(data, views, encoder, cfg.min_part_points)  # one build: every fit reuses it
    targets = torch.as_tensor(targets_of(data, cfg.heads)[gidx])
    lift = data["lift"].astype(bool)
    summary: dict = {"shards": len(files), "grasps": int(len(lift)), "lifted": int(lift.sum()),
                     "labels": cfg.labels, "categories": sorted({str(c) for c in data["category"]}),
                     "objects": int(len({(c, o) for c, o in zip(data["category"], data["object_seed"])}))}
    out.mkdir(parents=True, exist_ok=True)
    if cfg.holdout_seed is not None:
        held = torch.as_tensor(data["object_seed"][gidx] == cfg.holdout_seed)  # (P,) pairs of unseen objects
        probe = make_critic(hyper)
        _fit(probe, feats, fidx[~held], vec[~held], targets[~held], cfg, progress,
             out / "critic_state_holdout.pt", "holdout")
        with torch.no_grad():
            heads = torch.sigmoid(probe.head_logits(feats[fidx[held]], vec[held]))
            score = (heads @ probe.score_weights).numpy()
        y = lift[gidx[held.numpy()]]
        summary["holdout_seed"] = cfg.holdout_seed
        summary["holdout_pairs"] = int(held.sum())
        summary["holdout_lifted_pairs"] = int(y.sum())
        summary["holdout_auc_lift"] = roc_auc(score, y)
        summary["holdout_auc_lift_per_head"] = {h: roc_auc(heads[:, i].numpy(), y) for i, h in enumerate(cfg.heads)}
    critic = make_critic(hyper)
    log = _fit(critic, feats, fidx, vec, targets, cfg, progress, out / "critic_state.pt", "all")
    summary.update(pairs=int(len(vec)), steps=cfg.steps, final_loss=log[-1]["loss"] if log else None,
                   train_s=time.perf_counter() - t0, params=sum(p.numel() for p in critic.parameters()))
    save_critic(critic, out / "critic.pt", {"summary": summary, "config": cfg.model_dump()})
    (out / "critic_log.json").write_text(json.dumps({"summary": summary, "log": log}, indent=1))
    return summary


def top_k_mean(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Mean label of the ``k`` best-scored items, ties at the k-th score broken at random (their expected
    share): a critic whose scores saturate to equal values gets the tied items' mean, not an index order."""
    k = min(k, len(scores))
    threshold = np.sort(scores)[::-1][k - 1]
    above, tied = scores > threshold, scores == threshold
    labels = np.asarray(labels, np.float64)
    return float((labels[above].sum() + (k - above.sum()) * labels[tied].mean()) / k)


def ranking_quality(critics: dict[str, GraspCritic], dataset: Path, views_dir: Path, min_part_points: int = 16,
                    ks: tuple[int, ...] = (1, 8)) -> dict:
    """How well each critic ranks the teacher's grasps of ``dataset`` seen from ``views_dir`` (held-out
    objects: ``data/teacher/heldout`` with ``data/views/heldout``) against their stored outcomes.

    Per critic: ROC AUC of the judge's lift and of ``v2`` (lift with exact penetration and self-penetration
    <= 1 mm) over every (view, grasp) pair, and per (object, part, view) group the mean lift of its top-k
    by score ("precision@k"), beside the groups' base rate and the share of groups where any grasp lifts;
    overall, per category and for the groups of categories that have lifts."""
    from ifgrasp.grasp.dataset import load_dataset
    from ifgrasp.grasp.diffusion.views import load_views

    data = load_dataset(Path(dataset))
    if not data:
        raise InputError(f"teacher dataset {dataset} is empty")
    views = load_views(Path(views_dir))
    lift = data["lift"].astype(bool)
    passed = lift & (_clear(data) == 1)
    scores, pairs = {}, None
    for name, critic in critics.items():
        # each critic has its own basis; the pairs (and their order) are the same for every critic
        feats, fidx, vec, gidx = _pairs(data, views, critic.encoder, min_part_points)
        if pairs is None:
            pairs = (fidx.numpy(), gidx)
        with torch.no_grad():
            scores[name] = np.concatenate([critic.score_from_features(feats[fidx[i:i + 8192]], vec[i:i + 8192]).numpy()
                                           for i in range(0, len(vec), 8192)])
    fidx, gidx = pairs
    y, y2, cat = lift[gidx], passed[gidx], data["category"][gidx]

    def report(sel: np.ndarray) -> dict:
        groups = [np.flatnonzero(sel & (fidx == f)) for f in np.unique(fidx[sel])]
        out = {"pairs": int(sel.sum()), "lifted_pairs": int(y[sel].sum()), "groups": len(groups),
               "base_rate": float(y[sel].mean()) if sel.any() else float("nan"),
               "groups_with_a_lift": float(np.mean([y[g].any() for g in groups])) if groups else float("nan")}
        for name, sc in scores.items():
            m = {"auc_lift": roc_auc(sc[sel], y[sel]), "auc_v2": roc_auc(sc[sel], y2[sel])}
            for k in ks:
                m[f"precision_at_{k}"] = float(np.mean([top_k_mean(sc[g], y[g], k) for g in groups])) \
                    if groups else float("nan")
            out[name] = m
        return out

    everything = np.ones(len(y), bool)
    lifting = np.isin(cat, np.unique(cat[y]))
    return {"overall": report(everything), "categories_with_lifts": report(lifting),
            "per_category": {str(c): report(cat == c) for c in sorted(set(cat))}}
