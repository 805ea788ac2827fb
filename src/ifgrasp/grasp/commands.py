"""The teacher's command-line verbs (``synth``, ``eval teacher``, ``render-grasps``, ``bench teacher``)."""

from __future__ import annotations

import json
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from ifgrasp.errors import InputError, UnknownObjectError, known
from ifgrasp.grasp.dataset import (
    LATER_RESULTS, TASKS, DatasetConfig, RunInterrupted, generate, load_dataset, read_skipped, revalidate, shard_files,
    stale_shards, summarize,
)
from ifgrasp.grasp.evaluate import (JUDGE_TABLE_HEADER, PUSH_TABLE_HEADER, TABLE_HEADER, FilterConfig, judge_table,
                                    push_table, report_table, teacher_report, v1_view, validated_mask)
from ifgrasp.paths import CONFIG_DIR, DATA_DIR

console = Console()


def _hand():
    from ifgrasp.hand.model import LeapHandModel

    return LeapHandModel(n_surface_points=400)  # 400 samples: half the cost, same grasps (teacher)


#: The held-out evaluation kept beside the dataset, shown in its card when present.
HELDOUT_METRICS = "heldout_metrics.json"
HELDOUT_DIR = "heldout"  # the held-out shards, beside the training ones (load_dataset does not recurse)


def _dataset_config(config: Path | None, **overrides) -> DatasetConfig:
    path = config or CONFIG_DIR / "teacher_dataset.yaml"
    cfg = DatasetConfig.from_yaml(path) if path.exists() else DatasetConfig()
    top = {k: v for k, v in overrides.items()
           if k in ("per_category", "rounds", "categories", "parts", "split") and v is not None}
    data = cfg.model_dump()
    data.update(top)
    if overrides.get("batch") is not None:
        data["synthesis"]["batch"] = overrides["batch"]
    if overrides.get("steps") is not None:
        data["synthesis"][_optimiser(data["synthesis"]["method"])]["steps"] = overrides["steps"]
    return DatasetConfig.from_dict(data)


def _optimiser(method: str) -> str:
    """The synthesis config section whose ``steps`` the method runs: ``refine`` after antipodal
    targets, ``annealing`` otherwise."""
    return "refine" if method == "antipodal" else "annealing"


def _print_report(report: dict, title: str) -> None:
    # 14 columns: a log file or a pipe gets room for them (rich would squeeze them to 80 characters)
    out = console if console.is_terminal else Console(width=200)
    for by, heading in (("per_category", title), ("per_task", f"{title}: per instructed part")):
        table = Table(title=heading)
        for h in [("task" if by == "per_task" else "category")] + TABLE_HEADER[1:]:
            table.add_column(h)
        for row in report_table(report, by):
            table.add_row(*row)
        out.print(table)
    for by, heading in (("per_category", "judge v1 vs v2"), ("per_task", "judge v1 vs v2, per instructed part")):
        table = Table(title=f"{title}: {heading}")
        for h in [("task" if by == "per_task" else "category")] + JUDGE_TABLE_HEADER[1:]:
            table.add_column(h)
        for row in judge_table(report, by):
            table.add_row(*row)
        out.print(table)
    rows = push_table(report)
    if rows:
        table = Table(title=f"{title}: validated grasps, share of 6-direction pushes held")
        for h in PUSH_TABLE_HEADER:
            table.add_column(h)
        for row in rows:
            table.add_row(*row)
        out.print(table)


def synth_command(config, out, per_category, rounds, batch, steps, categories, worker: int = 0, workers: int = 1,
                  parts: str | None = None) -> None:
    cats = tuple(categories.split(",")) if categories else None
    for c in cats or ():
        if c not in TASKS:
            raise UnknownObjectError(f"unknown category '{c}'; known: {known(TASKS)}")
    wanted_parts = tuple(parts.split(",")) if parts else None
    if wanted_parts:
        offered = {part for c in (cats or TASKS) for part, _ in TASKS[c]}
        missing = sorted(set(wanted_parts) - offered)
        if missing:
            raise InputError(f"no task of {', '.join(cats) if cats else 'any category'} instructs the part(s) "
                             f"{', '.join(missing)}; parts there: {', '.join(sorted(offered))}")
    cfg = _dataset_config(config, per_category=per_category, rounds=rounds, batch=batch, steps=steps, categories=cats,
                          parts=wanted_parts)
    out = out or DATA_DIR / "teacher"
    t0 = time.perf_counter()
    with _sigterm_as_interrupt():
        try:
            run = {"shards_added": generate(_hand(), cfg, out, worker=worker, workers=workers)}
        except RunInterrupted as exc:  # the finished shards stay: log the partial run, refresh the card
            run = {"shards_added": exc.done, "interrupted": True}
            console.print(f"[yellow]interrupted: {exc.done} shards written this run are kept; "
                          "the same command resumes[/yellow]")
    if workers > 1:
        run["worker"] = f"{worker}/{workers}"
    _refresh_reports(out, cfg, run, t0)
    if run.get("interrupted"):
        raise SystemExit(130)
    stale = stale_shards(out, cfg)
    if stale:
        console.print(f"[yellow]{len(stale)} shards carry labels from other validation settings: "
                      f"`ifgrasp revalidate --out {out}` brings them up to date[/yellow]")
    incomplete = len(stale_shards(out, cfg, incomplete=True)) - len(stale)
    if incomplete:
        console.print(f"{incomplete} shards predate results the judge added later ({', '.join(LATER_RESULTS)}; "
                      f"their labels stand): `ifgrasp revalidate --out {out} --incomplete` re-runs their physics "
                      "to add them")


@contextmanager
def _sigterm_as_interrupt():
    """Within the block, SIGTERM (``kill``, a job scheduler) stops like Ctrl-C: a long run leaves through
    the same path that keeps its finished work."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def revalidate_command(config, out, worker: int, workers: int, incomplete: bool = False) -> None:
    cfg = _dataset_config(config)
    out = out or DATA_DIR / "teacher"
    if not shard_files(out):
        raise InputError(f"no shards in {out}: make them with `ifgrasp synth --out {out}`")
    t0 = time.perf_counter()
    with _sigterm_as_interrupt():
        try:
            run = {"action": "revalidate", "shards_revalidated": revalidate(cfg, out, worker, workers,
                                                                            incomplete=incomplete)}
        except RunInterrupted as exc:  # the rewritten shards are current: log the partial run
            run = {"action": "revalidate", "shards_revalidated": exc.done, "interrupted": True}
            console.print(f"[yellow]interrupted: {exc.done} shards re-validated this run are kept; "
                          "the same command resumes[/yellow]")
    n = run["shards_revalidated"]
    if workers > 1:
        run["worker"] = f"{worker}/{workers}"
    if run.get("interrupted"):  # the card shows the labels as they stand, as after an interrupted synth
        _refresh_reports(out, cfg, run, t0)
        raise SystemExit(130)
    if stale_shards(out, cfg, incomplete):  # another worker is still at it: the last one to finish writes the reports
        _log_run(out, cfg, run, time.perf_counter() - t0)
        console.print(f"revalidated {n} shards; other workers still running, reports left to the last one")
        return
    _refresh_reports(out, cfg, run, t0)


def _refresh_reports(out: Path, cfg: DatasetConfig, run: dict, t0: float) -> None:
    """Log the run in ``runs.json``; rewrite ``summary.json``, ``metrics.json`` and the card."""
    data = load_dataset(out)
    summary = summarize(data)
    summary["skipped_shards"] = read_skipped(out)
    summary["wall_s_this_run"] = time.perf_counter() - t0
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    runs = _log_run(out, cfg, run, summary["wall_s_this_run"])
    report = teacher_report(data)
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    write_dataset_card(out, cfg, summary, report, runs)
    _print_report(report, f"teacher dataset {out}")
    console.print(
        f"{len(data['lift'])} grasps, {summary['validated_grasps']} validated, "
        f"{summary['objects']} objects; compute {summary['seconds'] / 3600:.2f} h; summary -> {out / 'summary.json'}"
    )


def _log_run(out: Path, cfg: DatasetConfig, run: dict, wall_s: float) -> list[dict]:
    """Append this ``synth`` or ``revalidate`` run (``run``: what it did) to ``runs.json`` (the dataset
    grows over several runs) and return them all."""
    path = out / "runs.json"
    runs = json.loads(path.read_text()) if path.exists() else []
    runs.append({"finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "split": cfg.split,
                 "categories": list(cfg.categories) if cfg.categories else "all", "rounds": cfg.rounds,
                 "per_category": cfg.per_category, **({"parts": list(cfg.parts)} if cfg.parts else {}), **run,
                 "wall_s": round(wall_s, 1)})
    path.write_text(json.dumps(runs, indent=1))
    return runs


def _markdown_table(rows: list[list[str]], first_column: str = "category", header: list[str] = TABLE_HEADER) -> str:
    """A table (default: the teacher-metrics ``TABLE_HEADER`` columns, the first one named ``first_column``)
    as Markdown."""
    header = [first_column] + header[1:]
    return "\n".join("| " + " | ".join(r) + " |" for r in [header, ["---"] * len(header), *rows])


def _judge_section(report: dict) -> str:
    """The v1-vs-v2 judge comparison per task, as Markdown ("" for reports made before it)."""
    if "exact_penetration_mm" not in report.get("raw", {}):
        return ""
    return ("\nJudge v1 vs v2 per instructed part (issue 21; \"kept\": validated by each judge and its filter, v1: "
            f"{FilterConfig.v1().describe()}; v2: {FilterConfig().describe()}; v1 rates are the labels kept from "
            "before the re-validation; pen = exact hand-object penetration, max over pre-grasp, grasp, squeeze; "
            "self-pen over pre-grasp and grasp; shove = the object's motion while the hand closes; rot = its "
            "rotation in the hand after the shake, or the lift):\n\n"
            + _markdown_table(judge_table(report, "per_task"), "task", JUDGE_TABLE_HEADER) + "\n")


def _push_section(report: dict) -> str:
    """The 6-direction test of the validated grasps split by push direction, as Markdown ("" when the
    shards predate per-push results)."""
    rows = push_table(report)
    if not rows:
        return ""
    return ("\n6-direction test of the validated grasps by push (into the palm, sideways, out of the palm: more "
            "than 60 degrees from the palm plane either way), over the grasps whose shards store per-push "
            "results:\n\n" + _markdown_table(rows, "task", PUSH_TABLE_HEADER) + "\n")


def write_dataset_card(out: Path, cfg: DatasetConfig, summary: dict, report: dict, runs: list[dict] = ()) -> Path:
    """``CARD.md`` beside the shards: how the dataset was made, how long it took, what it scores."""
    def hours(r: dict) -> str:
        return "n/a" if r.get("wall_s") is None else f"{r['wall_s'] / 3600:.2f}"

    def did(r: dict) -> str:
        worker = f" (worker {r['worker']})" if "worker" in r else ""
        if r.get("action") == "revalidate":
            return f"{r['shards_revalidated']} re-validated{worker}"
        return f"{r['shards_added']} added{worker}"

    run_lines = "\n".join(
        f"| {r['finished']} | {r['categories'] if isinstance(r['categories'], str) else ','.join(r['categories'])} "
        f"| {r['rounds']} | {did(r)} | {hours(r)} |" for r in runs)
    table = _markdown_table(report_table(report))
    config_lines = "\n".join(
        f"| `{c}` | {r['grasps']} | {r['lift']:.0%} | {r['shake']:.0%} | {r['six_dir']:.0%} | {r['validated']} |"
        for c, r in summary.get("per_config", {}).items())
    heldout_path = out / HELDOUT_METRICS
    heldout = ""
    if heldout_path.exists():
        h = json.loads(heldout_path.read_text())
        heldout = (
            f"\n## Held-out objects (`{HELDOUT_METRICS}`: `{h.get('command', 'ifgrasp eval teacher --split heldout')}`; "
            f"{h.get('objects', '?')} objects, settings "
            f"{', '.join(f'`{c}`' for c in h.get('configs', [])) or 'unrecorded'})\n\n"
            + (f"Its grasps and labels are in `{HELDOUT_DIR}/` (made by `ifgrasp eval teacher --split heldout`, "
               f"settings in its `config.yaml`; `ifgrasp synth --config {out / HELDOUT_DIR}/config.yaml --out "
               f"{out / HELDOUT_DIR} --rounds R` adds rounds, its `runs.json` lists them): re-scoring them under a "
               f"new filter needs no physics.\n\n"
               if (out / HELDOUT_DIR).is_dir() else "")
            + _markdown_table(report_table(h)) + "\n"
            + (f"\nPer instructed part:\n\n{_markdown_table(report_table(h, 'per_task'), 'task')}\n" if "per_task" in h else "")
            + _judge_section(h)
            + _push_section(h)
        )
    text = f"""# Teacher grasp dataset ({cfg.split} objects)

Made by `ifgrasp synth --out {out}` with {"`config/teacher_dataset.yaml`" if cfg.split == "train" else "a `--config` for this split"}
(the last run's config: `config.yaml`; every run: `runs.json`). Resumable: one shard per (object, part, round); objects
are regenerated from (category, seed); re-running a command adds only its missing shards.

- Grasps: {report["raw"].get("grasps", 0)} optimised, {summary.get("validated_grasps", 0)} validated
  ({FilterConfig().describe()}), over {summary.get("objects", 0)} objects.
- Compute: {summary.get("seconds", 0) / 3600:.2f} CPU-hours of synthesis + physics on the 2-core machine
  (shared with other work while it ran).
- Synthesis: antipodal contact targets on the instructed part + Adam refinement of the energy
  (force closure, contact distance, penetration both ways, self-penetration, joint limits, table,
  parts to avoid); see `ifgrasp.grasp.synthesis`.
- Validation: MuJoCo, LEAP Hand welded to a target moved like an arm's flange (minimum-jerk lift,
  shake ramped in and out, set-points at 250 Hz), position-controlled fingers closing from a
  pre-grasp and squeezing; lift 20 cm, shake 3 axes, 6 gravity directions; 2 perturbed copies per
  lifted grasp give the continuous label. Judge v2 (issue 21; `ifgrasp.grasp.validate`): the real
  hand's finger gains, torque limit and TPU friction from the LEAP driver's settings
  (`config/drivers.yaml`, `ifgrasp.hand.strength`); success = object moves < 2 cm and turns < 10 deg
  relative to the hand in every test, measured from its pose before the hand closes; exact
  hand-object and hand self-penetration (MuJoCo collision). Grasps labelled by the earlier judge keep
  those labels as `v1_*` fields for the comparison table. Compute counts the labels as they stand: a
  re-validation replaces the physics time it redid.

## Metrics (raw = every optimised grasp; validated = the kept subset)

{table}

Per instructed part (a mug's body and its handle are very different tasks; the overall part share is
carried by the body and one-part objects):

{_markdown_table(report_table(report, "per_task"), "task")}
{_judge_section(report)}
{_push_section(report)}
{heldout}
## Settings generations (`configs/<digest>.yaml`; raw rates over every optimised grasp)

Each generation covers its own mix of categories and rounds: compare them per category, not here.

| config | grasps | lift | shake | 6-dir | validated |
|---|---|---|---|---|---|
{config_lines}

## Runs (`synth --categories --rounds` adds the shards it lacks, `--worker I --workers N` shares them between processes; `revalidate` re-runs the physics of shards made under older validation settings)

| finished | categories | rounds | shards | wall h |
|---|---|---|---|---|
{run_lines}

"part share" = share of hand surface samples within 5 mm of the object that lie on the instructed
part; "all on part" = grasps whose every such contact is on it; "part force" = share of the hand's
contact force on the part while the object is lifted.
"""
    path = out / "CARD.md"
    path.write_text(text)
    return path


def eval_teacher_command(dataset, split, per_category, batch, steps, out: Path) -> None:
    made = None
    if dataset is None:
        cfg = _dataset_config(None, split=split, per_category=per_category, batch=batch, steps=steps)
        dataset = made = Path(out).with_suffix("") / f"{split}_dataset"
        generate(_hand(), cfg, dataset)
    data = load_dataset(dataset)
    report = teacher_report(data)
    report["configs"] = sorted(set(data["config"].tolist()))  # the settings generations it measures
    report["objects"] = len(set(zip(data["category"].tolist(), data["object_seed"].tolist())))
    args = f"--dataset {dataset}" if made is None else f"--split {split}" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in (("per_category", per_category), ("batch", batch), ("steps", steps))
        if v is not None)
    report["command"] = f"ifgrasp eval teacher {args}"
    _print_report(report, f"teacher evaluation ({dataset})")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    console.print(f"report -> {out}")


def render_grasps_command(category, seed, part, dataset, count, steps, out, validated: bool = False,
                          judge: str = "v2") -> None:
    from ifgrasp.grasp.render import contact_points, grasp_grid
    from ifgrasp.grasp.synthesis.synthesize import synthesize
    from ifgrasp.grasp.validate import validate
    from ifgrasp.sim.objects import make_object
    from ifgrasp.types import GraspBatch

    if category not in TASKS:
        raise UnknownObjectError(f"unknown category '{category}'; known: {known(TASKS)}")
    part = part or TASKS[category][0][0]
    avoid = dict(TASKS[category]).get(part, ())
    obj = make_object(category, seed)
    hand = _hand()
    if dataset is not None:
        data = load_dataset(dataset)
        mask = (data["category"] == category) & (data["object_seed"] == seed) & (data["part"] == part)
        if judge not in ("v1", "v2"):
            raise InputError(f"unknown judge '{judge}'; known: v1, v2")
        labels = v1_view(data) if judge == "v1" else data  # v1: the labels a re-validation kept as v1_*
        if validated:
            mask &= validated_mask(labels, FilterConfig.v1() if judge == "v1" else FilterConfig())
        sel = np.flatnonzero(mask)[:count]
        if len(sel) == 0:
            raise InputError(f"{dataset} holds no {judge + '-validated ' if validated else ''}grasp of {category} seed "
                             f"{seed}, part '{part}'")
        grasps = GraspBatch(data["wrist_pos_m"][sel].astype(float), data["wrist_rot"][sel].astype(float),
                            data["joints_rad"][sel].astype(float), frame="object")
        lift = np.nan_to_num(labels["lift"][sel].astype(float)) > 0.5
        share = data["part_share"][sel]
    else:
        cfg = _dataset_config(None, batch=count, steps=steps).synthesis
        grasps = synthesize(hand, obj, part, avoid, cfg, seed=seed)
        lift = validate(obj, grasps, six_dir=False).lift
        share = grasps.extras["part_share"]
    captions = [f"#{i} lift {'OK' if lift[i] else 'fail'}  on-{part} {100 * share[i]:.0f}%" for i in range(len(grasps))]
    path = grasp_grid(obj, grasps, contact_points(hand, obj, grasps), captions, out,
                      title=f"{obj.name}: grasp the {part}" + (f", avoid {', '.join(avoid)}" if avoid else "")
                      + (f"  ({judge}-validated)" if dataset is not None and validated else ""))
    console.print(f"wrote {path}")


def bench_teacher_command(batch, steps, objects) -> None:
    """Time the dataset's unit of work (``run_shard``: synthesis, then physics) on the first
    training objects' first tasks; per-shard medians / p95 and the throughputs that set the
    dataset's cost."""
    import torch

    from ifgrasp.grasp.dataset import Shard, run_shard, shard_progress
    from ifgrasp.sim.objects import object_family
    from ifgrasp.timing import LatencyStats

    cfg = _dataset_config(None, batch=batch, steps=steps)
    hand = _hand()
    pairs = [(c, s) for c, s in object_family("train", per_category=1) if c in TASKS][:objects]
    syn, val = [], []
    n = lifted = kept = 0
    with shard_progress(console.is_terminal) as bar:
        task = bar.add_task("bench teacher", total=len(pairs))
        for c, s in pairs:
            part, avoid = TASKS[c][0]
            bar.update(task, description=f"bench teacher {c}/{part}")
            arrays = run_shard(hand, Shard(c, s, part, tuple(avoid), 0), cfg)
            syn.append(float(arrays["synthesis_s"]))
            val.append(float(arrays["validation_s"]))
            n += len(arrays["lift"])
            lifted += int(arrays["lift"].sum())
            kept += int(validated_mask(arrays).sum())
            bar.advance(task)
    steps_run = getattr(cfg.synthesis, _optimiser(cfg.synthesis.method)).steps
    table = Table(title=f"teacher, {len(pairs)} shards of {batch} grasps ({cfg.synthesis.method}, {steps_run} steps), "
                        f"{torch.get_num_threads()} torch thread(s)")
    for h in ("stage", "median s / shard", "p95 s / shard", "grasps / s"):
        table.add_column(h)
    for name, times in (("synthesis", syn), ("physics validation", val),
                        ("end to end", [a + b for a, b in zip(syn, val)])):
        stats = LatencyStats(name, np.asarray(times))
        table.add_row(name, f"{stats.median_s:.1f}", f"{stats.p95_s:.1f}", f"{n / sum(times):.2f}")
    console.print(table)
    hours = (sum(syn) + sum(val)) / 3600
    console.print(f"lift {lifted / n:.0%}, validated {kept / n:.0%} of the optimised grasps")
    console.print(f"{kept / hours:.0f} validated grasps per CPU-hour on these tasks")
