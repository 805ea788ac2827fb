"""The student's command-line verbs: ``views``, ``train``, ``export``, ``eval student``, ``bench generate``."""

from __future__ import annotations

import json
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
BASE_ONNX = MODELS_DIR / "student" / "student.onnx"
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
    out = out or BASE_CHECKPOINT.parent
    if critic:
        summary = train_critic(_train_config(CriticConfig, "critic.yaml", config, steps), out)
        console.print(f"critic trained: {json.dumps(summary)} -> {out / 'critic.pt'}")
        return summary
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


def export_command(checkpoint: Path | None, out: Path | None, steps: int | None, critic: str = "auto") -> None:
    """``steps`` None: the checkpoint's own (8 for the DDIM student, the distilled one's recorded count);
    ``out`` None: the checkpoint's path with ``.onnx`` (models/student/student.onnx for the default)."""
    from ifgrasp.grasp.diffusion.export import OPSET, export_onnx, max_abs_difference

    checkpoint = Path(checkpoint or DEFAULT_CHECKPOINT)
    policy = load_checkpoint(checkpoint)
    steps = steps or policy.default_steps
    learned = resolve_critic(critic, checkpoint)
    path = export_onnx(policy, out or checkpoint.with_suffix(".onnx"), steps=steps, critic=learned)
    diff = max_abs_difference(policy, path, steps, critic=learned)
    console.print(f"ONNX (opset {OPSET}, {steps} {policy.sampler.upper()} steps"
                  f"{', critic in the graph' if learned is not None else ''}) -> {path}; "
                  f"max |torch - onnxruntime| = {diff:.2e}")


def _bench_cloud(seed: int = 0):
    """A real 2,048-point partial view of a held-out mug (its handle as the part)."""
    from ifgrasp.grasp.diffusion.views import ViewConfig, render_object_views
    from ifgrasp.sim.objects import make_object, object_family

    seed_obj = next(s for c, s in object_family("heldout") if c == "mug")
    views = render_object_views("mug", seed_obj, ViewConfig(views_per_object=1), np.random.default_rng(seed))
    part = make_object("mug", seed_obj).part_index("handle")
    return views["points"][0], views["point_part"][0] == part


DEFAULT_FEWSTEP = MODELS_DIR / "student" / "student_flow.pt"


def bench_generate_command(checkpoint: Path | None, onnx: Path | None, candidates: int, steps: int,
                           repeats: int, fewstep: Path | None = None, fewstep_steps: int | None = None
                           ) -> list[LatencyStats]:
    """Latency per path, all in this run on the same cloud: torch (one graph: sampler + critic on shared
    features), ONNX one graph (sampler + critic), ONNX as before this change (sampler graph, critic
    re-encoding the cloud in torch), the distilled few-step sampler (``fewstep``, default
    models/student/student_flow.pt when present, at its own step count) in torch and ONNX (one graph,
    same critic), and TensorRT when available. Each: total and stages (prepare, sample, rank, refine =
    physics refinement + pre-check); ratios of the few-step paths against the current ones."""
    import tempfile

    import onnxruntime as ort

    from ifgrasp.grasp.diffusion.export import export_onnx
    from ifgrasp.grasp.diffusion.generator import GraspGenerator

    torch.set_num_threads(2)
    checkpoint = Path(checkpoint or DEFAULT_CHECKPOINT)
    policy = load_checkpoint(checkpoint)
    critic = resolve_critic("auto", checkpoint)  # as at run time: ranking includes the critic when present
    onnx = Path(onnx or DEFAULT_ONNX)
    tmp = Path(tempfile.mkdtemp(prefix="ifgrasp_bench_"))
    meta = {}
    if onnx.is_file():
        meta = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    if (meta.get("sampler", "ddim") != policy.sampler or meta.get("sampler_steps", meta.get("ddim_steps")) != str(steps)
            or (critic is not None and "critic_sha256" not in meta)):
        onnx = export_onnx(policy, tmp / "student.onnx", steps=steps, critic=critic)  # the file on disk does not fit
    legacy = export_onnx(policy, tmp / "sampler_only.onnx", steps=steps)  # today's path: critic in torch
    points, mask = _bench_cloud()
    paths = [("torch", "torch", None, policy, steps), ("onnx", "onnx", onnx, policy, steps),
             ("onnx_before", "onnx", legacy, policy, steps)]
    fewstep = Path(fewstep) if fewstep is not None else (DEFAULT_FEWSTEP if DEFAULT_FEWSTEP.is_file() else None)
    if fewstep is not None:
        flow = load_checkpoint(fewstep)
        fewstep_steps = fewstep_steps or flow.default_steps
        few_onnx = export_onnx(flow, tmp / "fewstep.onnx", steps=fewstep_steps, critic=critic)
        paths += [("torch_fewstep", "torch", None, flow, fewstep_steps),
                  ("onnx_fewstep", "onnx", few_onnx, flow, fewstep_steps)]
    if "TensorrtExecutionProvider" in ort.get_available_providers():
        paths.append(("tensorrt", "tensorrt", onnx, policy, steps))
        if fewstep is not None:
            paths.append(("tensorrt_fewstep", "tensorrt", few_onnx, flow, fewstep_steps))
    rows: list[LatencyStats] = []
    for name, backend, path, model, n_steps in paths:
        gen = GraspGenerator(model, backend=backend, steps=n_steps, num_candidates=candidates, onnx_path=path,
                             critic=critic)
        stages: dict[str, list[float]] = {}

        def once():
            gen.generate(points, mask, k=8)
            for stage, t in gen.last.timings_s.items():
                stages.setdefault(stage, []).append(t)

        rows.append(measure(f"{name} total", once, repeats=repeats))
        for stage, samples in stages.items():
            rows.append(LatencyStats(f"{name} {stage}", np.asarray(samples[-repeats:])))
    enc = policy.encoder
    pts_t, mask_t = torch.as_tensor(points)[None], torch.as_tensor(mask)[None]
    with torch.no_grad():
        rows.append(measure("torch BPS encoding alone", lambda: enc(pts_t, mask_t), repeats=repeats))
    few = f"; few-step: {fewstep.name}, {fewstep_steps} {flow.sampler} steps" if fewstep is not None else ""
    table = Table(title=f"ifgrasp bench generate: {candidates} candidates, 2,048-point cloud, {steps} "
                        f"{policy.sampler.upper()} steps{few}")
    for h in ("stage", "median ms", "p95 ms", "runs"):
        table.add_column(h)
    for r in rows:
        table.add_row(*r.row())
    console.print(table)
    t = {r.name: r.median_s for r in rows}
    p95 = {r.name: r.p95_s for r in rows}
    console.print(f"ratio onnx (one graph) / onnx before (critic in torch), total: "
                  f"{t['onnx total'] / t['onnx_before total']:.2f}; rank: {t['onnx rank'] / t['onnx_before rank']:.2f}; "
                  f"onnx rank / torch rank: {t['onnx rank'] / t['torch rank']:.2f}")
    console.print(f"without the physics refinement (total - refine): torch "
                  f"{(t['torch total'] - t['torch refine']) * 1e3:.1f} ms, onnx "
                  f"{(t['onnx total'] - t['onnx refine']) * 1e3:.1f} ms, onnx before "
                  f"{(t['onnx_before total'] - t['onnx_before refine']) * 1e3:.1f} ms")
    if fewstep is not None:
        for run in ("onnx", "torch"):
            a, b = f"{run}_fewstep", run
            console.print(f"few-step ({fewstep_steps} {flow.sampler} steps) / current ({steps} {policy.sampler} steps), "
                          f"{run}: total median {t[a + ' total'] * 1e3:.1f} / {t[b + ' total'] * 1e3:.1f} ms = "
                          f"{t[a + ' total'] / t[b + ' total']:.2f}, p95 {p95[a + ' total'] * 1e3:.1f} / "
                          f"{p95[b + ' total'] * 1e3:.1f} ms = {p95[a + ' total'] / p95[b + ' total']:.2f}; "
                          f"sample stage {t[a + ' sample'] / t[b + ' sample']:.2f}")
    else:
        console.print("few-step sampler: skipped, no distilled checkpoint (ifgrasp distill, or --fewstep PATH)")
    if "tensorrt total" not in t:
        console.print("TensorRT: skipped, onnxruntime here has providers "
                      f"{ort.get_available_providers()} (needs a CUDA GPU with onnxruntime-gpu + TensorRT; "
                      "scripts/student_tensorrt.py builds, checks and times the fp16 engine where one is lent)")
    console.print("'sample' includes the BPS encoding and, in one graph, the critic; 'encoding alone' shows its share.")
    return rows


def eval_student_command(checkpoint: Path | None, views: Path | None, k: int, views_per_object: int,
                         steps_list: list[int] | None, out: Path, critic: str = "auto", physics: tuple[str, ...] = ("repair",),
                         judges: tuple[str, ...] = ("v1",), max_cases: int | None = None,
                         log: Path | None = None, report_only: bool = False) -> dict:
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
    learned = resolve_critic(critic, Path(checkpoint))
    console.print(f"ranking: geometric terms{' + learned critic' if learned is not None else ' only'}; "
                  f"judges: {', '.join(judges)}")
    views = views or DATA_DIR / "views" / "heldout"
    modes = {"on": PhysicsConfig(refine_steps=8),  # refinement + self-collision repair + rejection
             "off": PhysicsConfig(refine_steps=0, repair_steps=0, reject_self_m=1e9),  # the sampler as it was
             "reject": PhysicsConfig(refine_steps=0, repair_steps=0),  # no refinement: drop candidates over 1 mm
             "repair": PhysicsConfig(repair_scope="top"),  # self-collision repair of the best candidates, then reject
             "fill": PhysicsConfig(repair_scope="fill")}  # repair only when fewer than k candidates are admissible
    if set(physics) - set(modes):
        raise ConfigError(f"unknown physics variant in {','.join(physics)}; known: {', '.join(modes)}")
    gens = {f"steps{s}_physics_{p}": GraspGenerator(policy, backend="torch", steps=s, critic=learned,
                                                    physics=modes[p])
            for s in steps_list for p in physics}
    log = log or out.with_suffix(".jsonl")
    report = {"critic": learned is not None, "checkpoint": str(checkpoint), "k": k, "judges": list(judges),
              "variants": evaluate_student(gens, views, k=k, views_per_object=views_per_object, judges=judges,
                                           log_path=log, max_cases=max_cases)}
    judges = tuple(v for j in judges for v in ((j,) if j == "v1" else (j, f"{j}_lift")))
    return _print_eval(report, k, judges, out, log)


def _print_eval(report: dict, k: int, judges: tuple[str, ...], out: Path, log: Path) -> dict:
    table = Table(title=f"student on held-out objects, single partial view (top-1 [95% CI] / top-{k} lift)")
    for h in ("variant", "task", "cases", *(f"top-1 {j}" for j in judges), *(f"top-{k} {j}" for j in judges),
              "part share", "self>1mm", "cloud pen mm", "tip-part mm", "ms"):
        table.add_column(h)
    for name, rep in report["variants"].items():
        for task, m in [("ALL", rep["overall"])] + list(rep["per_task"].items()):
            if m.get("cases", 0) == 0:
                continue
            table.add_row(name, task, str(m["cases"]),
                          *(f"{m[j]['top1_lift']:.0%} [{m[j]['top1_ci95'][0]:.0%}-{m[j]['top1_ci95'][1]:.0%}]"
                            for j in judges),
                          *(f"{m[j]['topk_lift']:.0%}" for j in judges), f"{m['part_contact_share']:.0%}",
                          f"{m['precheck']['self_penetration_over_1mm']:.0%}",
                          f"{m['precheck']['cloud_penetration_mean_mm']:.1f}",
                          f"{m['precheck']['tip_part_distance_mean_mm']:.0f}", f"{m['latency_median_ms']:.0f}")
    console.print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    console.print(f"report -> {out} (per-case rows: {log})")
    return report
