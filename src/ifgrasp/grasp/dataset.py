"""The teacher's grasp dataset: synthesis + physics validation over the training objects and parts.

Layout: one ``.npz`` shard per (category, object seed, part, round) under the dataset folder, written
atomically, so an interrupted run resumes where it stopped and re-running is a no-op. Each shard's
randomness comes from a hash of its key and the dataset seed: same seed, same dataset. Objects are
not stored: they are regenerated from (category, seed).

Fields per grasp: wrist_pos_m (3), wrist_rot (3x3), joints_rad (16), all in the object frame; lift,
shake, six_dir (bool), six_dir_held (6 bools, one per push; absent from shards validated before
2026-12-05, read back as NaN; ``revalidate --incomplete`` adds it), label (continuous success under perturbations), energy terms, part_share,
all_on_part, max_penetration_m, num_contacts; plus the shard's category, object seed, part and
``config``, the digest of the synthesis + validation settings that made it (the dataset grows over
several runs; ``configs/<digest>.yaml`` keeps each one, so mixed generations stay traceable).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.errors import InputError
from ifgrasp.grasp.synthesis.synthesize import SynthesisConfig, synthesize
from ifgrasp.grasp.evaluate import V1_FIELDS
from ifgrasp.grasp.validate import ValidationConfig, validate

#: Functional grasp tasks per category: (part to grasp, parts to avoid). One table, used by the
#: dataset and the evaluation.
TASKS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "mug": (("handle", ()), ("body", ())),
    "hammer": (("handle", ("head",)), ("head", ())),
    "spray_bottle": (("body", ("nozzle",)), ("trigger", ())),
    "power_drill": (("grip", ()), ("body", ())),
    "knife": (("handle", ("blade",)),),
    "frying_pan": (("handle", ("pan",)),),
    "bottle": (("body", ()), ("cap", ())),
    "teapot": (("handle", ("spout",)), ("body", ())),
    "box": (("body", ()),),
    "cylinder": (("body", ()),),
    "sphere": (("body", ()),),
}


class DatasetConfig(Config):
    split: str = Field("train", pattern="^(train|heldout)$", description="object family")
    per_category: int | None = Field(None, description="objects per category (None = the whole family)")
    categories: tuple[str, ...] | None = Field(None, description="restrict to these categories")
    parts: tuple[str, ...] | None = Field(None, description="restrict to these instructed parts (e.g. handle, trigger)")
    rounds: int = Field(1, gt=0, description="synthesis batches per (object, part)")
    seed: int = Field(0, description="dataset seed")
    synthesis: SynthesisConfig = Field(default_factory=SynthesisConfig)
    validation: ValidationConfig = Field(default_factory=lambda: ValidationConfig(perturbations=2))


@dataclass(frozen=True)
class Shard:
    category: str
    object_seed: int
    part: str
    avoid: tuple[str, ...]
    round: int

    @property
    def key(self) -> str:
        return f"{self.category}_{self.object_seed:04d}_{self.part}_r{self.round:02d}"

    def seed(self, dataset_seed: int) -> int:
        digest = hashlib.sha256(f"{dataset_seed}/{self.key}".encode()).digest()
        return int.from_bytes(digest[:4], "little")


#: ``config`` of shards written before digests were recorded (their settings: git history of config.yaml).
UNRECORDED_CONFIG = "unrecorded"


def grasp_settings(cfg: DatasetConfig) -> dict:
    """The settings that decide a shard's grasps (synthesis and validation), not the bookkeeping."""
    return {"synthesis": cfg.synthesis.model_dump(mode="json"), "validation": cfg.validation.model_dump(mode="json")}


def settings_digest(settings: dict) -> str:
    """Short digest of a settings dict (JSON, sorted keys)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]


def config_digest(cfg: DatasetConfig) -> str:
    """Short digest of ``grasp_settings(cfg)``."""
    return settings_digest(grasp_settings(cfg))


def validation_digest(cfg: DatasetConfig) -> str:
    """Short digest of the validation settings alone (a shard's labels are current when it matches)."""
    return settings_digest(cfg.validation.model_dump(mode="json"))


def plan_shards(cfg: DatasetConfig) -> list[Shard]:
    """Every (object, task, round) of the configured family, in a fixed order."""
    from ifgrasp.sim.objects import object_family

    shards = []
    for category, obj_seed in object_family(cfg.split, per_category=cfg.per_category):
        if cfg.categories is not None and category not in cfg.categories:
            continue
        for part, avoid in TASKS[category]:
            if cfg.parts is not None and part not in cfg.parts:
                continue
            for r in range(cfg.rounds):
                shards.append(Shard(category, obj_seed, part, avoid, r))
    return shards


def run_shard(hand, shard: Shard, cfg: DatasetConfig) -> dict[str, np.ndarray]:
    """Synthesise and validate one shard's grasps; returns the arrays to store."""
    from ifgrasp.sim.objects import make_object

    obj = make_object(shard.category, shard.object_seed)
    seed = shard.seed(cfg.seed)
    t0 = time.perf_counter()
    grasps = synthesize(hand, obj, shard.part, shard.avoid, cfg.synthesis, seed=seed)
    t1 = time.perf_counter()
    out = {
        "wrist_pos_m": grasps.wrist_pos_m.astype(np.float32),
        "wrist_rot": grasps.wrist_rot.astype(np.float32),
        "joints_rad": grasps.joints_rad.astype(np.float32),
        "synthesis_s": np.float32(t1 - t0),
    }
    out.update(_validation_arrays(obj, grasps, shard, cfg))
    for k, v in grasps.extras.items():
        out[k] = np.asarray(v, dtype=np.float32)
    return out


def _validation_arrays(obj, grasps, shard: Shard, cfg: DatasetConfig) -> dict[str, np.ndarray]:
    """The physics labels of one shard's grasps, as stored."""
    t0 = time.perf_counter()
    result = validate(obj, grasps, cfg.validation, seed=shard.seed(cfg.seed), part=shard.part)
    f32 = lambda x: np.asarray(x, dtype=np.float32)  # noqa: E731
    out = {
        "lift": result.lift,
        "shake": result.shake,
        "six_dir": result.six_dir,
        "six_dir_held": result.six_dir_held,
        "label": f32(result.label),
        "lift_displacement_m": f32(result.lift_displacement_m),
        "part_force_share": f32(result.part_force_share),
        "lift_rotation_rad": f32(result.lift_rotation_rad),
        "shake_displacement_m": f32(result.shake_displacement_m),
        "shake_rotation_rad": f32(result.shake_rotation_rad),
        "six_dir_displacement_m": f32(result.six_dir_displacement_m),
        "six_dir_rotation_rad": f32(result.six_dir_rotation_rad),
        "shove_m": f32(result.shove_m),
        "shove_rad": f32(result.shove_rad),
        "grip_margin": f32(result.grip_margin),
        "thumb_force_share": f32(result.thumb_force_share),
    }
    if cfg.validation.exact_penetration:
        out["penetration_stages_m"] = f32(result.penetration_stages_m)
        out["exact_penetration_m"] = f32(result.penetration_m)
    if cfg.validation.self_collision:
        out["self_penetration_stages_m"] = f32(result.self_penetration_stages_m)
        out["self_penetration_m"] = f32(result.self_penetration_m)
    out["validation_s"] = np.float32(time.perf_counter() - t0)
    return out


def shard_progress(show: bool):
    """A shard progress bar (description, bar, done/total, time left)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    disable=not show)


def _write_atomic(path: Path, arrays: dict, meta: dict) -> None:
    tmp = path.with_suffix(".tmp.npz")
    try:
        np.savez_compressed(tmp, meta=json.dumps(meta), **arrays)
        os.replace(tmp, path)
    except BaseException:  # Ctrl-C mid-write included: leave no half-written file behind
        tmp.unlink(missing_ok=True)
        raise


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``generate`` or ``revalidate``: the ``done`` shards finished before it are on disk."""

    def __init__(self, done: int) -> None:
        super().__init__(f"interrupted after {done} shards")
        self.done = done


def generate(hand, cfg: DatasetConfig, out_dir: Path, progress: bool = True, worker: int = 0, workers: int = 1) -> int:
    """Run every missing shard into ``out_dir`` (resumable; ``skipped.json`` names shards no grasp
    could be planned for); ``worker`` of ``workers`` takes every ``workers``-th missing shard, so
    processes can share the work. Returns the number of shards it wrote; Ctrl-C raises
    ``RunInterrupted`` with that number (the shard in progress is dropped, never half-written)."""
    _check_worker(worker, workers)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.yaml").write_text(cfg.to_yaml())
    digest = config_digest(cfg)
    _write_settings(out_dir, grasp_settings(cfg))
    shards = plan_shards(cfg)
    skipped = read_skipped(out_dir)
    todo = [s for s in shards if not (out_dir / f"{s.key}.npz").exists() and s.key not in skipped][worker::workers]
    written = 0
    with shard_progress(progress) as bar:
        task = bar.add_task("synth", total=len(todo))
        try:
            for shard in todo:
                bar.update(task, description=f"synth {shard.key}")
                if (out_dir / f"{shard.key}.npz").exists():  # another process made it meanwhile
                    bar.advance(task)
                    continue
                try:
                    arrays = run_shard(hand, shard, cfg)
                except InputError as exc:  # e.g. no antipodal pair fits: record it, go on with the rest
                    _record_skipped(out_dir, shard.key, str(exc))
                    bar.advance(task)
                    continue
                meta = {"category": shard.category, "object_seed": shard.object_seed, "part": shard.part,
                        "avoid": list(shard.avoid), "round": shard.round, "split": cfg.split, "config": digest,
                        "validation": validation_digest(cfg), "judge": cfg.validation.judge}
                _write_atomic(out_dir / f"{shard.key}.npz", arrays, meta)
                written += 1
                bar.advance(task)
        except KeyboardInterrupt as exc:
            raise RunInterrupted(written) from exc
    return written


def _check_worker(worker: int, workers: int) -> None:
    if not 0 <= worker < workers:
        raise InputError(f"worker must be in [0, {workers}), got {worker}")


def read_skipped(out_dir: Path) -> dict[str, str]:
    """``skipped.json``: shard key -> why no grasp could be planned for it (empty if none)."""
    path = Path(out_dir) / "skipped.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _record_skipped(out_dir: Path, key: str, reason: str) -> None:
    """Add one shard to ``skipped.json``; re-read first so parallel workers keep each other's entries."""
    skipped = read_skipped(out_dir)
    skipped[key] = reason
    tmp = Path(out_dir) / "skipped.json.tmp"
    tmp.write_text(json.dumps(skipped, indent=1))
    os.replace(tmp, Path(out_dir) / "skipped.json")


def _write_settings(out_dir: Path, settings: dict) -> str:
    """Store ``configs/<digest>.yaml`` for a settings generation; returns the digest."""
    digest = settings_digest(settings)
    (out_dir / "configs").mkdir(exist_ok=True)
    (out_dir / "configs" / f"{digest}.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return digest


def shard_files(folder: Path) -> list[Path]:
    """The finished shards of a dataset folder, sorted (not the ``.tmp.npz`` of a write in progress)."""
    return [f for f in sorted(Path(folder).glob("*.npz")) if not f.name.endswith(".tmp.npz")]


#: Per-grasp results only some judges store (dropped when a re-validation does not make them).
JUDGE_RESULTS = ("penetration_stages_m", "exact_penetration_m", "self_penetration_stages_m", "self_penetration_m")

#: Per-grasp results the judge added after shards were written under the same settings (their labels
#: stand): per-push 6-direction (2026-12-05), grip margin and thumb share (2026-12-06).
#: ``revalidate --incomplete`` fills them in.
LATER_RESULTS = ("six_dir_held", "grip_margin", "thumb_force_share")


def stale_shards(out_dir: Path, cfg: DatasetConfig, incomplete: bool = False) -> list[Path]:
    """Shards whose physics labels were made with validation settings other than ``cfg.validation``;
    with ``incomplete``, also the shards whose labels are current but that lack a ``LATER_RESULTS`` field."""
    current = validation_digest(cfg)
    stale = []
    for f in shard_files(out_dir):
        with np.load(f) as z:
            other_settings = json.loads(str(z["meta"])).get("validation") != current
            if other_settings or (incomplete and not set(LATER_RESULTS) <= set(z.files)):
                stale.append(f)
    return stale


def revalidate_shard(path: Path, cfg: DatasetConfig) -> None:
    """Re-run the physics tests of one stored shard under ``cfg.validation`` and rewrite it in place.

    The grasps and their synthesis energies stay; the labels, the validation time and the settings
    digests change. A shard whose synthesis settings were recorded gets the digest of (those, the new
    validation); one without keeps ``UNRECORDED_CONFIG``."""
    from ifgrasp.sim.objects import make_object
    from ifgrasp.types import GraspBatch

    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = json.loads(str(z["meta"]))
    shard = Shard(meta["category"], meta["object_seed"], meta["part"], tuple(meta["avoid"]), meta["round"])
    grasps = GraspBatch(arrays["wrist_pos_m"].astype(float), arrays["wrist_rot"].astype(float),
                        arrays["joints_rad"].astype(float), frame="object")
    if meta.get("judge", "v1") == "v1" and cfg.validation.judge != "v1":
        # the v1 labels stay beside the new ones, for the dataset card's v1-vs-v2 table
        arrays.update({f"v1_{f}": arrays[f] for f in V1_FIELDS if f in arrays})
        arrays["v1_validation_s"] = arrays["validation_s"]
    new = _validation_arrays(make_object(shard.category, shard.object_seed), grasps, shard, cfg)
    for f in set(arrays) - set(new):  # results the new judge does not make (e.g. exact penetration under v1)
        if f in JUDGE_RESULTS:
            del arrays[f]
    arrays.update(new)
    meta["judge"] = cfg.validation.judge
    old_settings = Path(path).parent / "configs" / f"{meta.get('config')}.yaml"
    if old_settings.exists():
        synthesis = yaml.safe_load(old_settings.read_text())["synthesis"]
        meta["config"] = _write_settings(Path(path).parent, {
            "synthesis": synthesis, "validation": cfg.validation.model_dump(mode="json")})
    meta["validation"] = validation_digest(cfg)
    _write_atomic(Path(path), arrays, meta)


def revalidate(cfg: DatasetConfig, out_dir: Path, worker: int = 0, workers: int = 1, progress: bool = True,
               incomplete: bool = False) -> int:
    """Re-validate every stale shard of ``out_dir`` (with ``incomplete``, also those lacking a later
    result field; see ``stale_shards``). Resumable: a rewritten shard is current;
    ``worker`` of ``workers`` takes every ``workers``-th one, so processes can share the work.
    Returns the number of shards rewritten; Ctrl-C raises ``RunInterrupted`` with that number (the shard
    in progress keeps its old labels, never a half-written file)."""
    _check_worker(worker, workers)
    todo = stale_shards(out_dir, cfg, incomplete)[worker::workers]
    last = Path(out_dir) / "config.yaml"  # the last synth's config: keep it loadable, with today's validation
    if last.exists():
        data = yaml.safe_load(last.read_text())
        data["validation"] = cfg.validation.model_dump(mode="json")
        last.write_text(yaml.safe_dump(data, sort_keys=False))
    done = 0
    with shard_progress(progress) as bar:
        task = bar.add_task("revalidate", total=len(todo))
        try:
            for path in todo:
                bar.update(task, description=f"revalidate {path.stem}")
                revalidate_shard(path, cfg)
                done += 1
                bar.advance(task)
        except KeyboardInterrupt as exc:
            raise RunInterrupted(done) from exc
    return done


def load_dataset(folder: Path, files: Iterable[Path] | None = None) -> dict[str, np.ndarray]:
    """Concatenate every shard of a dataset folder; adds per-grasp category/object_seed/part.

    A field that only newer shards have (``six_dir_held``) is NaN for the grasps of the older ones."""
    files = shard_files(folder) if files is None else [f for f in sorted(files) if not f.name.endswith(".tmp.npz")]
    columns: dict[str, list] = {}
    counts: list[int] = []
    for f in files:
        with np.load(f) as z:
            meta = json.loads(str(z["meta"]))
            n = z["wrist_pos_m"].shape[0]
            for k in z.files:
                if k == "meta" or z[k].ndim == 0:
                    continue
                columns.setdefault(k, [None] * len(counts)).append(z[k])
            for k in ("category", "part"):
                columns.setdefault(k, []).append(np.full(n, meta[k]))
            columns.setdefault("config", []).append(np.full(n, meta.get("config", UNRECORDED_CONFIG)))
            columns.setdefault("judge", []).append(np.full(n, meta.get("judge", "v1")))
            columns.setdefault("object_seed", []).append(np.full(n, meta["object_seed"]))
            columns.setdefault("synthesis_s", []).append(np.full(n, float(z["synthesis_s"]) / n))
            columns.setdefault("validation_s", []).append(np.full(n, float(z["validation_s"]) / n))
        counts.append(n)
        for v in columns.values():
            v.extend([None] * (len(counts) - len(v)))
    return {k: np.concatenate(_fill_missing(v, counts)) for k, v in columns.items()}


def _fill_missing(arrays: list, counts: list[int]) -> list[np.ndarray]:
    """Per-shard arrays of one field, NaN-filled (as float) for the shards that lack it."""
    if all(a is not None for a in arrays):
        return arrays
    trailing = next(a for a in arrays if a is not None).shape[1:]
    return [np.full((n, *trailing), np.nan) if a is None else a.astype(float) for a, n in zip(arrays, counts)]


def summarize(data: dict[str, np.ndarray]) -> dict:
    """Counts and rates of a loaded dataset, overall, per category and per settings generation;
    ``validated`` counts the grasps the teacher keeps (``evaluate.validated_mask``)."""
    from ifgrasp.grasp.evaluate import validated_mask

    if not data:
        return {"grasps": 0}
    keep = validated_mask(data)

    def rates(mask):
        return {
            "grasps": int(mask.sum()),
            "lift": float(data["lift"][mask].mean()),
            "shake": float(data["shake"][mask].mean()),
            "six_dir": float(data["six_dir"][mask].mean()),
            "validated": int(keep[mask].sum()),
        }

    everything = np.ones(len(data["lift"]), bool)
    out = {"overall": rates(everything), "validated_grasps": int(keep.sum()), "objects": int(len({(c, s) for c, s in zip(data["category"], data["object_seed"])}))}
    out["per_category"] = {c: rates(data["category"] == c) for c in sorted(set(data["category"]))}
    out["per_config"] = {c: rates(data["config"] == c) for c in sorted(set(data["config"]))}
    out["seconds"] = float(data["synthesis_s"].sum() + data["validation_s"].sum())
    return out
