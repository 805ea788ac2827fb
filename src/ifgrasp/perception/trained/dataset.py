"""Training views for the trained perception network: cluttered scenes -> run-time instances -> npz.

Each scene (``ifgrasp.sim.clutter``) is rendered once at 640x480 (the camera's resolution, the
one the backend sees), its depth gets the D435-like noise (``add_depth_noise``), and
``find_instances`` (the same code and config the backend runs) cuts it into instances, so
training sees run-time fragments: split, merged and partial objects. Every kept instance gives up
to ``points_per_instance`` random valid pixels, back-projected into the base frame, with the
ground-truth category (-1 off objects) and global part id (-1 off objects) of each pixel.

A shard ``<out>/<split>_<first>-<last>.npz`` holds, concatenated over instances:
``points`` (M, 3) float32 base frame m, ``category`` (M,) int8, ``part`` (M,) int8,
``instance`` (M,) int32 running instance id, ``scene`` (K,) int32 scene seed per instance.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.perception.depth import depth_to_points, transform_points
from ifgrasp.perception.instances import InstanceConfig, find_instances
from ifgrasp.perception.noise import DepthNoiseConfig, add_depth_noise
from ifgrasp.perception.trained.vocab import PART_VOCAB
from ifgrasp.sim.clutter import ClutterConfig, ClutterRenderer, clutter_scene
from ifgrasp.sim.objects import CATEGORIES
from ifgrasp.types import RGBDFrame

log = logging.getLogger(__name__)


class DatasetConfig(Config):
    """Section ``dataset`` of ``config/perception_trained.yaml``."""

    out_dir: str = Field("out/perception_data", description="where shards go (relative to the repo root; git-ignored)")
    train_scenes: int = Field(600, gt=0, description="train-family scenes (seeds 0..n-1)")
    val_scenes: int = Field(60, ge=0, description="held-out-family scenes for validation (seeds 0..n-1)")
    points_per_instance: int = Field(2048, gt=0, description="max stored points per instance")
    min_pixels: int = Field(60, gt=0, description="instances with fewer valid pixels are skipped")
    shard_scenes: int = Field(100, gt=0, description="scenes per npz shard")


@dataclasses.dataclass
class View:
    """One noisy rendered view and its labels: ``frame`` (noisy depth), ``gt_category`` /
    ``gt_part`` (H, W) int32 global ids (-1 off objects), ``gt_object`` (H, W) object index."""

    frame: RGBDFrame
    gt_category: np.ndarray
    gt_part: np.ndarray
    gt_object: np.ndarray
    categories: tuple[str, ...]


def render_view(seed: int, split: str, clutter: ClutterConfig = ClutterConfig(),
                noise: DepthNoiseConfig = DepthNoiseConfig()) -> View:
    """Render cluttered scene ``seed`` of ``split`` with depth noise (deterministic per seed)."""
    spec = clutter_scene(seed, split, clutter)
    with ClutterRenderer(spec, PART_VOCAB) as r:
        frame = r.render()
        parts = r.gt_parts(frame)
    rng = np.random.default_rng([seed, 1 if split == "heldout" else 0, 77])
    noisy = dataclasses.replace(frame, depth_m=add_depth_noise(frame.depth_m, rng, noise))
    cat_of_obj = np.array([CATEGORIES.index(c) for c in r.categories] + [-1], np.int32)  # -1 -> last
    gt_cat = cat_of_obj[np.where(frame.object_ids >= 0, frame.object_ids, len(r.categories))]
    return View(noisy, gt_cat, parts, frame.object_ids, r.categories)


def instance_samples(view: View, instances_cfg: InstanceConfig, n_max: int, min_pixels: int,
                     rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    """Per run-time instance of ``view``: up to ``n_max`` random points (base frame) with labels."""
    inst = find_instances(view.frame, instances_cfg)
    out = []
    for m in inst.masks:
        pts, pix = depth_to_points(view.frame.depth_m, view.frame.intrinsics, mask=m, return_pixels=True)
        if pts.shape[0] < min_pixels:
            continue
        keep = np.sort(rng.choice(pts.shape[0], size=min(n_max, pts.shape[0]), replace=False))
        out.append(dict(points=transform_points(view.frame.T_base_camera, pts[keep]).astype(np.float32),
                        category=view.gt_category.ravel()[pix[keep]].astype(np.int8),
                        part=view.gt_part.ravel()[pix[keep]].astype(np.int8)))
    return out


def build_shard(split: str, seeds: range, path: Path, cfg: DatasetConfig = DatasetConfig(),
                clutter: ClutterConfig = ClutterConfig(), noise: DepthNoiseConfig = DepthNoiseConfig(),
                instances_cfg: InstanceConfig = InstanceConfig(), progress: bool = False) -> Path:
    """Render ``seeds`` of ``split`` and write one npz shard (see the module docstring)."""
    from tqdm import tqdm

    chunks, scene_of = [], []
    for seed in tqdm(seeds, desc=path.name, disable=not progress):
        view = render_view(seed, split, clutter, noise)
        for s in instance_samples(view, instances_cfg, cfg.points_per_instance, cfg.min_pixels,
                                  np.random.default_rng([seed, 5])):
            chunks.append(s)
            scene_of.append(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path, points=np.concatenate([c["points"] for c in chunks]),
        category=np.concatenate([c["category"] for c in chunks]), part=np.concatenate([c["part"] for c in chunks]),
        instance=np.concatenate([np.full(len(c["points"]), i, np.int32) for i, c in enumerate(chunks)]),
        scene=np.asarray(scene_of, np.int32))
    return path


def build_dataset(cfg: DatasetConfig = DatasetConfig(), clutter: ClutterConfig = ClutterConfig(),
                  noise: DepthNoiseConfig = DepthNoiseConfig(), instances_cfg: InstanceConfig = InstanceConfig(),
                  root: Path | None = None, progress: bool = True) -> list[Path]:
    """All shards (train and validation) under ``root`` (default ``cfg.out_dir``); existing shards are kept."""
    from ifgrasp.paths import REPO_ROOT

    root = Path(root) if root is not None else REPO_ROOT / cfg.out_dir
    paths = []
    for split, n in (("train", cfg.train_scenes), ("heldout", cfg.val_scenes)):
        for a in range(0, n, cfg.shard_scenes):
            b = min(n, a + cfg.shard_scenes)
            p = root / f"{split}_{a:05d}-{b - 1:05d}.npz"
            if not p.exists():
                build_shard(split, range(a, b), p, cfg, clutter, noise, instances_cfg, progress)
            paths.append(p)
    return paths


def load_shards(paths: list[Path]) -> dict[str, np.ndarray]:
    """Concatenate shards; instance ids stay unique (offset per shard)."""
    out: dict[str, list] = {k: [] for k in ("points", "category", "part", "instance")}
    offset = 0
    for p in paths:
        with np.load(p) as z:
            for k in ("points", "category", "part"):
                out[k].append(z[k])
            out["instance"].append(z["instance"] + offset)
            offset += int(z["instance"].max()) + 1 if len(z["instance"]) else 0
    return {k: np.concatenate(v) for k, v in out.items()}
