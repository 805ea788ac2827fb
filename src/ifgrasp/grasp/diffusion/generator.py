"""``GraspGenerator.generate(cloud, part_mask, k)``: the student at run time, whatever the backend.

Backends: ``torch`` (the checkpoint), ``onnx`` (onnxruntime on CPU, the exported unrolled sampler),
``tensorrt`` (onnxruntime's TensorRT execution provider, fp16, engine cached on disk; used
automatically by ``auto`` when a CUDA GPU and the provider are present). Input clean-up is
documented in :func:`prepare_cloud`; candidates are ranked by :mod:`ifgrasp.grasp.diffusion.ranking`,
with the learned critic's term when a critic is given (``from_checkpoint`` loads ``critic.pt`` from
beside the student when it exists; the critic is a small MLP and runs in torch for every backend).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ifgrasp.errors import InputError, ModelError, known
from ifgrasp.geometry import rot6d_to_matrix_np
from ifgrasp.grasp.diffusion.policy import GRASP_DIM, UnrolledSampler
from ifgrasp.grasp.diffusion.ranking import RankingConfig, rank_grasps
from ifgrasp.grasp.diffusion.train import load_checkpoint
from ifgrasp.timing import StageTimer
from ifgrasp.types import GraspBatch, ObjectCloud

BACKENDS = ("auto", "torch", "onnx", "tensorrt")


def prepare_cloud(points: np.ndarray, part_mask: np.ndarray, n_points: int, rng: np.random.Generator):
    """Validate and resample an observed cloud (camera frame, metres).

    Clean-up: rows with NaN/inf are dropped (depth holes); the cloud is resampled to ``n_points``
    (random, with replacement only when it has fewer). Refused with ``InputError``: an empty cloud,
    a mask of another length, a part mask with no point, or coordinates that look like millimetres
    (median distance above 20 m).
    """
    points = np.asarray(points, dtype=np.float32)
    part_mask = np.asarray(part_mask, dtype=bool)
    if points.ndim != 2 or points.shape[1] != 3:
        raise InputError(f"cloud must be (N, 3), got {points.shape}")
    if part_mask.shape != (points.shape[0],):
        raise InputError(f"part mask has {part_mask.shape} entries for {points.shape[0]} points")
    finite = np.isfinite(points).all(1)
    points, part_mask = points[finite], part_mask[finite]
    if len(points) == 0:
        raise InputError("the object cloud is empty (no finite point)")
    if not part_mask.any():
        raise InputError("the part mask selects no point: the instructed part is not visible")
    median_range = float(np.median(np.linalg.norm(points, axis=1)))
    if median_range > 20.0:
        raise InputError(f"cloud points are {median_range:.0f} units from the camera: millimetres? "
                         "ifgrasp expects metres")
    idx = rng.choice(len(points), size=n_points, replace=len(points) < n_points)
    return points[idx], part_mask[idx]


@dataclass
class GenerationResult:
    grasps: GraspBatch  # top-k, camera frame, sorted by score
    candidates: GraspBatch  # every sample, camera frame, with scores
    timings_s: dict[str, float] = field(default_factory=dict)


class GraspGenerator:
    """The student behind one interface; ``steps`` network evaluations per sample (DDIM)."""

    def __init__(self, policy, backend: str = "auto", steps: int = 8, num_candidates: int = 64,
                 n_points: int = 2048, ranking: RankingConfig | None = None, onnx_path: str | Path | None = None,
                 engine_cache: str | Path | None = None, seed: int = 0, critic=None) -> None:
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend '{backend}'; known: {known(BACKENDS)}")
        self.policy = policy
        self.steps = steps
        self.num_candidates = num_candidates
        self.n_points = n_points
        self.ranking = ranking or RankingConfig()
        self.critic = critic
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self._hand = None
        self.last: GenerationResult | None = None
        self.backend, self._session = self._open(backend, onnx_path, engine_cache)

    @classmethod
    def from_checkpoint(cls, path: str | Path, critic_path: str | Path | None = "auto", **kwargs) -> "GraspGenerator":
        """The student at ``path``; ``critic_path``: "auto" = ``critic.pt`` beside it if present, None = none."""
        from ifgrasp.grasp.diffusion.critic import resolve_critic

        return cls(load_checkpoint(path), critic=resolve_critic(critic_path, path), **kwargs)

    # --- backends --------------------------------------------------------------------------
    def _open(self, backend: str, onnx_path, engine_cache):
        if backend == "torch":
            return "torch", None
        import onnxruntime as ort

        providers = ort.get_available_providers()
        want_trt = backend == "tensorrt" or (backend == "auto" and "TensorrtExecutionProvider" in providers)
        if backend == "tensorrt" and "TensorrtExecutionProvider" not in providers:
            raise ModelError(f"TensorRT backend unavailable: onnxruntime has providers {providers} "
                             "(needs a CUDA GPU and onnxruntime-gpu with TensorRT)")
        if backend == "auto" and not want_trt:
            return "torch", None  # on a CPU the torch model and onnxruntime are close; torch needs no file
        if onnx_path is None or not Path(onnx_path).is_file():
            raise ModelError(f"backend '{backend}' needs an exported ONNX file (ifgrasp export), got {onnx_path}")
        if want_trt:
            cache = Path(engine_cache or Path(onnx_path).with_suffix(".trt_cache"))
            cache.mkdir(parents=True, exist_ok=True)
            opts = {"trt_fp16_enable": True, "trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache)}
            sess = ort.InferenceSession(str(onnx_path), providers=[("TensorrtExecutionProvider", opts),
                                                                   "CUDAExecutionProvider", "CPUExecutionProvider"])
            return "tensorrt", sess
        return "onnx", ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])

    def _sample(self, points: np.ndarray, mask: np.ndarray, noise: np.ndarray):
        if self._session is None:
            with torch.no_grad():
                pos, rot6, q = UnrolledSampler(self.policy, self.steps)(
                    torch.as_tensor(points)[None], torch.as_tensor(mask, dtype=torch.float32)[None],
                    torch.as_tensor(noise))
            return pos.numpy(), rot6.numpy(), q.numpy()
        pos, rot6, q = self._session.run(None, {"points": points[None], "part_mask": mask[None].astype(np.float32),
                                                "noise": noise})
        return pos, rot6, q

    # --- the interface ------------------------------------------------------------------------
    def generate(self, cloud: ObjectCloud | np.ndarray, part_mask: np.ndarray | None = None, k: int = 8,
                 T_base_camera: np.ndarray | None = None, table_z_m: float = 0.0) -> GraspBatch:
        """Top-``k`` grasps (camera frame, best first, ``scores`` set) for an observed cloud.

        ``cloud``: an :class:`ObjectCloud` in the camera frame, or (N, 3) points with ``part_mask``.
        ``T_base_camera`` (optional) lets the ranking reject grasps through the table (z = table_z_m).
        Every candidate and the per-stage timings of the call stay in ``self.last``.
        """
        if isinstance(cloud, ObjectCloud):
            if cloud.frame != "camera":
                raise InputError(f"the student works in the camera frame; cloud is in '{cloud.frame}'")
            points, part_mask = cloud.points_m, cloud.part_mask
        elif part_mask is None:
            raise InputError("part_mask is required with a raw point array")
        else:
            points = cloud
        timer = StageTimer()
        with timer.stage("prepare"):
            pts, mask = prepare_cloud(points, part_mask, self.n_points, self.rng)
            noise = torch.randn(self.num_candidates, GRASP_DIM, generator=self.gen).numpy()
        with timer.stage("sample"):
            pos, rot6, q = self._sample(pts, mask, noise)
        candidates = GraspBatch(pos.astype(np.float64), rot6d_to_matrix_np(rot6), q.astype(np.float64), frame="camera")
        with timer.stage("rank"):
            scores, details = rank_grasps(self.hand, candidates, pts, mask, self.ranking, T_base_camera, table_z_m,
                                          critic=self.critic)
        candidates.scores = scores
        candidates.extras.update(details)
        order = np.argsort(-scores)[:k]
        self.last = GenerationResult(candidates.select(order), candidates, dict(timer.durations_s))
        return self.last.grasps

    @property
    def hand(self):
        if self._hand is None:
            from ifgrasp.hand.model import LeapHandModel

            self._hand = LeapHandModel(n_surface_points=300)
        return self._hand
