"""The student's command-line verbs: ``views``, ``train``, ``export``, ``eval student``, ``bench generate``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from ifgrasp.errors import ConfigError
from ifgrasp.grasp.diffusion.critic import CriticConfig, resolve_critic, train_critic
from ifgrasp.grasp.diffusion.train import TrainConfig, load_checkpoint, train
from ifgrasp.paths import CONFIG_DIR, DATA_DIR, MODELS_DIR, OUT_DIR
from ifgrasp.timing import LatencyStats, measure

console = Console()
#: the DDIM student ``ifgrasp train`` writes (and ``ifgrasp distill`` distils); the base of the old default path
BASE_CHECKPOINT = MODELS_DIR / "student" / "student.pt"
#: the pipeline's default generator: the rectified flow distilled from it, 4 Euler steps (MODEL_CARD.md)
DEFAULT_CHECKPOINT = MODELS_DIR / "student" / "student_flow.pt"


def views_command(split: str, views_per_object: int, out: Path | None) -> Path:
    from ifgrasp.grasp.diffusion.views import ViewConfig, build_view_set
    from ifgrasp.sim.objects import object_family

    out = out or DATA_DIR / "views" / split
    build_view_set(object_family(split), ViewConfig(views_per_object=views_per_object), out,
                   seed=0 if split == "train" else 1)
    console.print(f"views -> {out}")
    return out


def _train_config(cls, default_yaml: str, config: Path | None, steps: int | None):
    """``cls`` from ``config`` (default ``config/<default_yaml>``; the class defaults if absent), ``steps`` overridden."""
    path = config or CONFIG_DIR / default_yaml
    cfg = cls.from_yaml(path) if path.exists() else cls()
    return cfg.replace(steps=steps) if steps is not None else cfg


def train_command(config: Path | None, out: Path | None, steps: int | None, critic: bool = False) -> dict:
    if critic:
        # a refit is adopted by copying it beside the student once measured (models/student/MODEL_CARD.md):
        # by default it must not replace the critic the shipped ONNX graph was exported with
        out = out or OUT_DIR / "critic"
        summary = train_critic(_train_config(CriticConfig, "critic.yaml", config, steps), out)
        console.print(f"critic trained: {json.dumps(summary)} -> {out / 'critic.pt'} "
                      f"(adopt it by copying it to {BASE_CHECKPOINT.parent / 'critic.pt'} and re-exporting)")
        return summary
    out = out or BASE_CHECKPOINT.parent
    summary = train(_train_config(TrainConfig, "student.yaml", config, steps), out)
    console.print(f"trained: {json.dumps(summary)} -> {out / 'student.pt'}")
    return summary


def distill_command(config: Path | None, out: Path | None, steps: int | None) -> dict:
    """``ifgrasp distill``: the few-step flow student from the DDIM student (:mod:`.distill`)."""
    import torch

    from ifgrasp.grasp.diffusion.distill import DistillConfig, distill

    torch.set_num_threads(1)  # a shared CPU: one thread, run it niced in the background
    out = out or OUT_DIR / "distill"  # couplings and optimiser state stay out of models/ (tens of MB)
    summary = distill(_train_config(DistillConfig, "distill.yaml", config, steps), out)
    console.print(f"distilled: {json.dumps(summary)} -> {out / 'student_flow.pt'}")
    return summary


def export_command(checkpoint: Path | None, out: Path | None, steps: int | None, critic: str = "auto",
                   ranking: bool = True) -> None:
    """``steps`` None: the checkpoint's own (8 for the DDIM student, the distilled one's recorded count);
    ``out`` None: the checkpoint's path with ``.onnx`` (models/student/student_flow.onnx for the default);
    ``ranking``: the ranking's measures in the same graph (what the generator's ``auto`` runtime uses)."""
    from ifgrasp.grasp.diffusion.export import OPSET, export_onnx, max_abs_difference

    checkpoint = Path(checkpoint or DEFAULT_CHECKPOINT)
    policy = load_checkpoint(checkpoint)
    steps = steps or policy.default_steps
    learned = resolve_critic(critic, checkpoint)
    path = export_onnx(policy, out or checkpoint.with_suffix(".onnx"), steps=steps, critic=learned, ranking=ranking)
    diffs = max_abs_difference(policy, path, steps, critic=learned, per_output=True)
    console.print(f"ONNX (opset {OPSET}, {steps} {policy.sampler.upper()} steps"
                  f"{', critic' if learned is not None else ''}{', ranking' if ranking else ''} in the graph) -> "
                  f"{path}; max |torch - onnxruntime| = {max(diffs.values()):.2e} "
                  f"({', '.join(f'{k} {v:.1e}' for k, v in diffs.items())})")


def _bench_cloud(seed: int = 0):
    """A real 2,048-point partial view of a held-out mug (its handle as the part)."""
    from ifgrasp.grasp.diffusion.views import ViewConfig, render_object_views
    from ifgrasp.sim.objects import make_object, object_family

    seed_obj = next(s for c, s in object_family("heldout") if c == "mug")
    views = render_object_views("mug", seed_obj, ViewConfig(views_per_object=1), np.random.default_rng(seed))
    part = make_object("mug", seed_obj).part_index("handle")
    return views["points"][0], views["point_part"][0] == part


#: the issue's ONNX latency before this work (base model, 8 DDIM steps, sampler graph + ranking in torch)
ISSUE_ONNX_MS = 86.6


def bench_generate_command(checkpoint: Path | None = None, base: Path | None = None, candidates: int = 64,
                           base_steps: int = 8, repeats: int = 30, steps: int | None = None, threads: int = 1,
                           echo=None) -> list[LatencyStats]:
    """Latency of the student's paths on one real 2,048-point view, all in this run, the calls of the
    paths interleaved (round robin) so that a shared machine's load falls on each alike:

    - ``old onnx``: ``base`` (default student.pt) at ``base_steps`` DDIM steps, the sampler-only ONNX graph,
      ranking and critic in torch after it (the path the issue measured at 86.6 ms);
    - ``old torch`` / ``old onnx 1-graph``: the same model through today's torch and one-graph ONNX paths;
    - ``new torch`` / ``new onnx 1-graph``: ``checkpoint`` (default student_flow.pt) at its own step count,
      the one graph holding sampler, critic and ranking (the default generator's path);
    - TensorRT rows where onnxruntime offers it.
    Per path: "ranked" = prepare + sample + rank (the candidates scored, what the issue's goal counts),
    "physics" = the repair / pre-check stage, "total" = the whole ``generate``, "CPU" = the process's CPU
    time per call (with one thread about the wall time on an idle core; the machine is shared). Prints medians, p95,
    ratios against the old ONNX path and the machine's load average before and after."""
    import os
    import tempfile

    import onnxruntime as ort

    from ifgrasp.grasp.diffusion.export import export_onnx
    from ifgrasp.grasp.diffusion.generator import GraspGenerator

    echo = echo or console.print
    torch.set_num_threads(threads)  # onnxruntime sessions of the generator take the same count
    checkpoint = Path(checkpoint or DEFAULT_CHECKPOINT)
    base = Path(base or BASE_CHECKPOINT)
    new_model, old_model = load_checkpoint(checkpoint), load_checkpoint(base)
    steps = steps or new_model.default_steps
    critic = resolve_critic("auto", checkpoint)  # as at run time: critic.pt beside the model when present
    tmp = Path(tempfile.mkdtemp(prefix="ifgrasp_bench_"))
    files = {"old_sampler": export_onnx(old_model, tmp / "old_sampler.onnx", steps=base_steps),
             "old_graph": export_onnx(old_model, tmp / "old_graph.onnx", steps=base_steps, critic=critic, ranking=True),
             "new_graph": export_onnx(new_model, tmp / "new_graph.onnx", steps=steps, critic=critic, ranking=True)}
    old, new = f"{base_steps} {old_model.sampler}", f"{steps} {new_model.sampler}"
    paths = [(f"old onnx, ranking in torch ({old})", old_model, base_steps, "onnx", files["old_sampler"]),
             (f"old torch ({old})", old_model, base_steps, "torch", None),
             (f"old onnx 1-graph ({old})", old_model, base_steps, "onnx", files["old_graph"]),
             (f"new torch ({new})", new_model, steps, "torch", None),
             (f"new onnx 1-graph ({new})", new_model, steps, "onnx", files["new_graph"])]
    trt = "TensorrtExecutionProvider" in ort.get_available_providers()
    if trt:
        paths.append((f"new tensorrt fp16 ({new})", new_model, steps, "tensorrt", files["new_graph"]))
    points, mask = _bench_cloud()
    gens = [GraspGenerator(model, backend=backend, steps=n, num_candidates=candidates, onnx_path=f, critic=critic)
            for _, model, n, backend, f in paths]
    samples: dict[str, dict[str, list[float]]] = {name: {} for name, *_ in paths}
    load_before = os.getloadavg()
    for i in range(repeats + 2):  # 2 warm-up rounds, then round robin
        for (name, *_), gen in zip(paths, gens):
            t0, c0 = time.perf_counter(), time.process_time()
            gen.generate(points, mask, k=8)
            total, cpu = time.perf_counter() - t0, time.process_time() - c0
            if i < 2:
                continue
            t = gen.last.timings_s
            row = samples[name]
            for key, v in (("ranked", t["prepare"] + t["sample"] + t["rank"]), ("physics", t["refine"]), ("total", total),
                           ("cpu", cpu),
                           ("sample", t["sample"]), ("rank", t["rank"]),
                           ("repaired", float(gen.last.candidates.extras["refined"].sum()))):
                row.setdefault(key, []).append(v)
    load_after = os.getloadavg()
    rows: list[LatencyStats] = []
    table = Table(title=f"ifgrasp bench generate: {candidates} candidates, 2,048-point view, {threads} thread(s), "
                        f"{repeats} calls per path (interleaved)")
    for h in ("path", "ranked median ms", "ranked p95", "sample", "rank", "physics median", "total median",
              "total p95", "CPU ms / call", "repaired / call"):
        table.add_column(h)
    stats = {}
    for name, *_ in paths:
        r = samples[name]
        st = {key: LatencyStats(f"{name} {key}", np.asarray(v)) for key, v in r.items() if key != "repaired"}
        rows += list(st.values())
        stats[name] = st
        table.add_row(name, *(f"{x * 1e3:.1f}" for x in (st["ranked"].median_s, st["ranked"].p95_s, st["sample"].median_s,
                                                          st["rank"].median_s, st["physics"].median_s,
                                                          st["total"].median_s, st["total"].p95_s, st["cpu"].median_s)),
                      f"{np.mean(r['repaired']):.1f}")
    with torch.no_grad():
        enc = new_model.encoder
        rows.append(measure("torch BPS encoding alone", lambda: enc(torch.as_tensor(points)[None],
                                                                    torch.as_tensor(mask)[None]), repeats=repeats))
    table.add_row("torch BPS encoding alone", f"{rows[-1].median_s * 1e3:.1f}", f"{rows[-1].p95_s * 1e3:.1f}",
                  *([""] * 7))
    console.print(table)
    ref, cur = stats[paths[0][0]], stats[paths[4][0]]
    torch_new = stats[paths[3][0]]
    med = cur["ranked"].median_s * 1e3
    echo(f"load average (1 min) before / after: {load_before[0]:.1f} / {load_after[0]:.1f} on {os.cpu_count()} CPUs; "
         "'CPU ms / call' is this process's CPU time (all its threads): with 1 thread, about the wall time on an idle core")
    echo(f"new onnx 1-graph / old onnx path, to ranked candidates: median {med:.1f} / "
         f"{ref['ranked'].median_s * 1e3:.1f} ms = {cur['ranked'].median_s / ref['ranked'].median_s:.2f}, p95 "
         f"{cur['ranked'].p95_s * 1e3:.1f} / {ref['ranked'].p95_s * 1e3:.1f} ms = "
         f"{cur['ranked'].p95_s / ref['ranked'].p95_s:.2f}; against the issue's {ISSUE_ONNX_MS} ms: "
         f"{med / ISSUE_ONNX_MS:.2f}")
    echo(f"goal <= 30 ms median, ONNX incl. ranking: {med:.1f} ms ({'met' if med <= 30 else 'not met'} in this run); "
         f"with the physics step (repair + pre-check): {cur['total'].median_s * 1e3:.1f} ms median, "
         f"{cur['total'].p95_s * 1e3:.1f} p95")
    echo(f"ranking in the ONNX path vs torch (sample + rank, new model): {med:.1f} vs "
         f"{torch_new['ranked'].median_s * 1e3:.1f} ms = {cur['ranked'].median_s / torch_new['ranked'].median_s:.2f}")
    if not trt:
        echo("TensorRT: not run here: onnxruntime has providers "
             f"{ort.get_available_providers()} (needs a CUDA GPU with onnxruntime-gpu + TensorRT); "
             "scripts/student_tensorrt.py builds, checks and times the fp16 engine where one is lent")
    return rows


def parse_labelled(spec: str, option: str, what: str, entries: str) -> dict[str, str]:
    """Comma-separated ``label=value`` entries of a command-line ``option`` -> {label: value}; a bare entry
    is its own label. ``ConfigError`` for a label given twice or no entry (``what`` and ``entries`` name
    them in the message)."""
    out: dict[str, str] = {}
    for item in (x.strip() for x in spec.split(",")):
        if not item:
            continue
        label, _, value = item.rpartition("=")
        label = label or value
        if label in out:
            raise ConfigError(f"{what} label '{label}' given twice in {option} {spec}: name them label=file")
        out[label] = value
    if not out:
        raise ConfigError(f"{option} is empty: give {entries}")
    return out


def parse_critics(spec: str) -> dict[str, str]:
    """``--critic`` of ``eval student``: comma-separated critics, each ``auto``, ``none``, a file, or
    ``label=<one of those>`` -> {label: spec}; a bare entry is its own label."""
    return parse_labelled(spec, "--critic", "critic", "auto, none, a critic file, or label=file entries")


def eval_critic_command(critic: str, dataset: Path | None, views: Path | None, out: Path) -> dict:
    """``ifgrasp eval critic``: :func:`~.critic.ranking_quality` of each critic, a table and a JSON report."""
    from ifgrasp.grasp.diffusion.critic import ranking_quality

    critics = {label: resolve_critic(spec, DEFAULT_CHECKPOINT) for label, spec in parse_critics(critic).items()}
    missing = [label for label, c in critics.items() if c is None]
    if missing:
        raise ConfigError(f"no critic for {', '.join(missing)} (auto: no critic.pt beside {DEFAULT_CHECKPOINT})")
    dataset = dataset or DATA_DIR / "teacher" / "heldout"
    views = views or DATA_DIR / "views" / "heldout"
    report = ranking_quality(critics, dataset, views)
    table = Table(title=f"critics on {dataset} seen from {views} (lift = the stored judge's)")
    for h in ("group", "pairs", "lifted", "base rate", "groups with a lift", "critic", "AUC lift", "AUC v2",
              "precision@1", "precision@8"):
        table.add_column(h)
    rows = [("ALL", report["overall"]), ("categories with lifts", report["categories_with_lifts"]),
            *report["per_category"].items()]
    for group, m in rows:
        for label in critics:
            c = m[label]
            table.add_row(group, str(m["pairs"]), str(m["lifted_pairs"]), f"{m['base_rate']:.1%}",
                          f"{m['groups_with_a_lift']:.0%}", label, f"{c['auc_lift']:.3f}", f"{c['auc_v2']:.3f}",
                          f"{c['precision_at_1']:.1%}", f"{c['precision_at_8']:.1%}")
    console.print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"dataset": str(dataset), "views": str(views), "critics": parse_critics(critic),
                               "report": report}, indent=2))
    console.print(f"report -> {out}")
    return report


def eval_student_command(checkpoint: Path | None, views: Path | None, k: int, views_per_object: int,
                         steps_list: list[int] | None, out: Path, critic: str = "auto", physics: tuple[str, ...] = ("fill",),
                         judges: tuple[str, ...] = ("v1",), max_cases: int | None = None,
                         log: Path | None = None, report_only: bool = False,
                         categories: tuple[str, ...] | None = None) -> dict:
    """Variants = step counts x physics on/off, all on the same held-out cases; table + JSON report.
    With ``report_only``, nothing runs: the report is rebuilt from the row log (``log`` or out.jsonl)."""
    from ifgrasp.grasp.diffusion.evaluate import evaluate_student, summarize_log

    if report_only:
        log = log or out.with_suffix(".jsonl")
        variants = summarize_log(log, k)
        verdicts = tuple(key for key in next(iter(variants.values()))["overall"] if key.startswith("v"))
        return _print_eval({"k": k, "judges": list(verdicts), "from_log": str(log), "variants": variants}, k,
                           verdicts, out, log)
    from ifgrasp.grasp.diffusion.generator import GraspGenerator
    from ifgrasp.grasp.diffusion.physics import PhysicsConfig

    checkpoint = checkpoint or DEFAULT_CHECKPOINT
    policy = load_checkpoint(checkpoint)
    steps_list = steps_list or [policy.default_steps]
    critics = {label: resolve_critic(spec, Path(checkpoint)) for label, spec in parse_critics(critic).items()}
    for label, learned in critics.items():
        console.print(f"ranking{f' [{label}]' if len(critics) > 1 else ''}: geometric terms"
                      f"{' + learned critic' if learned is not None else ' only'}")
    console.print(f"judges: {', '.join(judges)}")
    views = views or DATA_DIR / "views" / "heldout"
    modes = {"on": PhysicsConfig(refine_steps=8),  # refinement + self-collision repair + rejection
             "off": PhysicsConfig(refine_steps=0, repair_steps=0, reject_self_m=1e9),  # the sampler as it was
             "reject": PhysicsConfig(refine_steps=0, repair_steps=0),  # no refinement: drop candidates over 1 mm
             "repair": PhysicsConfig(repair_scope="top"),  # self-collision repair of the best candidates, then reject
             "fill": PhysicsConfig(repair_scope="fill")}  # repair only when fewer than k are admissible (the default)
    if set(physics) - set(modes):
        raise ConfigError(f"unknown physics variant in {','.join(physics)}; known: {', '.join(modes)}")
    # one critic: the variant names of earlier runs (their row logs resume); several: one variant per critic
    suffix = {label: (f"_critic_{label}" if len(critics) > 1 else "") for label in critics}
    gens = {f"steps{s}_physics_{p}{suffix[label]}": GraspGenerator(policy, backend="torch", steps=s, critic=learned,
                                                                    physics=modes[p])
            for s in steps_list for p in physics for label, learned in critics.items()}
    log = log or out.with_suffix(".jsonl")
    report = {"critic": {label: c is not None for label, c in critics.items()}, "checkpoint": str(checkpoint),
              "k": k, "judges": list(judges),
              "variants": evaluate_student(gens, views, k=k, views_per_object=views_per_object, judges=judges,
                                           categories=categories, log_path=log, max_cases=max_cases)}
    judges = tuple(v for j in judges for v in ((j,) if j == "v1" else (j, f"{j}_lift")))
    return _print_eval(report, k, judges, out, log)


def _print_eval(report: dict, k: int, judges: tuple[str, ...], out: Path, log: Path) -> dict:
    table = Table(title=f"student on held-out objects, single partial view (top-1 [95% CI] / top-{k} lift)")
    for h in ("variant", "task", "cases", *(f"top-1 {j}" for j in judges), *(f"top-{k} {j}" for j in judges),
              *(f"any {j}" for j in judges), f"critic AUC {judges[-1]}", "part share", "touching nothing",
              "self>1mm", "cloud pen mm",
              "tip-part mm", "ms"):
        table.add_column(h)
    for name, rep in report["variants"].items():
        for task, m in [("ALL", rep["overall"])] + list(rep["per_task"].items()):
            if m.get("cases", 0) == 0:
                continue
            table.add_row(name, task, str(m["cases"]),
                          *(f"{m[j]['top1_lift']:.0%} [{m[j]['top1_ci95'][0]:.0%}-{m[j]['top1_ci95'][1]:.0%}]"
                            for j in judges),
                          *(f"{m[j]['topk_lift']:.0%}" for j in judges),
                          *(f"{m[j]['any_returned']:.0%}" for j in judges),
                          f"{m[judges[-1]].get('critic_auc', float('nan')):.2f}", f"{m['part_contact_share']:.0%}",
                          f"{m['touching_nothing']:.0%}" if "touching_nothing" in m else "-",
                          f"{m['precheck']['self_penetration_over_1mm']:.0%}",
                          f"{m['precheck']['cloud_penetration_mean_mm']:.1f}",
                          f"{m['precheck']['tip_part_distance_mean_mm']:.0f}", f"{m['latency_median_ms']:.0f}")
    console.print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    console.print(f"report -> {out} (per-case rows: {log})")
    return report
