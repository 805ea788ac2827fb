"""Export the student to ONNX (``ifgrasp export``): the whole K-step sampler as one graph.

Opset 17. Inputs: ``points`` (1, N, 3) float32 metres (camera frame), ``part_mask`` (1, N) float32
in {0, 1}, ``noise`` (K, 25) float32; N and K are dynamic. Outputs: ``wrist_pos`` (K, 3) camera frame,
``rot6d`` (K, 6) (first two columns of R_camera_hand), ``joints`` (K, 16) radians in motor order.
The DDIM step count is fixed at export time and recorded in the file's metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ifgrasp.grasp.diffusion.policy import GRASP_DIM, GraspDiffusion, UnrolledSampler
from ifgrasp.grasp.diffusion.train import HAND_ID

OPSET = 17


def export_onnx(policy: GraspDiffusion, path: str | Path, steps: int = 8, n_points: int = 2048, k: int = 64) -> Path:
    """Write the unrolled ``steps``-step sampler to ``path``; returns the path."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sampler = UnrolledSampler(policy.eval(), steps)
    args = (torch.zeros(1, n_points, 3), torch.zeros(1, n_points), torch.zeros(k, GRASP_DIM))
    args[0][0, :, 2] = 0.5
    args[1][0, :10] = 1.0
    torch.onnx.export(
        sampler, args, str(path), opset_version=OPSET, dynamo=False,
        input_names=["points", "part_mask", "noise"], output_names=["wrist_pos", "rot6d", "joints"],
        dynamic_axes={"points": {1: "n"}, "part_mask": {1: "n"}, "noise": {0: "k"},
                      "wrist_pos": {0: "k"}, "rot6d": {0: "k"}, "joints": {0: "k"}},
    )
    model = onnx.load(str(path))
    for key, value in {"ifgrasp_hand": HAND_ID, "ddim_steps": str(steps), "opset": str(OPSET)}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def max_abs_difference(policy: GraspDiffusion, onnx_path: str | Path, steps: int, seed: int = 0,
                       n_points: int = 2048, k: int = 64) -> float:
    """Largest |torch - onnxruntime| over all outputs for one random cloud and noise."""
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    pts = (rng.normal(scale=0.03, size=(1, n_points, 3)) + [0, 0, 0.6]).astype(np.float32)
    mask = (rng.random((1, n_points)) < 0.3).astype(np.float32)
    noise = rng.normal(size=(k, GRASP_DIM)).astype(np.float32)
    with torch.no_grad():
        ref = UnrolledSampler(policy.eval(), steps)(torch.as_tensor(pts), torch.as_tensor(mask), torch.as_tensor(noise))
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"points": pts, "part_mask": mask, "noise": noise})
    return float(max(np.abs(r.numpy() - o).max() for r, o in zip(ref, out)))
