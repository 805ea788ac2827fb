"""Student metrics (``ifgrasp eval student``), measured with the teacher's validation protocol.

For each held-out object, task part and camera view: the student generates from the single partial
view, its top-k grasps are mapped into the object frame (``T_object_camera`` is known in simulation)
and executed in MuJoCo (lift test). Reported per category and overall: top-1 lift success, mean lift
over the top k, part accuracy (geometric contact share on the part, and the share of the hand's
contact force on it), and generation latency.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ifgrasp.grasp.dataset import TASKS
from ifgrasp.grasp.diffusion.generator import GraspGenerator
from ifgrasp.grasp.diffusion.views import load_views
from ifgrasp.grasp.metrics import contact_stats
from ifgrasp.grasp.object_sdf import ObjectSDF
from ifgrasp.grasp.validate import ValidationConfig, validate


def evaluate_student(generator: GraspGenerator, views_dir: Path, k: int = 8, views_per_object: int = 2,
                     validation: ValidationConfig | None = None, categories=None) -> dict:
    """Per-category and overall student metrics on the objects of ``views_dir`` (held-out views)."""
    from ifgrasp.sim.objects import make_object

    validation = validation or ValidationConfig()
    rows = []
    for (category, seed), v in sorted(load_views(views_dir).items()):
        if categories is not None and category not in categories:
            continue
        obj = make_object(category, seed)
        sdf = ObjectSDF.from_trimesh(obj.mesh, obj.name)
        surface, _, _ = obj.sample_surface(384, np.random.default_rng(seed))
        for part, _avoid in TASKS[category]:
            part_idx = obj.part_index(part)
            for view in range(min(views_per_object, v["points"].shape[0])):
                mask = v["point_part"][view] == part_idx
                if mask.sum() < 16:
                    continue  # the part is hidden in this view: not a fair question
                t0 = time.perf_counter()
                top = generator.generate(v["points"][view], mask, k=k)
                latency = time.perf_counter() - t0
                T_object_camera = np.linalg.inv(v["T_camera_object"][view])
                grasps = top.transformed(T_object_camera, "object")
                check = validate(obj, grasps, validation, six_dir=False, part=part)
                stats = contact_stats(generator.hand, sdf, obj.face_part, part_idx, grasps, surface)
                rows.append({
                    "category": category, "part": part, "top1_lift": bool(check.lift[0]),
                    "topk_lift": float(check.lift.mean()), "part_share": float(stats.part_share.mean()),
                    "part_force_share": float(check.part_force_share[check.lift].mean()) if check.lift.any() else 0.0,
                    "latency_s": latency,
                })
    return summarize_rows(rows, k)


def summarize_rows(rows: list[dict], k: int) -> dict:
    def agg(sel):
        if not sel:
            return {"cases": 0}
        return {
            "cases": len(sel),
            "top1_lift": float(np.mean([r["top1_lift"] for r in sel])),
            f"top{k}_lift": float(np.mean([r["topk_lift"] for r in sel])),
            "part_contact_share": float(np.mean([r["part_share"] for r in sel])),
            "part_force_share_lifted": float(np.mean([r["part_force_share"] for r in sel])),
            "latency_median_ms": float(np.median([r["latency_s"] for r in sel]) * 1e3),
        }

    out = {"overall": agg(rows), "per_category": {}}
    for c in sorted({r["category"] for r in rows}):
        out["per_category"][c] = agg([r for r in rows if r["category"] == c])
    return out
