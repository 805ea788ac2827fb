"""Distil the teacher's validated grasps into the diffusion student (``ifgrasp train``).

Each training pair is (one camera view of an object, one validated grasp of one of its parts): the
view's partial cloud and the part's points condition the model, the grasp expressed in that camera
frame (relative to the observed part's centroid) is the target. BPS features depend only on
(view, part), so they are computed once and the loop trains the denoiser alone: minutes on a CPU.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.errors import InputError, ModelError
from ifgrasp.geometry import matrix_to_rot6d
from ifgrasp.grasp.diffusion.augment import AugmentConfig, augment_view
from ifgrasp.grasp.diffusion.policy import GraspDiffusion

#: Identifies the hand a checkpoint was trained for; a checkpoint for another hand is refused.
HAND_ID = "leap_hand_right/v1"


class ModelConfig(Config):
    encoder: Literal["bps", "points"] = Field("bps", description="bps: distances from fixed basis points to the "
                                              "cloud and the part; points: a PointNet over even subsets of both")
    n_basis: int = Field(512, gt=0, description="BPS basis points")
    radius_m: float = Field(0.15, gt=0, description="BPS ball radius around the part centroid")
    n_cloud: int = Field(128, gt=0, description="points encoder: cloud points (even subset)")
    n_part: int = Field(64, gt=0, description="points encoder: part points (even subset)")
    point_width: int = Field(128, gt=0, description="points encoder: per-point feature width")
    width: int = Field(384, gt=0, description="denoiser MLP width")
    depth: int = Field(4, gt=0, description="residual blocks")
    num_train_steps: int = Field(100, gt=1, description="diffusion steps of the training schedule")


class TrainConfig(Config):
    dataset: str = Field("data/teacher", description="teacher dataset folder")
    views: str = Field("data/views/train", description="camera views of the training objects")
    steps: int = Field(20000, gt=0, description="optimiser steps")
    batch_size: int = Field(256, gt=0, description="pairs per step")
    lr: float = Field(1e-3, gt=0, description="AdamW learning rate (cosine decay)")
    weight_decay: float = Field(1e-4, ge=0, description="AdamW weight decay")
    seed: int = Field(0, description="seed of initialisation, sampling and pairs")
    checkpoint_every: int = Field(5000, gt=0, description="steps between checkpoints")
    min_part_points: int = Field(16, gt=0, description="views showing fewer part points are skipped")
    teacher_filter: Literal["v2", "v1", "v2_else_v1", "v2_with_v1"] = Field(
        "v2", description="which judge's validated grasps to learn from (ifgrasp.grasp.evaluate.FilterConfig; v1: "
        "before issue 21; v2_else_v1: per (category, part), v2's where it kept at least min_v2_grasps, else v1's; "
        "v2_with_v1: both, a task with at least min_v2_grasps drawing v2_share of its pairs from its v2 grasps)")
    min_v2_grasps: int = Field(5, ge=1, description="v2_else_v1, v2_with_v1: v2-validated grasps a task needs to "
                               "learn from them")
    v2_share: float = Field(0.5, ge=0, le=1, description="v2_with_v1: share of such a task's draws from its v2 grasps")
    balance_tasks: bool = Field(True, description="draw pairs with weight 1 / count of their (category, part)")
    w_physics: float = Field(0.0, ge=0, description="weight of the physics loss on the predicted clean grasp "
                             "(self-penetration, observed-cloud penetration, fingertip-to-part distance); 0 = off")
    physics_every: int = Field(1, gt=0, description="apply the physics loss every N steps (it costs ~ a forward pass)")
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    resume: bool = Field(True, description="continue from out/train_state.pt when it exists")
    model: ModelConfig = Field(default_factory=ModelConfig)


def save_checkpoint(policy: GraspDiffusion, path: Path, extra: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"hand": HAND_ID, "hyper": policy.hyper, "state_dict": policy.state_dict(), "extra": extra or {}},
               path)


def read_checkpoint(path: str | Path, kind: str, what: str, label: str, hint: str) -> dict:
    """A checkpoint dict of ``kind`` ("student" | "critic") for this hand; ``ModelError`` naming ``what``
    when the file is missing (with ``hint``), corrupt, of another kind (``label``) or for another hand."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{what} not found: {path} ({hint})")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt file
        raise ModelError(f"cannot read {what} {path}: {exc}") from exc
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or ckpt.get("kind", "student") != kind:
        raise ModelError(f"{path} is not an ifgrasp {label}")
    if ckpt.get("hand") != HAND_ID:
        raise ModelError(f"{path} was trained for hand '{ckpt.get('hand')}', this build drives '{HAND_ID}'")
    return ckpt


def load_checkpoint(path: str | Path) -> GraspDiffusion:
    """Load a student checkpoint; ``ModelError`` when missing, corrupt, or for another hand."""
    ckpt = read_checkpoint(path, "student", "student model", "student checkpoint", "train one with `ifgrasp train`")
    try:
        policy = GraspDiffusion(**ckpt["hyper"])
        policy.load_state_dict(ckpt["state_dict"])
        # network evaluations the checkpoint was made for (a distilled flow model records its own)
        policy.default_steps = int((ckpt.get("extra") or {}).get("default_steps", 8))
    except (TypeError, RuntimeError, KeyError) as exc:  # hyperparameters and weights that do not fit
        raise ModelError(f"student checkpoint {path} does not match this build's model: {exc}") from exc
    return policy.eval()


def build_pairs(data: dict[str, np.ndarray], views: dict, encoder, keep: np.ndarray, min_part_points: int,
                return_grasp_index: bool = False, clouds: dict | None = None, cloud_points: int = 128,
                part_points: int = 64, augment: AugmentConfig | None = None):
    """Features (F, C) per (object, view, part) from ``encoder`` (BPS or point subsets), and per pair the
    feature index and the grasp vector (P, 25); with ``return_grasp_index`` also each pair's row in ``data`` (P,).
    ``clouds`` (a dict) receives per feature "cloud" (F, cloud_points, 3) and "part" (F, part_points, 3):
    even subsets of the view's points and part points relative to the part centre (camera axes, m).
    ``augment`` adds its ``copies`` augmented copies of every (view, part) (:func:`.augment.augment_view`),
    each with its own features and its grasps moved with it."""
    from ifgrasp.sim.objects import make_object

    rng = np.random.default_rng(augment.seed) if augment is not None else None

    feats, vectors, feat_of_pair, grasp_of_pair = [], [], [], []
    sub_cloud, sub_part = [], []
    for (category, seed), v in views.items():
        sel = keep & (data["category"] == category) & (data["object_seed"] == seed)
        if not sel.any():
            continue
        obj = make_object(category, seed)
        for part in np.unique(data["part"][sel]):
            g = np.flatnonzero(sel & (data["part"] == part))
            part_idx = obj.part_index(str(part))
            for view in range(v["points"].shape[0]):
                mask = v["point_part"][view] == part_idx
                if mask.sum() < min_part_points:
                    continue
                copies = [(v["points"][view], mask, v["T_camera_object"][view])]
                for _ in range(augment.copies if augment is not None else 0):
                    copies.append(augment_view(*copies[0], rng, augment, min_part_points))
                for points, mask, T in copies:
                    pts = torch.as_tensor(points)[None]
                    with torch.no_grad():
                        f, center = encoder(pts, torch.as_tensor(mask)[None])
                    pos_c = data["wrist_pos_m"][g] @ T[:3, :3].T + T[:3, 3]
                    rot_c = np.einsum("ij,bjk->bik", T[:3, :3], data["wrist_rot"][g])
                    vec = np.concatenate([pos_c - center.numpy(), matrix_to_rot6d(rot_c), data["joints_rad"][g]], -1)
                    feat_of_pair.append(np.full(len(g), len(feats)))
                    grasp_of_pair.append(g)
                    feats.append(f[0].numpy())
                    vectors.append(vec.astype(np.float32))
                    if clouds is not None:
                        rel = points - center.numpy().reshape(3)
                        sub_cloud.append(rel[np.linspace(0, len(rel) - 1, cloud_points).astype(int)])
                        part = rel[mask]
                        sub_part.append(part[np.linspace(0, len(part) - 1, part_points).astype(int)])
    if not feats:
        raise InputError("no (view, validated grasp) pair: is the teacher dataset empty, or do the views miss its objects?")
    if clouds is not None:
        clouds["cloud"] = np.stack(sub_cloud).astype(np.float32)
        clouds["part"] = np.stack(sub_part).astype(np.float32)
    out = np.stack(feats), np.concatenate(feat_of_pair), np.concatenate(vectors)
    return (*out, np.concatenate(grasp_of_pair)) if return_grasp_index else out


def teacher_grasps(data: dict[str, np.ndarray], teacher_filter: str, min_v2_grasps: int = 5) -> np.ndarray:
    """(N,) bool: the grasps a student learns from (``TrainConfig.teacher_filter``)."""
    from ifgrasp.grasp.evaluate import v1_validated_mask

    if teacher_filter == "v1":  # the labels the v1 judge gave, kept as v1_* where a re-validation replaced them
        return v1_validated_mask(data)
    v2, enough = v2_grasps(data, min_v2_grasps)
    if teacher_filter == "v2":
        return v2
    if teacher_filter == "v2_with_v1":
        return (v2 & enough) | v1_validated_mask(data)
    return np.where(enough, v2, v1_validated_mask(data))


def v2_grasps(data: dict[str, np.ndarray], min_v2_grasps: int) -> tuple[np.ndarray, np.ndarray]:
    """(N,) bool twice: the v2-validated grasps, and the grasps of tasks (category, part) with at least
    ``min_v2_grasps`` of them."""
    from ifgrasp.grasp.evaluate import FilterConfig, validated_mask

    v2 = validated_mask(data, FilterConfig())
    _, inverse = np.unique(task_names(data["category"], data["part"]), return_inverse=True)
    return v2, (np.bincount(inverse, weights=v2) >= min_v2_grasps)[inverse]


def task_names(categories: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """(N,) "category/part" strings."""
    return np.char.add(np.char.add(categories.astype(str), "/"), parts.astype(str))


def task_weights(categories: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """(P,) sampling weight per pair: 1 / number of pairs of its (category, part), so every task is
    drawn equally often whatever its share of the data (handles and triggers not drowned by boxes)."""
    _, inverse, counts = np.unique(task_names(categories, parts), return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse]


def v2_share_weights(weights: np.ndarray, categories: np.ndarray, parts: np.ndarray, is_v2: np.ndarray,
                     mixed: np.ndarray, v2_share: float) -> np.ndarray:
    """(P,) ``weights`` re-split within each task whose pairs are ``mixed`` (P,) bool (its grasps both
    v2- and v1-validated): its v2 pairs (``is_v2``) then carry ``v2_share`` of the task's total weight,
    the others the rest; each task's total is unchanged, and so is every weight of a task that is not
    mixed or has pairs on one side only."""
    _, inverse = np.unique(task_names(categories, parts), return_inverse=True)
    w = np.asarray(weights, np.float64)
    total = np.bincount(inverse, weights=w)
    is_v2 = np.asarray(is_v2, bool)
    v2_total = np.bincount(inverse, weights=w * is_v2, minlength=len(total))[inverse]
    own = np.where(is_v2, v2_total, total[inverse] - v2_total)  # (P,) the total of the pair's own side
    share = np.where(is_v2, v2_share, 1.0 - v2_share)
    both_sides = np.asarray(mixed, bool) & (own > 0) & (total[inverse] - own > 0)
    return np.where(both_sides, w * share * total[inverse] / np.maximum(own, 1e-300), w)


def physics_loss(policy: GraspDiffusion, terms, x0_hat: torch.Tensor, cloud: torch.Tensor, part: torch.Tensor,
                 signal: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of the physics energy (:mod:`.physics`, metres x weights) of the predicted
    clean grasps ``x0_hat`` (B, 25, normalised), weighted by each sample's signal level ``signal`` (B,)
    (alpha-bar: at high noise the prediction is a blur and is not penalised). ``cloud`` (B, M, 3) and
    ``part`` (B, Q, 3) are relative to the part centre, like the grasp translation."""
    from ifgrasp.geometry import rot6d_to_matrix

    v = policy.denormalize(x0_hat)
    pos, rot, q = v[:, :3], rot6d_to_matrix(v[:, 3:9]), v[:, 9:]
    c = terms.cfg
    e = c.w_self * terms.self_collision.energy(q, margin=c.self_margin_m)
    e = e + c.w_cloud * terms.cloud_depth(pos, rot, q, cloud).sum(-1)
    e = e + c.w_part * torch.relu(terms.tip_distance(pos, rot, q, part) - c.tip_tolerance_m).mean(-1)
    return (signal * e).mean()


def train(cfg: TrainConfig, out: Path, progress: bool = True) -> dict:
    """Train the student; writes ``out/student.pt`` (+ ``out/train_log.json``, ``out/train_state.pt``
    to resume) and returns a summary."""
    from rich.progress import Progress

    from ifgrasp.grasp.dataset import load_dataset
    from ifgrasp.grasp.diffusion.physics import PhysicsTerms
    from ifgrasp.grasp.diffusion.views import load_views

    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    data = load_dataset(Path(cfg.dataset))
    if not data:
        raise InputError(f"teacher dataset {cfg.dataset} is empty (run `ifgrasp synth` first)")
    views = load_views(Path(cfg.views))
    policy = GraspDiffusion(**cfg.model.model_dump())
    t0 = time.perf_counter()
    if cfg.teacher_filter != "v1" and "exact_penetration_m" not in data:
        raise InputError(f"teacher dataset {cfg.dataset} has no judge-v2 labels: `ifgrasp revalidate --out "
                         f"{cfg.dataset}` first, or train on the v1 labels with teacher_filter: v1")
    keep = teacher_grasps(data, cfg.teacher_filter, cfg.min_v2_grasps)
    clouds: dict = {}
    feats, feat_idx, vectors, grasp_idx = build_pairs(data, views, policy.encoder, keep, cfg.min_part_points,
                                                      return_grasp_index=True, clouds=clouds, augment=cfg.augment)
    policy.set_normalizer(torch.as_tensor(vectors))
    feats_t, idx_t, vec_t = torch.as_tensor(feats), torch.as_tensor(feat_idx), torch.as_tensor(vectors)
    cloud_t, part_t = torch.as_tensor(clouds["cloud"]), torch.as_tensor(clouds["part"])
    cats, parts = data["category"][grasp_idx], data["part"][grasp_idx]
    weights = task_weights(cats, parts) if cfg.balance_tasks else np.ones(len(vec_t))
    if cfg.teacher_filter == "v2_with_v1":
        v2, enough = v2_grasps(data, cfg.min_v2_grasps)
        weights = v2_share_weights(weights, cats, parts, v2[grasp_idx], enough[grasp_idx], cfg.v2_share)
    weights = torch.as_tensor(weights)
    terms = PhysicsTerms() if cfg.w_physics > 0 else None
    opt = torch.optim.AdamW(policy.denoiser.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    log: list[dict] = []
    start = 0
    state_path = out / "train_state.pt"
    if cfg.resume and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        if state["train_config"] == cfg.model_dump():
            policy.load_state_dict(state["policy"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            gen.set_state(state["gen"])
            start, log = state["step"], state["log"]
    policy.train()
    with Progress(disable=not progress) as bar:
        task = bar.add_task("train student", total=cfg.steps, completed=start)
        for step in range(start, cfg.steps):
            pick = torch.multinomial(weights, cfg.batch_size, replacement=True, generator=gen)
            use_physics = terms is not None and step % cfg.physics_every == 0
            if use_physics:
                loss, x0_hat, signal = policy.loss_from_features(feats_t[idx_t[pick]], vec_t[pick], gen,
                                                                 return_x0=True)
                phys = physics_loss(policy, terms, x0_hat, cloud_t[idx_t[pick]], part_t[idx_t[pick]], signal)
                loss = loss + cfg.w_physics * phys
            else:
                loss = policy.loss_from_features(feats_t[idx_t[pick]], vec_t[pick], gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if step % 100 == 0:
                value = float(loss.detach())
                entry = {"step": step, "loss": value}
                if use_physics:
                    entry["physics"] = float(phys.detach())
                log.append(entry)
                bar.update(task, description=f"train student (loss {value:.3f})")
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
                save_checkpoint(policy, out / "student.pt", {"step": step + 1, "train_config": cfg.model_dump()})
                torch.save({"policy": policy.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                            "gen": gen.get_state(), "step": step + 1, "log": log, "train_config": cfg.model_dump()},
                           state_path)
            bar.advance(task)
    policy.eval()
    tasks = int(len(np.unique(task_names(cats, parts)))) if cfg.balance_tasks else None
    summary = {"pairs": int(len(vec_t)), "views_features": int(len(feats_t)), "steps": cfg.steps,
               "resumed_from": start, "tasks": tasks,
               "final_loss": log[-1]["loss"] if log else None, "train_s": time.perf_counter() - t0,
               "params": sum(p.numel() for p in policy.parameters())}
    (out / "train_log.json").write_text(json.dumps({"summary": summary, "log": log}, indent=1))
    return summary
