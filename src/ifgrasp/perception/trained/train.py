"""Training loop of the trained perception network (``ifgrasp train-perception``-style entry).

Per-point cross-entropy on category and part (part logits masked to the ground-truth category's
parts; points off any object are ignored), random yaw / scale / jitter augmentation, a fresh random
subset of ``n_points`` of each stored instance every epoch, AdamW + one-cycle cosine schedule over
the steps or over a wall-time budget (``schedule: time``), one CPU thread. With
``network.features: normals`` every stored point also gets its normal and curvature
(``features.py``, cached per shard as ``<shard>.nk<k>.npy``), turned with the yaw augmentation.
``init`` warm-starts from a checkpoint, adding zero-weighted input channels if it had fewer.
Checkpoints hold the model ``state_dict`` plus what the backend needs to rebuild it
(network hyper-parameters and input features, vocabularies, n_points) and the training metrics.

    python -c "from ifgrasp.perception.trained.train import train; train()"
    python -c "from ifgrasp.perception.trained.train import train; train(data_dir='out/perception_data2')"
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.errors import InputError
from ifgrasp.paths import CONFIG_DIR, MODELS_DIR, REPO_ROOT
from ifgrasp.perception.trained.dataset import DatasetConfig, load_shards
from ifgrasp.perception.trained.features import FEATURE_CHANNELS, instance_normals, network_input
from ifgrasp.perception.trained.network import PartNet
from ifgrasp.perception.trained.vocab import PART_ALLOWED, PART_VOCAB
from ifgrasp.sim.objects import CATEGORIES

log = logging.getLogger(__name__)
DEFAULT_YAML = CONFIG_DIR / "perception_trained.yaml"


class NetworkConfig(Config):
    """Section ``network``: PartNet hyper-parameters (stored in the checkpoint)."""

    n_points: int = Field(256, gt=16, description="points per instance fed to the network")
    k: int = Field(16, gt=1, description="neighbours per point in the edge convolutions")
    width: int = Field(64, gt=0, description="per-point feature width")
    global_width: int = Field(256, gt=0, description="global (max-pooled) feature width")
    features: Literal["xyz", "normals"] = Field("xyz", description="input: xyz only, or xyz + local-PCA normal "
                                                "and curvature per point (features.py)")
    normal_k: int = Field(16, gt=2, description="neighbours of the normal / curvature estimate")
    normal_points: int = Field(2048, gt=16, description="points per instance the normals are estimated "
                               "among (= dataset.points_per_instance, so run time sees the training density)")

    @property
    def in_channels(self) -> int:
        return FEATURE_CHANNELS if self.features == "normals" else 3


def training_viewpoint_m() -> np.ndarray:
    """(3,) base-frame camera position the training normals are oriented towards: the nominal
    RealSense pose of ``config/scene.yaml`` (the scenes jitter it by a few cm; run time uses the
    frame's own camera)."""
    from ifgrasp.sim.scene_config import SceneConfig

    return np.asarray(SceneConfig.default().camera.position_m, np.float64)


def load_features(paths: list[Path], k: int) -> np.ndarray:
    """(M, 4) float32 normal + curvature of every stored point of ``paths`` (``load_shards`` order),
    computed per instance and cached next to each shard as ``<shard>.nk<k>.npy``."""
    out = []
    for p in paths:
        cache = p.with_name(p.name.removesuffix(".npz") + f".nk{k}.npy")
        if cache.is_file():
            out.append(np.load(cache))
            continue
        with np.load(p) as z:
            pts, inst = z["points"], z["instance"]
        normals, curv = instance_normals(pts, _instances({"instance": inst}), training_viewpoint_m(), k)
        f = np.concatenate([normals, curv[:, None]], axis=1).astype(np.float32)
        np.save(cache, f)
        out.append(f)
    return np.concatenate(out)


class TrainConfig(Config):
    """Section ``train``."""

    seed: int = Field(0, description="torch / numpy seed")
    epochs: int = Field(20, gt=0, description="passes over the training instances")
    batch_size: int = Field(32, gt=0, description="instances per step")
    lr: float = Field(2e-3, gt=0, description="AdamW peak learning rate (cosine decay to 5%)")
    weight_decay: float = Field(1e-4, ge=0, description="AdamW weight decay")
    part_weight: float = Field(1.0, ge=0, description="weight of the part loss against the category loss")
    scale_jitter: float = Field(0.05, ge=0, description="uniform +-fraction of size augmentation")
    point_jitter_m: float = Field(0.001, ge=0, description="std of per-point jitter, metres")
    max_minutes: float = Field(30.0, gt=0, description="stop after this wall time")
    schedule: Literal["steps", "time"] = Field("steps", description="one-cycle learning rate over the epochs' "
                                               "steps, or over max_minutes of wall time (a shared, loaded CPU: "
                                               "the rate still anneals when fewer epochs fit)")
    threads: int = Field(1, gt=0, description="torch CPU threads")
    out: str = Field(str(MODELS_DIR / "perception" / "trained.pt"), description="checkpoint path")
    init: str | None = Field(None, description="checkpoint to start from (fine-tuning); None: random init")


def one_cycle_lr(progress: float, peak: float, warmup: float = 0.05, div: float = 25.0,
                 final_div: float = 20.0) -> float:
    """Learning rate at ``progress`` in [0, 1] of a cosine one-cycle schedule (torch's
    ``OneCycleLR`` shape: ``peak / div`` up to ``peak`` over ``warmup``, then down to
    ``peak / div / final_div``)."""
    p = min(max(progress, 0.0), 1.0)
    start, end = peak / div, peak / div / final_div
    if p < warmup:
        return start + (peak - start) * (1 - np.cos(np.pi * p / warmup)) / 2
    return end + (peak - end) * (1 + np.cos(np.pi * (p - warmup) / (1 - warmup))) / 2


def warm_start(model: PartNet, path: Path) -> None:
    """Load checkpoint ``path`` into ``model``. An input layer with fewer input channels (an xyz-only
    checkpoint into a model with normal / curvature channels) keeps its weights on the first
    channels and gets zeros on the new ones: the start predicts exactly what the checkpoint did."""
    from ifgrasp.perception.trained.backend import load_model

    src, dst = load_model(path)[0].state_dict(), model.state_dict()
    for key, v in src.items():
        want = dst[key].shape
        if v.shape != want:
            if v.dim() != 2 or v.shape[0] != want[0] or v.shape[1] > want[1]:
                raise InputError(f"cannot start from {path}: {key} has shape {tuple(v.shape)}, the model "
                                 f"needs {tuple(want)} (only extra input channels can be added)")
            src[key] = torch.cat([v, v.new_zeros(want[0], want[1] - v.shape[1])], dim=1)
    model.load_state_dict(src)


def _instances(data: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Row indices of each instance (sorted by instance id)."""
    order = np.argsort(data["instance"], kind="stable")
    cuts = np.flatnonzero(np.diff(data["instance"][order])) + 1
    return np.split(order, cuts)


def sample_batch(data: dict, rows: list[np.ndarray], n: int, rng: np.random.Generator,
                 cfg: TrainConfig | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, n, 3 or 7) network input, (B, n) category, (B, n) part (int64, -1 ignored) for the instances
    ``rows``; augmented when ``cfg`` is given. With ``data["features"]`` (M, 4) normal + curvature,
    the input has them too (normals rotated with the yaw augmentation)."""
    idx = np.stack([r[rng.choice(len(r), n, replace=len(r) < n)] for r in rows])  # (B, n)
    pts = data["points"][idx]  # (B, n, 3)
    feats = data["features"][idx] if "features" in data else None  # (B, n, 4)
    if cfg is not None:
        theta = rng.uniform(-np.pi, np.pi, len(rows))
        c, s = np.cos(theta), np.sin(theta)
        centre = pts.mean(axis=1, keepdims=True) * np.array([1, 1, 0], np.float32)  # (B, 1, 3)
        R = np.zeros((len(rows), 3, 3), np.float32)
        R[:, 0, 0], R[:, 0, 1], R[:, 1, 0], R[:, 1, 1], R[:, 2, 2] = c, -s, s, c, 1
        scale = rng.uniform(1 - cfg.scale_jitter, 1 + cfg.scale_jitter, (len(rows), 1, 1))
        pts = np.einsum("bij,bnj->bni", R, pts - centre) * scale + centre
        pts = pts + rng.normal(0, cfg.point_jitter_m, pts.shape)
        if feats is not None:
            feats = np.concatenate([np.einsum("bij,bnj->bni", R, feats[..., :3]), feats[..., 3:]], axis=-1)
    x = torch.from_numpy(network_input(pts) if feats is None else network_input(pts, feats[..., :3], feats[..., 3]))
    return x, torch.from_numpy(data["category"][idx].astype(np.int64)), torch.from_numpy(data["part"][idx].astype(np.int64))


def losses(model: PartNet, x, cat, part, part_weight: float = 1.0):
    """(total loss, category loss, part loss); part logits masked to each point's true category."""
    cat_logits, part_logits = model(x)  # (B, N, C), (B, N, P)
    allowed = torch.from_numpy(PART_ALLOWED)[cat.clamp(min=0)]  # (B, N, P)
    part_logits = part_logits.masked_fill(~allowed, -1e4)
    lc = torch.nn.functional.cross_entropy(cat_logits.reshape(-1, cat_logits.shape[-1]), cat.reshape(-1), ignore_index=-1)
    lp = torch.nn.functional.cross_entropy(part_logits.reshape(-1, part_logits.shape[-1]),
                                           part.masked_fill(cat < 0, -1).reshape(-1), ignore_index=-1)
    return lc + part_weight * lp, lc, lp


@torch.inference_mode()
def point_metrics(model: PartNet, data: dict, n: int, seed: int = 0, batch: int = 64) -> dict[str, float]:
    """Point accuracy of category and part, instance category accuracy, and mean part IoU per
    instance (over the parts of its true majority category) on stored instances."""
    model.eval()
    rng = np.random.default_rng(seed)
    rows = _instances(data)
    cat_ok = part_ok = n_pts = inst_ok = 0
    ious = []
    for a in range(0, len(rows), batch):
        x, cat, part = sample_batch(data, rows[a:a + batch], n, rng)
        cl, pl = model(x)
        prob = cl.softmax(-1).mean(1)  # (B, C) instance category
        pred_inst = prob.argmax(-1)
        valid = cat >= 0
        major = torch.mode(cat.masked_fill(~valid, -1), dim=1).values
        inst_ok += int((pred_inst == major).sum())
        pl = pl.masked_fill(~torch.from_numpy(PART_ALLOWED)[pred_inst][:, None, :], -1e4)
        pp = pl.argmax(-1)
        cat_ok += int((cl.argmax(-1) == cat)[valid].sum())
        part_ok += int((pp == part)[valid].sum())
        n_pts += int(valid.sum())
        for b in range(x.shape[0]):
            on = cat[b] == major[b]
            ps = np.flatnonzero(PART_ALLOWED[int(major[b])])
            inter = [(on & (pp[b] == p) & (part[b] == p)).sum() for p in ps]
            union = [(on & ((pp[b] == p) | (part[b] == p))).sum() for p in ps]
            iou = [float(i) / float(u) for i, u in zip(inter, union) if u > 0]
            if iou:
                ious.append(np.mean(iou))
    return {"point_category_acc": cat_ok / max(n_pts, 1), "point_part_acc": part_ok / max(n_pts, 1),
            "instance_category_acc": inst_ok / max(len(rows), 1), "instance_part_miou": float(np.mean(ious)),
            "instances": len(rows)}


def train(config_path: Path | str = DEFAULT_YAML, data_dir: Path | str | None = None, progress: bool = True) -> Path:
    """Train on every shard under the dataset folder (``train_*`` to fit, ``heldout_*`` to validate);
    writes the checkpoint and ``<out>.json`` metrics; returns the checkpoint path."""
    from tqdm import tqdm

    ds = DatasetConfig.from_yaml(config_path, "dataset")
    net = NetworkConfig.from_yaml(config_path, "network")
    cfg = TrainConfig.from_yaml(config_path, "train")
    root = Path(data_dir) if data_dir is not None else REPO_ROOT / ds.out_dir
    train_paths, val_paths = sorted(root.glob("train_*.npz")), sorted(root.glob("heldout_*.npz"))
    if not train_paths:
        raise InputError(f"no training shards train_*.npz in {root}; build them with "
                         "ifgrasp.perception.trained.dataset.build_dataset()")
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    data = load_shards(train_paths)
    val = load_shards(val_paths) if val_paths else None
    if net.features == "normals":
        data["features"] = load_features(train_paths, net.normal_k)
        if val is not None:
            val["features"] = load_features(val_paths, net.normal_k)
    rows = _instances(data)
    model = PartNet(len(CATEGORIES), len(PART_VOCAB), net.k, net.width, net.global_width, net.in_channels)
    if cfg.init:
        init = Path(cfg.init)
        warm_start(model, init if init.is_absolute() else REPO_ROOT / init)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * max(1, len(rows) // cfg.batch_size)
    out = Path(cfg.out)
    out = out if out.is_absolute() else REPO_ROOT / out
    out.parent.mkdir(parents=True, exist_ok=True)
    t0, step, history = time.perf_counter(), 0, []
    bar = tqdm(total=steps, desc="train-perception", disable=not progress)
    done = False
    for epoch in range(cfg.epochs):
        model.train()
        order = rng.permutation(len(rows))
        for a in range(0, steps // cfg.epochs * cfg.batch_size, cfg.batch_size):  # full batches only
            elapsed = (time.perf_counter() - t0) / 60
            if cfg.schedule == "time" and elapsed >= cfg.max_minutes:
                done = True
                break
            progress = elapsed / cfg.max_minutes if cfg.schedule == "time" else step / max(steps - 1, 1)
            for group in opt.param_groups:
                group["lr"] = one_cycle_lr(progress, cfg.lr)
            x, cat, part = sample_batch(data, [rows[i] for i in order[a:a + cfg.batch_size]], net.n_points, rng, cfg)
            loss, lc, lp = losses(model, x, cat, part, cfg.part_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            bar.update()
            bar.set_postfix(epoch=epoch, cat=f"{lc.item():.3f}", part=f"{lp.item():.3f}")
        minutes = (time.perf_counter() - t0) / 60
        metrics = point_metrics(model, val, net.n_points) if val is not None else {}
        history.append({"epoch": epoch, "minutes": minutes, "loss": float(loss.detach()), **metrics})
        log.info("epoch %d: %s", epoch, history[-1])
        save(out, model, net, cfg, history, len(rows), [p.name for p in train_paths])
        if done or minutes > cfg.max_minutes:
            log.warning("stopping after %.1f min (max_minutes), epoch %d, step %d", minutes, epoch, step)
            break
    bar.close()
    return out


def save(path: Path, model: PartNet, net: NetworkConfig, cfg: TrainConfig, history: list, n_instances: int,
         shards: list[str]) -> None:
    """Checkpoint (float16 weights: half the size, same predictions to ~1e-3) + metrics JSON."""
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    meta = {"network": net.model_dump(), "train": cfg.model_dump(), "categories": list(CATEGORIES),
            "parts": list(PART_VOCAB), "history": history, "train_instances": n_instances, "shards": shards}
    tmp = path.with_suffix(".tmp")
    torch.save({"state_dict": state, "meta": meta}, tmp)
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
