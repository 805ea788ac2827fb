"""Student metrics (``ifgrasp eval student``), judged by the teacher's validation in MuJoCo.

Cases: every held-out (object, functional part, camera view) of ``views_dir`` whose view shows the part
(>= 16 points), up to ``views_per_object`` views per object. Each case is generated with a fixed seed
(from the case, not from the order), its top-k grasps are mapped into the object frame
(``T_object_camera`` is known in simulation) and judged by each selected judge (``JUDGES``: "v1",
the validation before issue 21; "v2", the issue-21 validation, reported as "v2" = lift with exact
penetration and self-penetration <= 1 mm, and "v2_lift" = its lift alone). Several
generators ("variants": e.g. with / without the physics step, several step counts) run on the same
cases, so their differences are paired.

Reported per variant, overall, per task (category/part) and per category: top-1 lift with its 95%
Wilson interval, mean lift of the top k ("topk_lift", with a normal 95% interval over cases; a report's k
below the run's takes each row's first k), the share of cases with any success among the returned
grasps, the ROC AUC of the critic's score on the returned grasps (when a critic ranked them; pooled over
cases, and the mean within the cases that have a success and a failure), part contact share,
and the geometric pre-check of every returned grasp, on its own: self-penetration (share > 1 mm,
mean, p95), deepest observed point inside the hand, mean fingertip distance to the part.
Rows go to a JSONL log as they finish, so a long run resumes where it stopped.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ifgrasp.errors import ConfigError, InputError, ModelError, known
from ifgrasp.grasp.dataset import TASKS
from ifgrasp.grasp.diffusion.generator import GraspGenerator
from ifgrasp.grasp.diffusion.views import load_views
from ifgrasp.grasp.metrics import contact_stats, measuring_hand
from ifgrasp.grasp.object_sdf import ObjectSDF
from ifgrasp.grasp.validate import ValidationConfig, validate
from ifgrasp.hand.self_collision import SELF_PENETRATION_LIMIT_M
from ifgrasp.io.rows import append_rows, read_rows
from ifgrasp.types import GraspBatch

MIN_PART_POINTS = 16
PRECHECK = ("self_penetration_m", "cloud_penetration_m", "tip_part_distance_m")


def _judge_v1(obj, grasps, part: str) -> dict[str, np.ndarray]:
    """Validation v1 (before issue 21): the lift test with stall-torque fingers, sampled penetration."""
    return {"v1": validate(obj, grasps, ValidationConfig.v1(), six_dir=False, part=part).lift}


def _judge_v2(obj, grasps, part: str) -> dict[str, np.ndarray]:
    """Validation v2 (issue 21): the lift under the real hand's strength, from the pose before closing,
    with the rotation limit ("v2_lift"), and that lift with the teacher filter's exact geometric gates
    ("v2": exact hand-object penetration and self-penetration <= 1 mm at pre-grasp and grasp)."""
    from ifgrasp.grasp.evaluate import FilterConfig

    r = validate(obj, grasps, ValidationConfig(), six_dir=False, part=part)
    f = FilterConfig()
    pen = np.nan_to_num(np.nanmax(r.penetration_stages_m[:, :2], axis=1), nan=np.inf)
    self_pen = np.nan_to_num(np.nanmax(r.self_penetration_stages_m, axis=1), nan=np.inf)
    gates = (pen <= f.max_penetration_m) & (self_pen <= (f.max_self_penetration_m or np.inf))
    return {"v2": r.lift & gates, "v2_lift": r.lift.copy()}


#: Judges by version: (object, grasps in the object frame, part name) -> {name: (k,) bool success}.
JUDGES: dict[str, Callable] = {"v1": _judge_v1, "v2": _judge_v2}


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion (Wilson 1927); (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def student_cases(views: dict, views_per_object: int, categories=None) -> list[dict]:
    """Every (category, seed, part, view) whose view shows the part; deterministic, view-major order."""
    from ifgrasp.sim.objects import make_object

    cases = []
    for (category, seed), v in sorted(views.items()):
        if categories is not None and category not in categories:
            continue
        obj = make_object(category, seed)
        for part, _avoid in TASKS[category]:
            idx = obj.part_index(part)
            for view in range(min(views_per_object, v["points"].shape[0])):
                if (v["point_part"][view] == idx).sum() >= MIN_PART_POINTS:
                    cases.append({"category": category, "seed": int(seed), "part": part, "view": view})
    # view-major: a partial (resumed) run covers every task evenly
    return sorted(cases, key=lambda c: (c["view"], c["category"], c["seed"], c["part"]))


def _case_key(case: dict) -> str:
    return f"{case['category']}_{case['seed']}_{case['part']}_{case['view']}"


def evaluate_student(generators: GraspGenerator | dict[str, GraspGenerator], views_dir: Path, k: int = 8,
                     views_per_object: int = 2, judges: tuple[str, ...] = ("v1",), categories=None,
                     log_path: Path | None = None, max_cases: int | None = None, progress=None) -> dict:
    """Evaluate each generator ("variant") on the same held-out cases; returns :func:`summarize_rows`'
    report {variant: summary}. ``log_path`` (JSONL) makes the run resumable."""
    from ifgrasp.sim.objects import make_object

    if isinstance(generators, GraspGenerator):
        generators = {"student": generators}
    unknown = [j for j in judges if j not in JUDGES]
    if unknown:
        raise ConfigError(f"unknown judge {unknown}; known: {known(JUDGES)}")
    if categories is not None and set(categories) - set(TASKS):
        raise ConfigError(f"unknown categories {sorted(set(categories) - set(TASKS))}; known: {known(TASKS)}")
    views = load_views(Path(views_dir))
    if not views:
        raise InputError(f"no held-out views in {views_dir} (run `ifgrasp views --split heldout`)")
    cases = student_cases(views, views_per_object, categories)
    if max_cases is not None:
        cases = cases[:max_cases]
    done = {(r["variant"], r["case"]): r for r in (read_rows(log_path) if log_path is not None else [])}
    rows = [r for r in done.values() if r["variant"] in generators]
    objects: dict = {}
    for i, case in enumerate(cases):
        key = _case_key(case)
        todo = [name for name in generators if (name, key) not in done]
        if not todo:
            continue
        cat, seed = case["category"], case["seed"]
        if (cat, seed) not in objects:
            obj = make_object(cat, seed)
            objects[(cat, seed)] = (obj, ObjectSDF.from_trimesh(obj.mesh, obj.name),
                                    obj.sample_surface(384, np.random.default_rng(seed))[0])
        obj, sdf, surface = objects[(cat, seed)]
        v = views[(cat, seed)]
        part_idx = obj.part_index(case["part"])
        points, mask = v["points"][case["view"]], v["point_part"][case["view"]] == part_idx
        T_object_camera = np.linalg.inv(v["T_camera_object"][case["view"]])
        made = {}
        for name in todo:
            gen = generators[name]
            case_seed = zlib.crc32(key.encode())  # the same noise for a case whatever the order or variant
            gen.rng = np.random.default_rng(case_seed)
            gen.gen = torch.Generator().manual_seed(case_seed)
            t0 = time.perf_counter()
            try:
                top = gen.generate(points, mask, k=k)
                error = None
            except ModelError as exc:  # e.g. every candidate rejected: counted as a failure, not skipped
                top, error = None, str(exc)
            made[name] = (top, error, time.perf_counter() - t0)
        grasps = {name: top.transformed(T_object_camera, "object") for name, (top, _, _) in made.items()
                  if top is not None}
        verdicts = judge_once(obj, grasps, judges, case["part"])
        for name in todo:
            top, error, latency = made[name]
            row = {"variant": name, "case": key, **case, "latency_s": latency, "error": error, "k": k}
            if top is None:
                row.update({f"lift_{j}": [] for j in _verdicts(judges)})
                row.update({"part_share": [], "contacts": [], **{p: [] for p in PRECHECK}})
            else:
                for verdict, ok in verdicts[name].items():
                    row[f"lift_{verdict}"] = [bool(x) for x in ok]
                stats = contact_stats(measuring_hand(), sdf, obj.face_part, part_idx, grasps[name], surface)
                row["part_share"] = [float(x) for x in stats.part_share]
                row["contacts"] = [int(x) for x in stats.num_contacts]  # hand samples within 5 mm of the object
                for p in PRECHECK:
                    row[p] = [float(x) for x in top.extras[p]]
                if "learned_lift_probability" in top.extras:  # the critic's score of each returned grasp
                    row["critic_score"] = [float(x) for x in top.extras["learned_lift_probability"]]
            rows.append(row)
            if log_path is not None:
                append_rows(log_path, [row])
        if progress is not None:
            progress(i + 1, len(cases))
    keep = {_case_key(c) for c in cases}
    return {name: summarize_rows([r for r in rows if r["variant"] == name and r["case"] in keep], k,
                                 _verdicts(judges)) for name in generators}


def judge_once(obj, grasps: dict[str, GraspBatch], judges, part: str) -> dict[str, dict[str, np.ndarray]]:
    """{variant: {verdict: (k,) bool}} for each variant's grasps (object frame) on one case. Grasps that
    several variants return (e.g. the same candidates ranked by two critics) are judged once, so equal
    grasps get equal verdicts and a case costs its distinct grasps only."""
    if not grasps:
        return {}
    names = list(grasps)
    every = GraspBatch(np.concatenate([grasps[n].wrist_pos_m for n in names]),
                       np.concatenate([grasps[n].wrist_rot for n in names]),
                       np.concatenate([grasps[n].joints_rad for n in names]), frame="object")
    rows = np.concatenate([every.wrist_pos_m, every.wrist_rot.reshape(len(every), 9), every.joints_rad], 1)
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    distinct = every.select(first)
    verdicts: dict[str, np.ndarray] = {}
    for j in judges:
        verdicts.update(JUDGES[j](obj, distinct, part))
    out, start = {}, 0
    for n in names:
        idx = inverse.reshape(-1)[start:start + len(grasps[n])]
        out[n] = {v: ok[idx] for v, ok in verdicts.items()}
        start += len(grasps[n])
    return out


def _verdicts(judges) -> tuple[str, ...]:
    """Verdict names the judges write: v1 -> v1; v2 -> v2, v2_lift."""
    return tuple(v for j in judges for v in ((j,) if j == "v1" else (j, f"{j}_lift")))


def _agg(sel: list[dict], k: int, judges) -> dict:
    if not sel:
        return {"cases": 0}
    out: dict = {"cases": len(sel), "errors": sum(r["error"] is not None for r in sel)}
    for j in judges:
        top1 = [bool(r[f"lift_{j}"][:1] == [True]) for r in sel]
        lo, hi = wilson_interval(sum(top1), len(top1))
        topk = np.array([np.mean(r[f"lift_{j}"][:k]) if r[f"lift_{j}"] else 0.0 for r in sel])
        half = 1.96 * topk.std(ddof=1) / np.sqrt(len(topk)) if len(topk) > 1 else 1.0
        out[j] = {"top1_lift": float(np.mean(top1)), "top1_ci95": [lo, hi], "topk_lift": float(topk.mean()),
                  "topk_ci95": [float(max(0, topk.mean() - half)), float(min(1, topk.mean() + half))],
                  # the best a ranking of these returned grasps could do: a case with any success among them
                  "any_returned": float(np.mean([any(r[f"lift_{j}"]) for r in sel]))}
        scored = [r for r in sel if r.get("critic_score") and len(r["critic_score"]) == len(r[f"lift_{j}"])]
        if scored:  # the critic's own ranking quality on the returned grasps (pooled over cases)
            from ifgrasp.grasp.diffusion.critic import roc_auc

            out[j]["critic_auc"] = roc_auc(np.concatenate([r["critic_score"] for r in scored]),
                                           np.concatenate([r[f"lift_{j}"] for r in scored]).astype(bool))
            # within a case (what picks its top-1): mean AUC over the cases with a success and a failure
            within = [roc_auc(np.asarray(r["critic_score"]), np.asarray(r[f"lift_{j}"], bool)) for r in scored
                      if 0 < sum(r[f"lift_{j}"]) < len(r[f"lift_{j}"])]
            out[j]["critic_auc_within_case"] = float(np.mean(within)) if within else float("nan")
            out[j]["critic_auc_cases"] = len(within)
    out["part_contact_share"] = float(np.mean([np.mean(r["part_share"]) if r["part_share"] else 0.0 for r in sel]))
    with_contacts = [r for r in sel if r.get("contacts")]  # rows logged before contacts were recorded lack them
    if with_contacts:  # the share above counts an output touching nothing as 0: the two causes apart
        n = np.concatenate([r["contacts"] for r in with_contacts])
        share = np.concatenate([r["part_share"] for r in with_contacts])
        out["touching_nothing"] = float((n == 0).mean())
        out["part_share_when_touching"] = float(share[n > 0].mean()) if (n > 0).any() else 0.0
    allg = {p: np.concatenate([np.asarray(r[p], float) for r in sel]) for p in PRECHECK}
    top1 = {p: np.asarray([r[p][0] for r in sel if r[p]], float) for p in PRECHECK}
    sp = allg["self_penetration_m"]
    out["precheck"] = {
        "outputs": int(len(sp)),
        "self_penetration_over_1mm": float((sp > SELF_PENETRATION_LIMIT_M).mean()) if len(sp) else 0.0,
        "self_penetration_mean_mm": float(sp.mean() * 1e3) if len(sp) else 0.0,
        "self_penetration_p95_mm": float(np.percentile(sp, 95) * 1e3) if len(sp) else 0.0,
        "cloud_penetration_mean_mm": float(allg["cloud_penetration_m"].mean() * 1e3) if len(sp) else 0.0,
        "cloud_penetration_p95_mm": float(np.percentile(allg["cloud_penetration_m"], 95) * 1e3) if len(sp) else 0.0,
        "tip_part_distance_mean_mm": float(allg["tip_part_distance_m"].mean() * 1e3) if len(sp) else 0.0,
        "top1_self_penetration_over_1mm": float((top1["self_penetration_m"] > SELF_PENETRATION_LIMIT_M).mean())
        if len(top1["self_penetration_m"]) else 0.0,
    }
    out["latency_median_ms"] = float(np.median([r["latency_s"] for r in sel]) * 1e3)
    return out


def summarize_rows(rows: list[dict], k: int, judges=("v1",)) -> dict:
    """``judges``: verdict names (``lift_<name>`` in the rows)."""
    out = {"overall": _agg(rows, k, judges), "per_task": {}, "per_category": {}}
    for task in sorted({f"{r['category']}/{r['part']}" for r in rows}):
        out["per_task"][task] = _agg([r for r in rows if f"{r['category']}/{r['part']}" == task], k, judges)
    for c in sorted({r["category"] for r in rows}):
        out["per_category"][c] = _agg([r for r in rows if r["category"] == c], k, judges)
    return out


def summarize_log(log_path: Path, k: int = 8) -> dict:
    """{variant: summary} from a JSONL row log (a finished or partial run), every verdict it holds;
    cases judged by all variants only, so the variants stay paired."""
    rows = read_rows(log_path)
    if not rows:
        raise InputError(f"{log_path} holds no evaluated case yet")
    variants = sorted({r["variant"] for r in rows})
    common = set.intersection(*({r["case"] for r in rows if r["variant"] == v} for v in variants))
    verdicts = tuple(sorted({key[5:] for r in rows for key in r if key.startswith("lift_")}))
    return {v: summarize_rows([r for r in rows if r["variant"] == v and r["case"] in common], k, verdicts)
            for v in variants}
