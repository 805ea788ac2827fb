"""Few-step student by distillation (``ifgrasp distill``): rectified flow on the DDIM teacher's couplings.

The teacher is a trained DDIM student (``sampler: ddim``). Its deterministic ``teacher_steps``-step
DDIM maps each noise z to one grasp x = Phi(z | cloud). Reflow (Liu et al. 2022, "Flow straight and
fast"; as InstaFlow does from a pretrained diffusion model's ODE) trains a velocity field on the
straight paths x_s = (1 - s) z + s x of those couplings, target v = x - z; Euler with 1-4 steps then
follows nearly straight paths, and one step is the direct noise -> grasp map (at s = 0, x_s = z and
the regression target is Phi(z) - z itself). Optionally (``w_endpoint``) the Euler unroll of a few
steps is also trained end to end against Phi(z).

Conditions: every (training object, functional part, camera view) of ``views`` showing the part
(>= ``min_part_points`` points), the teacher dataset not needed: the couplings are the teacher's own
samples, so objects without validated teacher grasps are covered too. ``holdout_share`` of the
conditions (whole objects) are kept out of training to measure the few-step error against the teacher
(``endpoint_rmse``, normalised grasp units) for the distilled and the base model at the same steps.

Everything is resumable: couplings are written per chunk (``couplings.pt``), training state every
``checkpoint_every`` steps (``distill_state.pt``); the same command continues.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.errors import InputError, ModelError
from ifgrasp.grasp.diffusion.policy import GRASP_DIM, GraspDiffusion


class DistillConfig(Config):
    teacher: str = Field("models/student/student.pt", description="DDIM student checkpoint to distil")
    views: str = Field("data/views/train", description="camera views of the training objects (conditions)")
    teacher_steps: int = Field(50, gt=0, description="DDIM steps of the teacher's couplings (its many-step sampler)")
    noises_per_condition: int = Field(64, gt=0, description="couplings (noise, teacher grasp) per condition")
    steps: int = Field(4000, gt=0, description="optimiser steps")
    batch_size: int = Field(512, gt=0, description="couplings per step")
    lr: float = Field(3e-4, gt=0, description="AdamW learning rate (cosine decay)")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    grid_steps: tuple[int, ...] = Field((1, 2, 4), description="Euler step counts the student is made for: their "
                                        "grid times s = i / n get ``grid_share`` of the draws")
    grid_share: float = Field(0.5, ge=0, le=1, description="share of path times drawn on the grids, the rest uniform")
    w_endpoint: float = Field(0.0, ge=0, description="weight of the end-to-end loss of an n-step Euler unroll "
                              "(n drawn from grid_steps) against the teacher's grasp; 0 = reflow only")
    holdout_share: float = Field(0.1, ge=0, lt=1, description="share of training objects kept out to measure the error")
    min_part_points: int = Field(16, gt=0, description="views showing fewer part points are skipped")
    chunk_conditions: int = Field(64, gt=0, description="conditions per saved chunk of couplings")
    checkpoint_every: int = Field(500, gt=0, description="steps between checkpoints")
    default_steps: int = Field(4, gt=0, description="Euler steps recorded in the checkpoint as its default")
    seed: int = Field(0, description="seed of noises, draws and the hold-out split")
    resume: bool = Field(True, description="continue from out/couplings.pt and out/distill_state.pt when they exist")


def training_conditions(views: dict, encoder, min_part_points: int) -> tuple[np.ndarray, list[str]]:
    """BPS features (F, C) of every (object, functional part, view) showing the part, and per feature
    its object key "category_seed" (for the hold-out split)."""
    from ifgrasp.grasp.dataset import TASKS
    from ifgrasp.sim.objects import make_object

    feats, keys = [], []
    for (category, seed), v in sorted(views.items()):
        obj = make_object(category, seed)
        for part, _avoid in TASKS[category]:
            idx = obj.part_index(part)
            for view in range(v["points"].shape[0]):
                mask = v["point_part"][view] == idx
                if mask.sum() < min_part_points:
                    continue
                with torch.no_grad():
                    f, _ = encoder(torch.as_tensor(v["points"][view])[None], torch.as_tensor(mask)[None])
                feats.append(f[0].numpy())
                keys.append(f"{category}_{seed}")
    if not feats:
        raise InputError("no (object, part, view) condition: are the training views empty? (ifgrasp views --split train)")
    return np.stack(feats).astype(np.float32), keys


@torch.no_grad()
def teacher_couplings(teacher: GraspDiffusion, feats: torch.Tensor, noises: int, steps: int,
                      gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise z (F * noises, 25) and the teacher's ``steps``-step DDIM grasp from it (normalised),
    ``noises`` per feature row of ``feats`` (F, C), condition-major."""
    cond = feats.repeat_interleave(noises, 0)
    z = torch.randn(len(cond), GRASP_DIM, generator=gen)
    return z, teacher.normalize(teacher.sample_from_features(cond, z, steps))


def student_from_teacher(teacher: GraspDiffusion) -> GraspDiffusion:
    """A flow model with the teacher's architecture, weights (initialisation), basis and normaliser."""
    if teacher.sampler != "ddim":
        raise ModelError(f"the teacher must be a DDIM student (sampler 'ddim'), got '{teacher.sampler}'")
    student = GraspDiffusion(**{**teacher.hyper, "sampler": "flow"})
    student.load_state_dict(teacher.state_dict())
    return student


@torch.no_grad()
def endpoint_rmse(model: GraspDiffusion, cond: torch.Tensor, z: torch.Tensor, x: torch.Tensor, steps: int) -> float:
    """RMS distance (normalised grasp units) between ``model``'s ``steps``-step sample from z and x."""
    out = model.normalize(model.sample_from_features(cond, z, steps))
    return float(((out - x) ** 2).mean().sqrt())


def _couplings(cfg: DistillConfig, teacher: GraspDiffusion, out: Path, progress: bool) -> dict:
    """Conditions + couplings, resumed chunk by chunk from ``out/couplings.pt``."""
    from rich.progress import Progress

    from ifgrasp.grasp.diffusion.views import load_views

    path = out / "couplings.pt"
    key = {k: getattr(cfg, k) for k in ("teacher", "views", "teacher_steps", "noises_per_condition",
                                         "min_part_points", "seed")}
    state = torch.load(path, map_location="cpu", weights_only=False) if cfg.resume and path.is_file() else None
    if state is None or state["key"] != key:
        views = load_views(Path(cfg.views))
        if not views:
            raise InputError(f"no camera views in {cfg.views} (run `ifgrasp views --split train`)")
        feats, objects = training_conditions(views, teacher.encoder, cfg.min_part_points)
        state = {"key": key, "feats": torch.as_tensor(feats), "objects": objects, "z": [], "x": [], "done": 0,
                 "gen": torch.Generator().manual_seed(cfg.seed).get_state()}
    gen = torch.Generator()
    gen.set_state(state["gen"])
    n = len(state["feats"])
    with Progress(disable=not progress) as bar:
        task = bar.add_task(f"teacher couplings ({cfg.teacher_steps} DDIM steps)", total=n, completed=state["done"])
        while state["done"] < n:
            lo, hi = state["done"], min(n, state["done"] + cfg.chunk_conditions)
            z, x = teacher_couplings(teacher, state["feats"][lo:hi], cfg.noises_per_condition, cfg.teacher_steps, gen)
            state["z"].append(z)
            state["x"].append(x)
            state["done"], state["gen"] = hi, gen.get_state()
            out.mkdir(parents=True, exist_ok=True)
            torch.save(state, path)
            bar.update(task, completed=hi)
    return state


def distill(cfg: DistillConfig, out: Path, progress: bool = True) -> dict:
    """Distil ``cfg.teacher`` into a flow student: writes ``out/student_flow.pt`` (+ ``distill_log.json``,
    resumable ``couplings.pt`` and ``distill_state.pt``); returns a summary with the hold-out errors."""
    from rich.progress import Progress

    from ifgrasp.grasp.diffusion.train import load_checkpoint, save_checkpoint
    from ifgrasp.paths import REPO_ROOT

    t0 = time.perf_counter()
    teacher_path = Path(cfg.teacher) if Path(cfg.teacher).is_absolute() or Path(cfg.teacher).exists() \
        else REPO_ROOT / cfg.teacher
    teacher = load_checkpoint(teacher_path)
    bad = [n for n in cfg.grid_steps if n < 1]
    if bad or not cfg.grid_steps:
        raise InputError(f"grid_steps must be positive step counts such as [1, 2, 4]; got {list(cfg.grid_steps)}")
    data = _couplings(cfg, teacher, out, progress)
    feats = data["feats"]
    per = cfg.noises_per_condition
    z, x = torch.cat(data["z"]), torch.cat(data["x"])
    cond_idx = torch.arange(len(feats)).repeat_interleave(per)
    objects = sorted(set(data["objects"]))
    rng = np.random.default_rng(cfg.seed)
    held = set(rng.choice(objects, size=int(round(cfg.holdout_share * len(objects))), replace=False).tolist())
    held_row = torch.as_tensor([o in held for o in data["objects"]])
    train_rows = torch.nonzero(~held_row[cond_idx]).flatten()
    val_rows = torch.nonzero(held_row[cond_idx]).flatten()
    if len(train_rows) == 0:
        raise InputError("every condition was held out: lower holdout_share")

    student = student_from_teacher(teacher)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    opt = torch.optim.AdamW(student.denoiser.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    grid = torch.as_tensor([i / n for n in cfg.grid_steps for i in range(n)], dtype=torch.float32)
    log: list[dict] = []
    start = 0
    state_path = out / "distill_state.pt"
    if cfg.resume and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        if state["distill_config"] == cfg.model_dump(mode="json"):
            student.load_state_dict(state["policy"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            gen.set_state(state["gen"])
            start, log = state["step"], state["log"]

    def validation() -> dict:
        if len(val_rows) == 0:
            return {}
        rows = val_rows[:: max(1, len(val_rows) // 4096)]
        c, zz, xx = feats[cond_idx[rows]], z[rows], x[rows]
        student.eval()
        res = {f"flow_{n}": endpoint_rmse(student, c, zz, xx, n) for n in cfg.grid_steps}
        student.train()
        return res

    student.train()
    with Progress(disable=not progress) as bar:
        task = bar.add_task("distil (reflow)", total=cfg.steps, completed=start)
        for step in range(start, cfg.steps):
            pick = train_rows[torch.randint(0, len(train_rows), (cfg.batch_size,), generator=gen)]
            c, z0, x1 = feats[cond_idx[pick]], z[pick], x[pick]
            on_grid = torch.rand(cfg.batch_size, generator=gen) < cfg.grid_share
            s = torch.where(on_grid, grid[torch.randint(0, len(grid), (cfg.batch_size,), generator=gen)],
                            torch.rand(cfg.batch_size, generator=gen))
            xs = (1 - s[:, None]) * z0 + s[:, None] * x1
            loss = ((student.velocity(xs, s, c) - (x1 - z0)) ** 2).mean()
            if cfg.w_endpoint > 0:
                n = int(cfg.grid_steps[int(torch.randint(0, len(cfg.grid_steps), (1,), generator=gen))])
                xe = z0
                for i in range(n):
                    xe = xe + student.velocity(xe, torch.full_like(s, i / n), c) / n
                loss = loss + cfg.w_endpoint * ((xe - x1) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if step % 100 == 0:
                log.append({"step": step, "loss": float(loss.detach())})
                bar.update(task, description=f"distil (reflow, loss {float(loss.detach()):.4f})")
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
                log.append({"step": step + 1, **validation()})
                if progress:  # a plain line too: the bar is drawn only on a terminal, logs keep these
                    print(f"distil step {step + 1}/{cfg.steps}: {json.dumps(log[-2:])}", flush=True)
                save_checkpoint(student, out / "student_flow.pt",
                                {"step": step + 1, "default_steps": cfg.default_steps, "teacher": str(cfg.teacher),
                                 "distill_config": cfg.model_dump(mode="json")})
                torch.save({"policy": student.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                            "gen": gen.get_state(), "step": step + 1, "log": log,
                            "distill_config": cfg.model_dump(mode="json")}, state_path)
            bar.advance(task)
    student.eval()
    base = {}
    if len(val_rows):
        rows = val_rows[:: max(1, len(val_rows) // 4096)]
        for n in sorted(set(cfg.grid_steps) | {8}):
            base[f"ddim_{n}"] = endpoint_rmse(teacher, feats[cond_idx[rows]], z[rows], x[rows], n)
    summary = {"conditions": int(len(feats)), "objects": len(objects), "held_out_objects": sorted(held),
               "couplings_train": int(len(train_rows)), "couplings_held_out": int(len(val_rows)),
               "steps": cfg.steps, "resumed_from": start, "final_loss": next((e["loss"] for e in reversed(log)
                                                                             if "loss" in e), None),
               "endpoint_rmse_held_out": {**validation(), **base}, "wall_s": time.perf_counter() - t0}
    (out / "distill_log.json").write_text(json.dumps({"summary": summary, "log": log}, indent=1))
    return summary
