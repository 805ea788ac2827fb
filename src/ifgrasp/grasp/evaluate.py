"""Teacher metrics (``ifgrasp eval teacher``): success, part accuracy, penetration, diversity.

Rates are given for all optimised grasps ("raw") and for the validated subset, i.e. the grasps the
dataset keeps: lifted in the nominal test, penetration <= ``max_penetration_m``, at least
``min_part_share`` of their contacts on the instructed part, and at least ``min_part_force_share`` of
the hand's normal force on it while lifted (a hand wrapped round a mug's body that brushes the handle
touches the handle but does not hold the mug by it).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field
from scipy.spatial.transform import Rotation

from ifgrasp.config import Config


class FilterConfig(Config):
    """Which grasps the teacher keeps. The default is the v2 filter (exact penetration, self-collision);
    :meth:`v1` the earlier one (sampled penetration), for side-by-side numbers."""

    penetration: Literal["exact", "sampled"] = Field(
        "exact", description="exact: MuJoCo's hand-object overlap at pre-grasp, grasp and squeeze "
        "(exact_penetration_m); sampled: hand surface samples vs the object SDF (max_penetration_m, v1)")
    max_penetration_m: float = Field(0.001, ge=0, description="deepest allowed hand-object overlap")
    max_self_penetration_m: float | None = Field(0.001, ge=0, description="deepest allowed overlap of two hand "
                                                 "links at the pre-grasp or grasp (None: not checked)")
    # A majority: "hold it by the handle" is a grasp whose contacts are mostly on the handle. At 0.1 the held-out
    # validated grasps kept 88% of their contacts on the instructed part and functional parts (handles, grips,
    # triggers, caps) 47%; with the synthesis's stronger off-part term 0.5 keeps 222 of its 229 held-out grasps.
    min_part_share: float = Field(0.5, ge=0, le=1, description="share of contacts on the instructed part (geometric)")
    min_contacts: int = Field(1, ge=0, description="hand surface samples touching the object")
    min_part_force_share: float = Field(0.05, ge=0, le=1, description="share of the hand's normal force on the "
                                        "instructed part while lifted (physics)")
    min_label: float = Field(0.5, ge=0, le=1, description="IFG's continuous label: share of the nominal and "
                             "perturbed executions that lift; a majority keeps grasps that survive a few mm of "
                             "pose error, as a predicted grasp will have")

    @classmethod
    def v1(cls) -> "FilterConfig":
        """The filter before issue 21: sampled penetration <= 2 mm, no self-collision check."""
        return cls(penetration="sampled", max_penetration_m=0.002, max_self_penetration_m=None)

    def describe(self) -> str:
        """What a validated grasp passed, in words (for dataset cards)."""
        pen = "exact" if self.penetration == "exact" else "sampled"
        selfpen = ("" if self.max_self_penetration_m is None else
                   f", hand self-penetration <= {self.max_self_penetration_m * 1000:g} mm")
        return (f"lifted at its own pose and in >= {self.min_label:.0%} of its nominal + perturbed executions, "
                f"{pen} penetration <= {self.max_penetration_m * 1000:g} mm{selfpen}, >= {self.min_part_share:.0%} "
                f"of its contacts and >= {self.min_part_force_share:.0%} of the grip's normal force on the instructed part")


def validated_mask(data: dict[str, np.ndarray], cfg: FilterConfig | None = None) -> np.ndarray:
    """(N,) bool: the grasps the teacher keeps. Grasps lacking a field the filter reads (e.g. labels
    made before exact penetration was measured) are not kept."""
    cfg = cfg or FilterConfig()
    n = len(data["lift"])
    nan = np.full(n, np.nan)
    pen = data.get("exact_penetration_m", nan) if cfg.penetration == "exact" else data["max_penetration_m"]
    keep = (
        (np.nan_to_num(data["lift"].astype(float)) > 0.5)
        & (pen <= cfg.max_penetration_m)
        & (data["part_share"] >= cfg.min_part_share)
        & (data["num_contacts"] >= cfg.min_contacts)
        & (data["part_force_share"] >= cfg.min_part_force_share)
        & (data["label"] >= cfg.min_label)
    )
    if cfg.max_self_penetration_m is not None:
        keep &= data.get("self_penetration_m", nan) <= cfg.max_self_penetration_m
    return keep


#: Physics results of a shard whose labels a re-validation replaced: kept as ``v1_<name>``.
V1_FIELDS = ("lift", "shake", "six_dir", "six_dir_held", "label", "lift_displacement_m", "part_force_share")


def v1_view(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The dataset as the v1 judge labelled it: grasps re-validated under v2 read their kept
    ``v1_*`` labels; grasps still labelled by v1 their own (NaN where neither exists)."""
    judge = data.get("judge", np.full(len(data["lift"]), "v1"))
    out = dict(data)
    for f in V1_FIELDS:
        if f not in data:
            continue
        old = data.get(f"v1_{f}")
        cur = data[f].astype(float)
        if old is None:
            old = np.full(cur.shape, np.nan)
        mask = (judge == "v1").reshape((-1,) + (1,) * (cur.ndim - 1))
        out[f] = np.where(mask, cur, old.astype(float))
    return out


def v1_validated_mask(data: dict[str, np.ndarray]) -> np.ndarray:
    """(N,) the grasps the v1 judge and filter kept (False where no v1 label exists)."""
    return validated_mask(v1_view(data), FilterConfig.v1())


#: Push classes of the 6-direction test, by the angle between the push and the palm normal.
PUSH_CLASSES = ("into_palm", "sideways", "out_of_palm")


def six_dir_by_push(data: dict[str, np.ndarray], mask: np.ndarray) -> dict:
    """Share of the 6-direction pushes held, split by where each push drives the object relative to
    the hand: into the palm, sideways, or out of the palm (more than 60 degrees from the palm plane
    either way). Over the selected grasps that were tested (lifted, with per-push results stored);
    ``grasps_tested`` 0 where none were."""
    from ifgrasp.grasp.validate import SIX_DIRECTIONS
    from ifgrasp.hand import PALM_NORMAL_IN_HAND

    held = data.get("six_dir_held")
    if held is None:
        return {"grasps_tested": 0}
    tested = mask & data["lift"].astype(bool) & ~np.isnan(held.astype(float)).any(1)
    if not tested.any():
        return {"grasps_tested": 0}
    # cosine between each push (object frame) and the palm normal (hand frame -> object frame)
    palm_normal = data["wrist_rot"][tested].astype(float) @ PALM_NORMAL_IN_HAND  # (T, 3)
    cos = palm_normal @ SIX_DIRECTIONS.T  # (T, 6)
    ok = held[tested].astype(bool)
    classes = {"into_palm": cos < -0.5, "sideways": np.abs(cos) <= 0.5, "out_of_palm": cos > 0.5}
    out = {"grasps_tested": int(tested.sum()), "all_six": float(ok.all(1).mean())}
    for name, sel in classes.items():
        out[name] = float(ok[sel].mean()) if sel.any() else float("nan")
    return out


def orientation_spread_rad(wrist_rot: np.ndarray) -> float:
    """Mean geodesic angle (rad) of the wrist orientations to their chordal mean."""
    if len(wrist_rot) < 2:
        return 0.0
    rots = Rotation.from_matrix(wrist_rot)
    return float(np.mean((rots * rots.mean().inv()).magnitude()))


def group_metrics(data: dict[str, np.ndarray], mask: np.ndarray) -> dict:
    """Metrics of the grasps selected by ``mask``."""
    n = int(mask.sum())
    if n == 0:
        return {"grasps": 0}
    sel = {k: v[mask] for k, v in data.items()}
    return {
        "grasps": n,
        "lift": float(sel["lift"].mean()),
        "shake": float(sel["shake"].mean()),
        "six_dir": float(sel["six_dir"].mean()),
        "label_under_perturbation": float(sel["label"].mean()),
        "part_contact_share": float(sel["part_share"].mean()),
        "part_force_share": float(sel["part_force_share"].mean()) if "part_force_share" in sel else float("nan"),
        "all_contacts_on_part": float(sel["all_on_part"].mean()),
        "penetration_mean_mm": float(sel["max_penetration_m"].mean() * 1e3),
        "penetration_max_mm": float(sel["max_penetration_m"].max() * 1e3),
        "contacts_mean": float(sel["num_contacts"].mean()),
        "joint_std_rad": float(sel["joints_rad"].std(0).mean()),
        "wrist_orientation_spread_rad": orientation_spread_rad(sel["wrist_rot"]),
        "six_dir_by_push": six_dir_by_push(data, mask),
        **judge_metrics(data, mask),
    }


def _stats(x: np.ndarray, scale: float) -> dict:
    x = x[np.isfinite(x)] * scale
    if len(x) == 0:
        return {"mean": float("nan"), "median": float("nan"), "p95": float("nan"), "max": float("nan")}
    return {"mean": float(x.mean()), "median": float(np.median(x)), "p95": float(np.percentile(x, 95)),
            "max": float(x.max())}


def judge_metrics(data: dict[str, np.ndarray], mask: np.ndarray) -> dict:
    """The v2 judge's measurements over the selected grasps (NaN where their shards lack them):
    exact and self-penetration (mm), the shove while closing (cm, deg), the object's rotation in the
    hand after the shake (or the lift, for grasps that did not lift; deg), the grip margin (friction x
    squeeze / weight; ``grip_margin_over_1``: the share that could carry the weight by friction), the
    thumb's share of that force (``thumb_off``: the share of grasps whose thumb bears less than
    ``THUMB_OFF_SHARE`` of it: fingers pushing the object against nothing), and how many of them the
    v1 and the v2 judge keep."""
    nan = np.full(len(data["lift"]), np.nan)
    rot = np.where(np.isfinite(data.get("shake_rotation_rad", nan)), data.get("shake_rotation_rad", nan),
                   data.get("lift_rotation_rad", nan))
    grip = data.get("grip_margin", nan)[mask]
    thumb = data.get("thumb_force_share", nan)[mask]
    old = v1_view(data)
    v1 = validated_mask(old, FilterConfig.v1())
    judge = data.get("judge", np.full(len(data["lift"]), "v1"))
    return {
        "exact_penetration_mm": _stats(data.get("exact_penetration_m", nan)[mask], 1e3),
        "self_penetration_mm": _stats(data.get("self_penetration_m", nan)[mask], 1e3),
        "self_collision_over_1mm": int((data.get("self_penetration_m", nan)[mask] > 0.001).sum()),
        "shove_cm": _stats(data.get("shove_m", nan)[mask], 1e2),
        "shove_deg": _stats(data.get("shove_rad", nan)[mask], 180 / np.pi),
        "rotation_deg": _stats(rot[mask], 180 / np.pi),
        "grip_margin": _stats(grip, 1.0),
        "grip_margin_over_1": _nanmean(np.where(np.isfinite(grip), grip >= 1.0, np.nan)),
        "thumb_force_share": _stats(thumb, 1.0),
        "thumb_off": _nanmean(np.where(np.isfinite(thumb), thumb < THUMB_OFF_SHARE, np.nan)),
        "validated_v1": int(v1[mask].sum()),
        "validated_v2": int(validated_mask(data)[mask].sum()),
        "v1_labels": int(np.isfinite(old["lift"].astype(float)[mask]).sum()),
        **{f"v1_{k}": _nanmean(old[k].astype(float)[mask]) for k in ("lift", "shake", "six_dir")},
        **{f"v2_{k}": _nanmean(np.where(judge == "v2", data[k].astype(float), np.nan)[mask])
           for k in ("lift", "shake", "six_dir")},
    }


def _nanmean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else float("nan")


def teacher_report(data: dict[str, np.ndarray], cfg: FilterConfig | None = None) -> dict:
    """Raw and validated metrics, overall, per category and per task (``category/part``: a mug's
    handle and its body are graspable to very different part accuracies); ``kept_by_v1``: the
    grasps the v1 judge kept, measured by today's (e.g. their exact penetration)."""
    keep = validated_mask(data, cfg)
    kept_v1 = v1_validated_mask(data)
    everything = np.ones(len(keep), bool)
    report = {
        "raw": group_metrics(data, everything),
        "validated": group_metrics(data, keep),
        "kept_by_v1": group_metrics(data, kept_v1),
        "validated_share": float(keep.mean()) if len(keep) else 0.0,
        "filter": (cfg or FilterConfig()).describe(),
    }
    tasks = np.char.add(np.char.add(data["category"].astype(str), "/"), data["part"].astype(str))
    for by, labels in (("per_category", data["category"]), ("per_task", tasks)):
        report[by] = {}
        for name in sorted(set(labels)):
            mask = labels == name
            report[by][name] = {"raw": group_metrics(data, mask), "validated": group_metrics(data, mask & keep),
                                "kept_by_v1": group_metrics(data, mask & kept_v1)}
    return report


def report_table(report: dict, by: str = "per_category") -> list[list[str]]:
    """Rows for a printed table: category (or task, ``by="per_task"``), group, N, lift, shake, 6-dir,
    part share, all-on-part, part force share, mean/max penetration (mm), mean contacts, diversity
    (per-joint std and wrist-orientation spread, radians)."""

    def row(name, group, m):
        if m.get("grasps", 0) == 0:
            return [name, group, "0"] + ["-"] * (len(TABLE_HEADER) - 3)
        pct = lambda x: f"{100 * x:.0f}%"  # noqa: E731
        return [
            name, group, str(m["grasps"]), pct(m["lift"]), pct(m["shake"]), pct(m["six_dir"]),
            pct(m["part_contact_share"]), pct(m["all_contacts_on_part"]), pct(m["part_force_share"]),
            f"{m['penetration_mean_mm']:.2f}", f"{m['penetration_max_mm']:.2f}", f"{m['contacts_mean']:.1f}",
            f"{m['joint_std_rad']:.2f}", f"{m['wrist_orientation_spread_rad']:.2f}",
        ]

    rows = [row("ALL", "raw", report["raw"]), row("ALL", "validated", report["validated"])]
    for c, groups in report.get(by, {}).items():
        rows.append(row(c, "raw", groups["raw"]))
        rows.append(row(c, "validated", groups["validated"]))
    return rows


def push_table(report: dict, by: str = "per_task") -> list[list[str]]:
    """Rows for the 6-direction breakdown of validated grasps: name, grasps tested, share of pushes held
    into the palm / sideways / out of the palm, and the share of them holding all six (the 6-dir rate
    over the same grasps). Groups without per-push results are left out."""

    def row(name, m):
        p = m.get("six_dir_by_push", {})
        if not p.get("grasps_tested"):
            return None
        pct = lambda x: "-" if np.isnan(x) else f"{100 * x:.0f}%"  # noqa: E731
        return [name, str(p["grasps_tested"])] + [pct(p[c]) for c in PUSH_CLASSES] + [pct(p["all_six"])]

    rows = [row("ALL", report["validated"])] + [row(c, g["validated"]) for c, g in report.get(by, {}).items()]
    return [r for r in rows if r is not None]


#: A thumb bearing less than this share of the hand's normal force on the object after the squeeze is
#: "off": the fingers push the object against nothing but the table's friction.
THUMB_OFF_SHARE = 0.05

PUSH_TABLE_HEADER = ["task", "tested", "into palm", "sideways", "out of palm", "all six"]

TABLE_HEADER = ["category", "set", "N", "lift", "shake", "6-dir", "part share", "all on part", "part force",
                "sampled pen mean mm", "sampled pen max mm", "contacts", "joint std rad", "wrist spread rad"]


JUDGE_TABLE_HEADER = ["category", "set", "N", "kept v1", "kept v2", "lift v1", "lift v2", "shake v1", "shake v2",
                      "6-dir v1", "6-dir v2", "pen mean mm", "pen p95 mm", "pen max mm", "self-pen p95 mm",
                      "self >1mm", "shove cm", "shove deg", "rot deg", "rot p95 deg", "grip med", "grip >= 1",
                      "thumb off"]


def judge_table(report: dict, by: str = "per_category") -> list[list[str]]:
    """Rows comparing the v1 and v2 judges per category (or task, ``by="per_task"``), raw and validated
    (by the report's filter) and the grasps v1 kept: how many grasps each judge keeps, their lift / shake / 6-direction rates
    (v1: the labels kept from before the re-validation), and the v2 measurements (exact penetration,
    self-penetration, shove while closing, rotation in the hand; means unless marked)."""

    def f(x, fmt="{:.2f}"):
        return "-" if x is None or not np.isfinite(x) else fmt.format(x)

    def row(name, group, m):
        if m.get("grasps", 0) == 0:
            return [name, group, "0"] + ["-"] * (len(JUDGE_TABLE_HEADER) - 3)
        pct = lambda x: f(100 * x if x is not None else None, "{:.0f}%")  # noqa: E731
        return [
            name, group, str(m["grasps"]), str(m["validated_v1"]), str(m["validated_v2"]),
            pct(m["v1_lift"]), pct(m["v2_lift"]), pct(m["v1_shake"]), pct(m["v2_shake"]), pct(m["v1_six_dir"]),
            pct(m["v2_six_dir"]), f(m["exact_penetration_mm"]["mean"]), f(m["exact_penetration_mm"]["p95"]),
            f(m["exact_penetration_mm"]["max"]), f(m["self_penetration_mm"]["p95"]), str(m["self_collision_over_1mm"]),
            f(m["shove_cm"]["mean"]), f(m["shove_deg"]["mean"], "{:.1f}"), f(m["rotation_deg"]["mean"], "{:.1f}"),
            f(m["rotation_deg"]["p95"], "{:.1f}"), f(m["grip_margin"]["median"]), pct(m["grip_margin_over_1"]),
            pct(m["thumb_off"]),
        ]

    sets = (("raw", "raw"), ("validated", "validated"), ("kept_by_v1", "kept by v1"))
    rows = [row("ALL", label, report[key]) for key, label in sets if key in report]
    for c, groups in report.get(by, {}).items():
        rows += [row(c, label, groups[key]) for key, label in sets if key in groups]
    return rows
