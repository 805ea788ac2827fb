"""Export the student to ONNX (``ifgrasp export``): the whole K-step sampler as one graph.

Opset 17. Inputs: ``points`` (1, N, 3) float32 metres (camera frame), ``part_mask`` (1, N) float32
in {0, 1}, ``noise`` (K, 25) float32; N and K are dynamic. Outputs: ``wrist_pos`` (K, 3) camera frame,
``rot6d`` (K, 6) (first two columns of R_camera_hand), ``joints`` (K, 16) radians in motor order.
With a critic, a fourth output ``lift_probability`` (K,) is its score per sample (P(lift) for the
critics shipped so far; :meth:`~.critic.GraspCritic.score_from_features`), computed in the
same graph (:class:`~ifgrasp.grasp.diffusion.policy.SamplerGraph`) from the same BPS features (a point
critic's own encoder runs in the graph beside the sampler's), so the ONNX path ranks without
re-encoding the cloud in torch. With ``ranking=True`` (the default of ``ifgrasp export``) the graph
also takes ``table_plane`` (4,) float32 (:func:`~.ranking.table_plane`)
and outputs the ranking's geometric measures (:data:`~.ranking.TERMS`: cloud penetration, fingertip
distances to the part and to the rest, depth below the table, exact self-penetration), so that
sampling, critic and ranking are one onnxruntime call. The sampler and its step count, the hand, the
ranking's probe count and a digest of the critic's weights are recorded in the file's metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import hashlib
import json

from ifgrasp.grasp.diffusion.policy import GRASP_DIM, GraspDiffusion, SamplerGraph
from ifgrasp.grasp.diffusion.train import HAND_ID

OPSET = 17


def critic_digest(critic) -> str:
    """sha256 (hex, 16 chars) of a critic's weights, and of its heads and score weights when it has more
    than the single head of the first release: ties an exported graph to the critic it holds."""
    h = hashlib.sha256()
    for name, t in sorted(critic.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    if len(critic.heads) > 1:
        h.update(json.dumps({"heads": list(critic.heads), "score_weights": critic.score_weights.tolist()}).encode())
    return h.hexdigest()[:16]


def ranking_hand():
    """The hand model whose geometry the exported ranking holds (the generator's own: 300 surface points)."""
    from ifgrasp.hand.model import LeapHandModel

    return LeapHandModel(n_surface_points=300)


def sampler_graph(policy: GraspDiffusion, steps: int, critic=None, ranking: bool = False,
                  probe_points: int = 128) -> SamplerGraph:
    """The module :func:`export_onnx` exports (eval mode), for parity checks in torch."""
    return SamplerGraph(policy, steps, critic, ranking_hand() if ranking else None, probe_points).eval()


def export_onnx(policy: GraspDiffusion, path: str | Path, steps: int = 8, n_points: int = 2048, k: int = 64,
                critic=None, ranking: bool = False, probe_points: int = 128) -> Path:
    """Write the unrolled ``steps``-step sampler (+ ``critic``'s P(lift) when given, + the ranking's
    measures on the first ``probe_points`` observed points when ``ranking``) to ``path``."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the wrapper itself in eval mode: the exporter restores the wrapper's mode recursively afterwards,
    # which would leave the critic's dropout switched on for the caller
    graph = sampler_graph(policy, steps, critic, ranking, probe_points)
    args = (torch.zeros(1, n_points, 3), torch.zeros(1, n_points), torch.zeros(k, GRASP_DIM))
    args[0][0, :, 2] = 0.5
    args[1][0, :10] = 1.0
    inputs = ["points", "part_mask", "noise"]
    if ranking:
        args = (*args, torch.tensor([0.0, 0.0, 0.0, 1.0]))
        inputs.append("table_plane")
    outputs = graph.output_names
    torch.onnx.export(
        graph, args, str(path), opset_version=OPSET, dynamo=False,
        input_names=inputs, output_names=outputs,
        dynamic_axes={"points": {1: "n"}, "part_mask": {1: "n"}, "noise": {0: "k"}, **{o: {0: "k"} for o in outputs}},
    )
    model = onnx.load(str(path))
    meta = {"ifgrasp_hand": HAND_ID, "sampler": policy.sampler, "sampler_steps": str(steps), "opset": str(OPSET)}
    if ranking:
        meta["probe_points"] = str(probe_points)
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
                       n_points: int = 2048, k: int = 64, critic=None, per_output: bool = False):
    """Largest |torch - onnxruntime| over all outputs for one random cloud and noise (the ranking's
    measures too when the file holds them; a table plane through the cloud, so that some grasps are
    below it); ``per_output``: {output name: difference} instead."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    ranking = "probe_points" in meta
    rng = np.random.default_rng(seed)
    pts = (rng.normal(scale=0.03, size=(1, n_points, 3)) + [0, 0, 0.6]).astype(np.float32)
    mask = (rng.random((1, n_points)) < 0.3).astype(np.float32)
    noise = rng.normal(size=(k, GRASP_DIM)).astype(np.float32)
    feeds = {"points": pts, "part_mask": mask, "noise": noise}
    if ranking:
        feeds["table_plane"] = np.array([0.0, -0.6, -0.8, 0.5], np.float32)  # a tilted table 2 cm under the centre
    graph = sampler_graph(policy, steps, critic, ranking, int(meta.get("probe_points", 128)))
    with torch.no_grad():
        ref = graph(*(torch.as_tensor(v) for v in feeds.values()))
    out = sess.run(None, feeds)
    diffs = {name: float(np.abs(r.numpy() - o).max()) for name, r, o in zip(graph.output_names, ref, out)}
    return diffs if per_output else max(diffs.values())
