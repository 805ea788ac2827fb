"""Evaluate a segmentation backend on cluttered simulated scenes (``ifgrasp eval perception``).

For each scene ``first_seed .. first_seed + n_scenes - 1`` of ``split`` (``ifgrasp.sim.clutter``;
D435-like depth noise as in training), every object with at least ``min_visible_px`` visible
pixels is a target, once per part of its category ("the <category> by its <part>"):

* object selection accuracy: the chosen mask's majority ground-truth object is the target
  (counted on the first part's call; a refusal, ``TargetNotFoundError`` / ``AmbiguousTargetError``,
  is a miss and is listed);
* part mIoU (single partial view): on the pixels both chosen and truly the target's, IoU of each
  part's predicted and true pixels, averaged over the category's parts present in that view, then
  over correctly selected targets;
* per-frame latency: the first ``segment`` call on each frame, total and by the backend's stages
  (``result.extras["stage_s"]``), median and p95;
* absent-object refusals: ``absent_per_view`` categories not in the view (rotating through them)
  are asked for too; the backend should refuse. ``absent_false_accept_rate`` is the fraction it
  answered with some object instead (a looser candidate rule raises selection accuracy and this).

Held-out scenes use held-out object instances; the validation shards of training use held-out
seeds 0..59, so the default evaluation starts at seed 1000 (scenes never seen in training).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from ifgrasp.errors import IfgraspError
from ifgrasp.grounding import GroundedInstruction
from ifgrasp.paths import OUT_DIR
from ifgrasp.perception.segmentation.base import SegmentationBackend
from ifgrasp.perception.trained.dataset import View, render_view
from ifgrasp.perception.trained.vocab import PART_VOCAB
from ifgrasp.sim.clutter import ClutterConfig
from ifgrasp.sim.objects import CATEGORIES, PARTS
from ifgrasp.timing import LatencyStats


def oracle_tables(view: View):
    """(frame with global part ids, oracle kwargs) so ``OracleBackend`` can run on a cluttered view."""
    frame = dataclasses.replace(view.frame, part_ids=view.gt_part.astype(np.int32))
    tables = dict(object_categories=dict(enumerate(view.categories)), part_names=dict(enumerate(PART_VOCAB)))
    return frame, tables


def _order_parts(category: str) -> list[str]:
    """The category's parts, functional part (not ``body``) first where there is one."""
    parts = list(PARTS[category])
    return sorted(parts, key=lambda p: p == "body")


def evaluate_views(backend: SegmentationBackend, views: list[View], min_visible_px: int = 400,
                   absent_per_view: int = 2) -> dict:
    """Metrics of ``backend`` on already rendered ``views`` (see the module docstring)."""
    hits, misses, ious, frame_s, stages = 0, [], [], [], {}
    absent_asked, false_accepts = 0, []
    per_category: dict[str, list[int]] = {c: [0, 0] for c in CATEGORIES}
    for v_i, view in enumerate(views):
        frame = view.frame
        visible = np.bincount(view.gt_object[view.gt_object >= 0], minlength=len(view.categories))
        timed = False
        for obj, cat in enumerate(view.categories):
            if visible[obj] < min_visible_px:
                continue
            for p_i, part in enumerate(_order_parts(cat)):
                g = GroundedInstruction(text=f"the {cat} by its {part}", category=cat, part=part)
                t0 = time.perf_counter()
                try:
                    res = backend.segment(frame, g)
                except IfgraspError as exc:
                    if p_i == 0:
                        misses.append({"view": v_i, "target": cat, "why": str(exc)[:200]})
                        per_category[cat][1] += 1
                    break
                dt = time.perf_counter() - t0
                if not timed:
                    timed = True
                    frame_s.append(dt)
                    for k, s in res.extras.get("stage_s", {}).items():
                        stages.setdefault(k, []).append(s)
                ids, counts = np.unique(view.gt_object[res.object_mask], return_counts=True)
                got = int(ids[np.argmax(counts)]) if len(ids) else -1
                if p_i == 0:
                    per_category[cat][1] += 1
                    if got == obj:
                        hits += 1
                        per_category[cat][0] += 1
                    else:
                        misses.append({"view": v_i, "target": cat,
                                       "why": f"chose {view.categories[got] if got >= 0 else 'background'}"})
                        break
                region = res.object_mask & (view.gt_object == obj)
                pid = PART_VOCAB.index(part)
                pred, true = res.part_mask & region, region & (view.gt_part == pid)
                union = int((pred | true).sum())
                if union:
                    ious.append((v_i, obj, int((pred & true).sum()) / union))
        absent = [c for c in CATEGORIES if c not in view.categories]
        for i in range(min(absent_per_view, len(absent))):
            cat = absent[(v_i + i) % len(absent)]
            absent_asked += 1
            try:
                backend.segment(frame, GroundedInstruction(text=f"the {cat}", category=cat, part=PARTS[cat][0]))
            except IfgraspError:
                continue
            false_accepts.append({"view": v_i, "asked": cat})
    by_target: dict[tuple[int, int], list[float]] = {}
    for v_i, obj, iou in ious:
        by_target.setdefault((v_i, obj), []).append(iou)
    n = hits + len(misses)
    lat = {"total": LatencyStats("total", np.asarray(frame_s))} | {k: LatencyStats(k, np.asarray(v)) for k, v in stages.items()}
    return {
        "backend": backend.name, "views": len(views), "targets": n,
        "object_selection_accuracy": hits / max(n, 1),
        "part_miou": float(np.mean([np.mean(v) for v in by_target.values()])) if by_target else float("nan"),
        "latency_ms": {k: {"median": s.median_s * 1e3, "p95": s.p95_s * 1e3} for k, s in lat.items() if len(s.samples_s)},
        "per_category_selection": {c: {"hit": h, "n": t} for c, (h, t) in per_category.items() if t},
        "absent_asked": absent_asked,
        "absent_false_accept_rate": len(false_accepts) / max(absent_asked, 1), "false_accepts": false_accepts,
        "misses": misses,
    }


def evaluate_perception(backend: SegmentationBackend | str, split: str = "heldout", n_scenes: int = 50,
                        first_seed: int = 1000, clutter: ClutterConfig = ClutterConfig(),
                        min_visible_px: int = 400, out_json: Path | str | None = None, show: bool = True) -> dict:
    """Render ``n_scenes`` cluttered scenes of ``split`` and evaluate ``backend`` (an instance, or
    ``"oracle"`` for the ground-truth reference); prints a table, writes JSON (default
    ``out/perception_eval_<backend>_<split>.json``) and returns the metrics dict."""
    views = [render_view(s, split, clutter) for s in range(first_seed, first_seed + n_scenes)]
    if backend == "oracle":
        from ifgrasp.perception.segmentation.oracle import OracleBackend

        class _PerView(SegmentationBackend):  # a fresh oracle per view: its name tables change per scene
            name = "oracle"

            def segment(self, frame, grounded):
                view = next(v for v in views if v.frame is frame)
                f, tables = oracle_tables(view)
                return OracleBackend(**tables).segment(f, grounded)

        backend = _PerView()
    metrics = evaluate_views(backend, views, min_visible_px) | {"split": split, "first_seed": first_seed}
    out = Path(out_json) if out_json is not None else OUT_DIR / f"perception_eval_{metrics['backend']}_{split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=1))
    if show:
        print(format_table(metrics))
    return metrics


def format_table(m: dict) -> str:
    """A plain-text summary of ``evaluate_perception``'s metrics."""
    lines = [f"perception eval: backend {m['backend']}, split {m.get('split', '?')}, {m['views']} views, "
             f"{m['targets']} targets",
             f"  object selection accuracy  {m['object_selection_accuracy'] * 100:6.1f} %   (goal >= 98 %)",
             f"  part mIoU                  {m['part_miou']:6.3f}     (goal >= 0.85)",
             f"  absent objects accepted    {m.get('absent_false_accept_rate', float('nan')) * 100:6.1f} %   "
             f"({m.get('absent_asked', 0)} asked; should be refused)",
             "  latency per frame (ms)     median     p95"]
    for k, v in m["latency_ms"].items():
        lines.append(f"    {k:<24}{v['median']:8.1f}{v['p95']:8.1f}")
    for miss in m["misses"]:
        lines.append(f"  miss: view {miss['view']} {miss['target']}: {miss['why']}")
    return "\n".join(lines)
