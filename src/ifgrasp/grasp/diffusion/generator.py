"""``GraspGenerator.generate(cloud, part_mask, k)``: the student at run time, whatever the backend.

Backends: ``torch`` (the checkpoint), ``onnx`` (onnxruntime on CPU, the exported unrolled sampler),
``tensorrt`` (onnxruntime's TensorRT execution provider, fp16, engine cached on disk; used
automatically by ``auto`` when a CUDA GPU and the provider are present). Input clean-up is
documented in :func:`prepare_cloud`; candidates are ranked by :mod:`ifgrasp.grasp.diffusion.ranking`,
with the learned critic's term when a critic is given (``from_checkpoint`` loads ``critic.pt`` from
beside the student when it exists). The critic runs inside the sampler's graph on the same BPS
features (torch always; ONNX / TensorRT when the exported file holds that critic, checked by a digest
of its weights), else in torch during the ranking. The best candidates are then refined for physics
(:mod:`ifgrasp.grasp.diffusion.physics`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ifgrasp.errors import InputError, ModelError, known
from ifgrasp.geometry import rot6d_to_matrix_np
from ifgrasp.grasp.diffusion.physics import ObservedCloud, PhysicsConfig, PhysicsTerms
from ifgrasp.grasp.diffusion.policy import GRASP_DIM, SamplerGraph
from ifgrasp.grasp.diffusion.ranking import RankingConfig, rank_grasps
from ifgrasp.grasp.diffusion.train import load_checkpoint
from ifgrasp.timing import StageTimer
from ifgrasp.types import GraspBatch, ObjectCloud

BACKENDS = ("auto", "torch", "onnx", "tensorrt")


#: Camera working range (metres, median distance of the object's points): the D435's minimum depth
#: is ~0.1-0.3 m and perception drops depth beyond 2 m (``config/perception.yaml`` instances.max_range_m).
WORKING_RANGE_M = (0.1, 2.0)
#: Fewer finite points (or part points) than this is not an observed object; training skipped views
#: showing fewer than 16 part points (``TrainConfig.min_part_points``).
MIN_POINTS, MIN_PART_POINTS = 32, 8


def prepare_cloud(points: np.ndarray, part_mask: np.ndarray, n_points: int, rng: np.random.Generator,
                  working_range_m: tuple[float, float] = WORKING_RANGE_M, min_points: int = MIN_POINTS,
                  min_part_points: int = MIN_PART_POINTS):
    """Validate and resample an observed cloud (camera frame, metres).

    Clean-up: rows with NaN/inf are dropped (depth holes); the cloud is resampled to ``n_points``
    (random, with replacement only when it has fewer). Refused with ``InputError`` naming the problem:
    an empty cloud, one whose points are all NaN/inf, fewer than ``min_points`` finite points, a mask
    of another length, a part mask with fewer than ``min_part_points`` points (none: the part is not
    visible), coordinates that look like millimetres (median distance above 20), or an object whose
    median distance from the camera is outside ``working_range_m``.
    """
    points = np.asarray(points, dtype=np.float32)
    part_mask = np.asarray(part_mask)
    if points.ndim != 2 or points.shape[1] != 3:
        raise InputError(f"cloud must be (N, 3) metres in the camera frame, got shape {points.shape}")
    if part_mask.shape != (points.shape[0],):
        raise InputError(f"part mask has {part_mask.shape} entries for {points.shape[0]} points; "
                         "it needs one boolean per point")
    if part_mask.dtype != bool:
        if not np.isin(part_mask, (0, 1)).all():
            raise InputError("part mask must be booleans (or 0/1) per point; it holds other values (NaN?)")
        part_mask = part_mask.astype(bool)
    if len(points) == 0:
        raise InputError("the object cloud is empty (0 points): nothing was segmented for this object")
    finite = np.isfinite(points).all(1)
    if not finite.any():
        raise InputError(f"the object cloud is empty: all {len(points)} points are NaN/inf (invalid depth)")
    points, part_mask = points[finite], part_mask[finite]
    if len(points) < min_points:
        raise InputError(f"the object cloud has only {len(points)} finite points (of {len(finite)}); "
                         f"the student needs >= {min_points}: move the camera closer or check the segmentation")
    if not part_mask.any():
        raise InputError("the part mask selects no point: the instructed part is not visible in this view")
    if part_mask.sum() < min_part_points:
        raise InputError(f"the part mask selects only {int(part_mask.sum())} points; the student needs >= "
                         f"{min_part_points}: the instructed part is barely visible, try another view")
    median_range = float(np.median(np.linalg.norm(points, axis=1)))
    if median_range > 20.0:
        raise InputError(f"cloud points are {median_range:.0f} units from the camera: millimetres? "
                         "ifgrasp expects metres")
    lo, hi = working_range_m
    if not lo <= median_range <= hi:
        raise InputError(f"the object is {median_range:.2f} m from the camera, outside the working range "
                         f"{lo:.1f}-{hi:.1f} m (camera frame, metres): is the cloud in the camera frame?")
    idx = rng.choice(len(points), size=n_points, replace=len(points) < n_points)
    return points[idx], part_mask[idx]


@dataclass
class GenerationResult:
    grasps: GraspBatch  # top-k, camera frame, sorted by score
    candidates: GraspBatch  # every sample, camera frame, with scores
    timings_s: dict[str, float] = field(default_factory=dict)


class GraspGenerator:
    """The student behind one interface; ``steps`` network evaluations per sample (DDIM, or Euler for a
    distilled flow student); None = the checkpoint's own count (``policy.default_steps``: 8 for the DDIM
    student, the distilled one's recorded count)."""

    def __init__(self, policy, backend: str = "auto", steps: int | None = None, num_candidates: int = 64,
                 n_points: int = 2048, ranking: RankingConfig | None = None, onnx_path: str | Path | None = None,
                 engine_cache: str | Path | None = None, seed: int = 0, critic=None,
                 physics: PhysicsConfig | None = None) -> None:
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend '{backend}'; known: {known(BACKENDS)}")
        self.policy = policy
        self.steps = int(steps) if steps is not None else int(getattr(policy, "default_steps", 8))
        self.num_candidates = num_candidates
        self.n_points = n_points
        self.ranking = ranking or RankingConfig()
        self.critic = critic
        self.physics_cfg = physics or PhysicsConfig()
        self._physics: PhysicsTerms | None = None
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self._hand = None
        self.last: GenerationResult | None = None
        self._graph = None
        self.critic_in_graph = False  # True when the sampler's graph computes the loaded critic's P(lift)
        self.backend, self._session = self._open(backend, onnx_path, engine_cache)
        if self._session is None:
            self.critic_in_graph = critic is not None

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
        sess = self._onnx_session(ort, onnx_path, want_trt, engine_cache)
        return ("tensorrt" if want_trt else "onnx"), sess

    def _onnx_session(self, ort, onnx_path, want_trt: bool, engine_cache):
        """An onnxruntime session for the exported sampler; ``ModelError`` when the file is corrupt,
        for another hand, or exported with another step count than ``self.steps``."""
        from ifgrasp.grasp.diffusion.train import HAND_ID

        if want_trt:
            cache = Path(engine_cache or Path(onnx_path).with_suffix(".trt_cache"))
            cache.mkdir(parents=True, exist_ok=True)
            opts = {"trt_fp16_enable": True, "trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache)}
            providers = [("TensorrtExecutionProvider", opts), "CUDAExecutionProvider", "CPUExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        sess_opts = ort.SessionOptions()
        # no busy-waiting worker threads after a run: they would compete with the torch ranking that follows
        sess_opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            sess = ort.InferenceSession(str(onnx_path), sess_options=sess_opts, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types for a bad file
            raise ModelError(f"cannot read ONNX sampler {onnx_path}: {exc} (re-export with `ifgrasp export`)") from exc
        meta = sess.get_modelmeta().custom_metadata_map
        if meta.get("ifgrasp_hand") != HAND_ID:
            raise ModelError(f"{onnx_path} was exported for hand '{meta.get('ifgrasp_hand')}', this build drives "
                             f"'{HAND_ID}'")
        sampler = meta.get("sampler", "ddim")
        if sampler != self.policy.sampler:
            raise ModelError(f"{onnx_path} holds a '{sampler}' sampler, the checkpoint is a '{self.policy.sampler}' "
                             "model: export this checkpoint (ifgrasp export --checkpoint ...) or pass its own ONNX file")
        steps = meta.get("sampler_steps", meta.get("ddim_steps"))
        if steps is not None and int(steps) != self.steps:
            label = "DDIM" if sampler == "ddim" else "flow (Euler)"
            raise ModelError(f"{onnx_path} unrolls {steps} {label} steps, the generator was asked for "
                             f"{self.steps}: pass steps={steps} or re-export with --steps {self.steps}")
        if self.critic is not None and "critic_sha256" in meta:
            from ifgrasp.grasp.diffusion.export import critic_digest

            self.critic_in_graph = meta["critic_sha256"] == critic_digest(self.critic)
        return sess

    def _sample(self, points: np.ndarray, mask: np.ndarray, noise: np.ndarray):
        """(pos, rot6d, joints, P(lift) or None): one graph for the sampler and, when it holds the
        loaded critic, the critic (same BPS features); otherwise the critic runs later in the ranking."""
        if self._session is None:
            if self._graph is None:
                self._graph = SamplerGraph(self.policy, self.steps, self.critic)
            with torch.no_grad():
                out = self._graph(torch.as_tensor(points)[None], torch.as_tensor(mask, dtype=torch.float32)[None],
                                  torch.as_tensor(noise))
            out = [o.numpy() for o in out]
        else:
            out = self._session.run(None, {"points": points[None], "part_mask": mask[None].astype(np.float32),
                                           "noise": noise})
        p = out[3] if len(out) > 3 and self.critic_in_graph else None
        return out[0], out[1], out[2], p

    # --- the interface ------------------------------------------------------------------------
    def generate(self, cloud: ObjectCloud | np.ndarray, part_mask: np.ndarray | None = None, k: int = 8,
                 T_base_camera: np.ndarray | None = None, table_z_m: float = 0.0) -> GraspBatch:
        """Top-``k`` grasps (camera frame, best first, ``scores`` set) for an observed cloud.

        ``cloud``: an :class:`ObjectCloud` in the camera frame, or (N, 3) points with ``part_mask``.
        ``T_base_camera`` (optional) lets the ranking reject grasps through the table (z = table_z_m).
        Candidates still self-penetrating deeper than ``physics.reject_self_m`` after the physics
        refinement are never returned (fewer than ``k`` may come back; none left: ``ModelError``).
        Every candidate, its pre-check terms and the per-stage timings stay in ``self.last``.
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
            self.last_points, self.last_mask = pts, mask  # the resampled cloud the candidates were ranked on
            noise = torch.randn(self.num_candidates, GRASP_DIM, generator=self.gen).numpy()
        with timer.stage("sample"):
            pos, rot6, q, p_lift = self._sample(pts, mask, noise)
        candidates = GraspBatch(pos.astype(np.float64), rot6d_to_matrix_np(rot6), q.astype(np.float64), frame="camera")
        with timer.stage("rank"):
            scores, details = rank_grasps(self.hand, candidates, pts, mask, self.ranking, T_base_camera, table_z_m,
                                          critic=self.critic, learned_probability=p_lift)
        with timer.stage("refine"):
            candidates, scores, details = self._refine(candidates, scores, details, pts, mask, T_base_camera,
                                                       table_z_m)
        candidates.scores = scores
        candidates.extras.update(details)
        ok = np.flatnonzero(~details["rejected_self_collision"])
        if len(ok) == 0:
            raise ModelError(f"all {len(candidates)} candidates self-collide deeper than "
                             f"{self.physics_cfg.reject_self_m * 1e3:.1f} mm after refinement; "
                             "the model or its checkpoint is unfit for this hand")
        order = ok[np.argsort(-scores[ok])][:k]
        self.last = GenerationResult(candidates.select(order), candidates, dict(timer.durations_s))
        return self.last.grasps

    def _refine(self, candidates: GraspBatch, scores, details, pts, mask, T_base_camera, table_z_m):
        """Physics refinement of the ``refine_top`` best candidates (:mod:`.physics`), re-ranked;
        every candidate gets the pre-check terms and ``rejected_self_collision``."""
        cfg = self.physics_cfg
        phys = self.physics
        obs = ObservedCloud.from_points(pts, mask, cfg)
        f32 = dict(dtype=torch.float32)
        if cfg.refine_steps or cfg.repair_steps:
            n = len(candidates) if cfg.refine_top == 0 else min(cfg.refine_top, len(candidates))
            top = np.argsort(-scores)[:n]
            pos, q, _ = phys.refine(torch.as_tensor(candidates.wrist_pos_m[top], **f32),
                                    torch.as_tensor(candidates.wrist_rot[top], **f32),
                                    torch.as_tensor(candidates.joints_rad[top], **f32), obs)
            pos_all, q_all = candidates.wrist_pos_m.copy(), candidates.joints_rad.copy()
            pos_all[top], q_all[top] = pos.numpy(), q.numpy()
            candidates = GraspBatch(pos_all, candidates.wrist_rot, q_all, frame="camera")
            new_scores, new_details = rank_grasps(self.hand, candidates.select(top), pts, mask, self.ranking,
                                                  T_base_camera, table_z_m, critic=self.critic)
            scores = scores.copy()
            scores[top] = new_scores
            details = {name: v.copy() for name, v in details.items()}
            for name, v in new_details.items():
                details[name][top] = v
            details["refined"] = np.isin(np.arange(len(candidates)), top)
        m = phys.metrics(torch.as_tensor(candidates.wrist_pos_m, **f32), torch.as_tensor(candidates.wrist_rot, **f32),
                         torch.as_tensor(candidates.joints_rad, **f32), obs)
        details.update({name: v.numpy().astype(np.float64) for name, v in m.items()})
        details["rejected_self_collision"] = details["self_penetration_m"] > cfg.reject_self_m
        return candidates, scores, details

    @property
    def physics(self) -> PhysicsTerms:
        if self._physics is None:
            self._physics = PhysicsTerms(self.hand, self.physics_cfg)
        return self._physics

    @property
    def hand(self):
        if self._hand is None:
            from ifgrasp.hand.model import LeapHandModel

            self._hand = LeapHandModel(n_surface_points=300)
        return self._hand
