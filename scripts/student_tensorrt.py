#!/usr/bin/env python3
"""TensorRT fp16 engine of the student's one-graph sampler (+ critic): build, parity with torch, latency.

Run where a CUDA GPU is lent (``device``), from the repository root:

    python scripts/student_tensorrt.py [--checkpoint models/student/student_flow.pt] [--steps N]
        [--candidates 64] [--repeats 200] [--ranking] [--out out/trt]

The default is the pipeline's generator (the distilled flow at its own 4 steps); ``--ranking`` puts the
ranking's measures in the graph too (the CPU default's one graph; its self-collision broad phase uses
NonZero, which TensorRT >= 8.5 supports).

Steps: (1) export the sampler + critic graph to ONNX (fp32, ``ifgrasp.grasp.diffusion.export``);
(2) build an fp16 engine for points (1, 2048, 3), part_mask (1, 2048), noise (64, 25), with the first
back-end found: onnxruntime's TensorRT execution provider (engine cached under --out), else
``trtexec`` (TensorRT's own CLI, engine saved to --out/student_fp16.engine); (3) parity: the largest
|TensorRT - torch| per output on a held-out-like cloud (fp16: a few mm on wrist positions and
~1e-2 rad on joints are expected; the script prints them, it does not hide them); (4) latency:
median / p95 of the sampler graph alone (the goal: <= 5 ms for 64 candidates from 2,048 points).
Writes --out/tensorrt_report.json. Exit code 2 (with the reason) where no TensorRT back-end exists.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ifgrasp.grasp.diffusion.critic import resolve_critic  # noqa: E402
from ifgrasp.grasp.diffusion.export import export_onnx, sampler_graph  # noqa: E402
from ifgrasp.grasp.diffusion.policy import GRASP_DIM  # noqa: E402
from ifgrasp.grasp.diffusion.train import load_checkpoint  # noqa: E402

OUTPUTS = ("wrist_pos", "rot6d", "joints", "lift_probability")


def inputs(n_points: int, k: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    pts = (rng.normal(scale=0.03, size=(1, n_points, 3)) + [0.0, 0.0, 0.6]).astype(np.float32)
    return {"points": pts, "part_mask": (pts[..., 0] > 0.01).astype(np.float32),
            "noise": rng.normal(size=(k, GRASP_DIM)).astype(np.float32)}


def with_onnxruntime(onnx: Path, feed: dict, cache: Path, repeats: int):
    import onnxruntime as ort

    if "TensorrtExecutionProvider" not in ort.get_available_providers():
        return None
    cache.mkdir(parents=True, exist_ok=True)
    opts = {"trt_fp16_enable": True, "trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache)}
    t0 = time.perf_counter()
    sess = ort.InferenceSession(str(onnx), providers=[("TensorrtExecutionProvider", opts), "CUDAExecutionProvider"])
    out = sess.run(None, feed)  # the first run builds the engine
    build_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        sess.run(None, feed)
        times.append(time.perf_counter() - t)
    return "onnxruntime TensorRT EP", out, np.array(times), build_s


def with_trtexec(onnx: Path, feed: dict, out_dir: Path, repeats: int):
    exe = shutil.which("trtexec")
    if exe is None:
        return None
    load = []
    for name, a in feed.items():
        a.tofile(out_dir / f"{name}.bin")
        load.append(f"{name}:{out_dir / f'{name}.bin'}")
    shapes = ",".join(f"{n}:{'x'.join(map(str, a.shape))}" for n, a in feed.items())
    engine, export = out_dir / "student_fp16.engine", out_dir / "trt_outputs.json"
    t0 = time.perf_counter()
    res = subprocess.run([exe, f"--onnx={onnx}", "--fp16", f"--saveEngine={engine}", f"--shapes={shapes}",
                          f"--loadInputs={','.join(load)}", f"--exportOutput={export}",
                          f"--iterations={repeats}", "--warmUp=200", "--avgRuns=1", "--percentile=50,95"],
                         capture_output=True, text=True)
    build_s = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"trtexec failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    (out_dir / "trtexec.log").write_text(res.stdout)
    outs = {o["name"]: np.asarray(o["values"], np.float32).reshape([int(d) for d in o["dimensions"].split("x")])
            for o in json.loads(export.read_text())}
    # trtexec reports GPU compute latency per iteration; keep the lines for the report
    lat = [line.strip() for line in res.stdout.splitlines() if "GPU Compute Time" in line or "Latency:" in line]
    return "trtexec", [outs[n] for n in OUTPUTS if n in outs], lat, build_s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path, default=ROOT / "models" / "student" / "student_flow.pt")
    ap.add_argument("--steps", type=int, default=None, help="default: the checkpoint's own")
    ap.add_argument("--ranking", action="store_true", help="the ranking's measures in the graph too")
    ap.add_argument("--candidates", type=int, default=64)
    ap.add_argument("--points", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "trt")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    policy = load_checkpoint(args.checkpoint)
    args.steps = args.steps or policy.default_steps
    critic = resolve_critic("auto", args.checkpoint)
    onnx = export_onnx(policy, args.out / "student.onnx", steps=args.steps, n_points=args.points,
                       k=args.candidates, critic=critic, ranking=args.ranking)
    feed = inputs(args.points, args.candidates)
    if args.ranking:
        feed["table_plane"] = np.array([0.0, 0.0, 0.0, 1.0], np.float32)
    graph = sampler_graph(policy, args.steps, critic, args.ranking)
    global OUTPUTS
    OUTPUTS = tuple(graph.output_names)
    with torch.no_grad():
        ref = [t.numpy() for t in graph(*(torch.as_tensor(a) for a in feed.values()))]
    result = with_onnxruntime(onnx, feed, args.out / "ort_trt_cache", args.repeats)
    if result is None:
        result = with_trtexec(onnx, feed, args.out, args.repeats)
    if result is None:
        import onnxruntime as ort

        print("TensorRT: not available here: onnxruntime providers "
              f"{ort.get_available_providers()} (no TensorrtExecutionProvider) and no `trtexec` on PATH. "
              "Run this script on a CUDA GPU with onnxruntime-gpu built with TensorRT, or TensorRT's trtexec.")
        return 2
    backend, outs, timing, build_s = result
    parity = {name: float(np.abs(np.asarray(o, np.float32) - r).max()) for name, o, r in zip(OUTPUTS, outs, ref)}
    report = {"backend": backend, "steps": args.steps, "candidates": args.candidates, "points": args.points,
              "engine_build_s": build_s, "max_abs_diff_vs_torch_fp32": parity}
    if isinstance(timing, np.ndarray):
        report.update(latency_median_ms=float(np.median(timing) * 1e3),
                      latency_p95_ms=float(np.percentile(timing, 95) * 1e3), runs=int(len(timing)))
    else:
        report["trtexec_latency"] = timing
    (args.out / "tensorrt_report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
