"""Export the student to ONNX (``ifgrasp export``): the whole K-step sampler as one graph.

Opset 17. Inputs: ``points`` (1, N, 3) float32 metres (camera frame), ``part_mask`` (1, N) float32
in {0, 1}, ``noise`` (K, 25) float32; N and K are dynamic. Outputs: ``wrist_pos`` (K, 3) camera frame,
``rot6d`` (K, 6) (first two columns of R_camera_hand), ``joints`` (K, 16) radians in motor order.
With a critic, a fourth output ``lift_probability`` (K,) is its P(lift) per sample, computed in the
same graph from the same BPS features (:class:`~ifgrasp.grasp.diffusion.policy.SamplerGraph`), so the
ONNX path ranks without re-encoding the cloud in torch. The DDIM step count, the hand and a digest of
the critic's weights are recorded in the file's metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import hashlib

from ifgrasp.grasp.diffusion.policy import GRASP_DIM, GraspDiffusion, SamplerGraph
from ifgrasp.grasp.diffusion.train import HAND_ID

OPSET = 17


def critic_digest(critic) -> str:
    """sha256 (hex, 16 chars) of a critic's weights: ties an exported graph to the critic it holds."""
    h = hashlib.sha256()
    for name, t in sorted(critic.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def export_onnx(policy: GraspDiffusion, path: str | Path, steps: int = 8, n_points: int = 2048, k: int = 64,
                critic=None) -> Path:
    """Write the unrolled ``steps``-step sampler (+ ``critic``'s P(lift) when given) to ``path``."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the wrapper itself in eval mode: the exporter restores the wrapper's mode recursively afterwards,
    # which would leave the critic's dropout switched on for the caller
    graph = SamplerGraph(policy, steps, critic).eval()
    args = (torch.zeros(1, n_points, 3), torch.zeros(1, n_points), torch.zeros(k, GRASP_DIM))
    args[0][0, :, 2] = 0.5
    args[1][0, :10] = 1.0
    outputs = ["wrist_pos", "rot6d", "joints"] + (["lift_probability"] if critic is not None else [])
    torch.onnx.export(
        graph, args, str(path), opset_version=OPSET, dynamo=False,
        input_names=["points", "part_mask", "noise"], output_names=outputs,
        dynamic_axes={"points": {1: "n"}, "part_mask": {1: "n"}, "noise": {0: "k"}, **{o: {0: "k"} for o in outputs}},
    )
    model = onnx.load(str(path))
    meta = {"ifgrasp_hand": HAND_ID, "sampler": policy.sampler, "sampler_steps": str(steps), "opset": str(OPSET)}
    if policy.sampler == "ddim":
        meta["ddim_steps"] = str(steps)  # the key files exported before the flow sampler carry
    if critic is not None:
        meta["critic_sha256"] = critic_digest(critic)
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def max_abs_difference(policy: GraspDiffusion, onnx_path: str | Path, steps: int, seed: int = 0,
                       n_points: int = 2048, k: int = 64, critic=None) -> float:
    """Largest |torch - onnxruntime| over all outputs for one random cloud and noise."""
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    pts = (rng.normal(scale=0.03, size=(1, n_points, 3)) + [0, 0, 0.6]).astype(np.float32)
    mask = (rng.random((1, n_points)) < 0.3).astype(np.float32)
    noise = rng.normal(size=(k, GRASP_DIM)).astype(np.float32)
    with torch.no_grad():
        ref = SamplerGraph(policy, steps, critic).eval()(torch.as_tensor(pts), torch.as_tensor(mask),
                                                         torch.as_tensor(noise))
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"points": pts, "part_mask": mask, "noise": noise})
    return float(max(np.abs(r.numpy() - o).max() for r, o in zip(ref, out)))
