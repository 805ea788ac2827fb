"""``GraspGenerator.generate(cloud, part_mask, k)``: the student at run time, whatever the backend.

Backends: ``torch`` (the checkpoint), ``onnx`` (onnxruntime on CPU, the exported unrolled sampler),
``tensorrt`` (onnxruntime's TensorRT execution provider, fp16, engine cached on disk; used
automatically by ``auto`` when a CUDA GPU and the provider are present). Input clean-up is
documented in :func:`prepare_cloud`; candidates are ranked by :mod:`ifgrasp.grasp.diffusion.ranking`,
with the learned critic's term when a critic is given (``from_checkpoint`` loads ``critic.pt`` from
beside the student when it exists). The critic and the ranking's geometric measures (with the exact
self-penetration) run inside the sampler's graph (torch always; ONNX / TensorRT when the exported file
holds them: the critic checked by a digest of its weights), else in torch after it. Of the best
candidates, those over the self-penetration limit are then repaired (or all refined, with
``physics.refine_steps``; :mod:`ifgrasp.grasp.diffusion.physics`) and only they are measured again.
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
from ifgrasp.grasp.diffusion.ranking import TERMS, RankingConfig, ranking_terms, score_terms, table_plane
from ifgrasp.grasp.diffusion.train import load_checkpoint
from ifgrasp.timing import StageTimer
from ifgrasp.types import GraspBatch, ObjectCloud

#: ``auto``: TensorRT when a CUDA GPU offers it, else onnxruntime when ``onnx_path`` is the one graph
#: (sampler + critic + ranking) of this model, else torch
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
        self.ranking_in_graph = False  # True when it also computes the ranking's measures (ranking.TERMS)
        self.auto_note = ""  # why backend "auto" chose torch over an ONNX file it was given
        self.backend, self._session = self._open(backend, onnx_path, engine_cache)
        if self._session is None:
            self.critic_in_graph = critic is not None
            self.ranking_in_graph = True

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
            # on a CPU the one graph (sampler + critic + ranking) in onnxruntime is several times faster than
            # torch (ifgrasp bench generate); a file that is not that graph for this model runs no faster: torch
            if onnx_path is None or not Path(onnx_path).is_file():
                return "torch", None
            try:
                sess = self._onnx_session(ort, onnx_path, False, engine_cache)
            except ModelError as exc:
                self.auto_note = f"torch: {exc}"
                return "torch", None
            if self.ranking_in_graph and (self.critic is None or self.critic_in_graph):
                return "onnx", sess
            self.auto_note = f"torch: {onnx_path} is not the one graph with this critic and the ranking"
            self.critic_in_graph = self.ranking_in_graph = False
            return "torch", None
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
        sess_opts.intra_op_num_threads = torch.get_num_threads()  # one thread knob for both runtimes
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
        probes = meta.get("probe_points")
        if probes is not None and int(probes) != self.ranking.penetration_points:
            raise ModelError(f"{onnx_path} ranks on {probes} observed points, the generator's ranking asks for "
                             f"{self.ranking.penetration_points}: re-export (ifgrasp export) or set "
                             f"penetration_points={probes}")
        self.ranking_in_graph = probes is not None
        self._outputs = [o.name for o in sess.get_outputs()]
        return sess

    def _sample(self, points: np.ndarray, mask: np.ndarray, noise: np.ndarray, plane: np.ndarray) -> dict:
        """{output name: array}: one graph for the sampler and, when it holds them, the loaded critic
        (same BPS features) and the ranking's measures; what it lacks runs afterwards in torch."""
        if self._session is None:
            if self._graph is None:
                self._graph = SamplerGraph(self.policy, self.steps, self.critic, self.hand,
                                           self.ranking.penetration_points)
            with torch.no_grad():
                out = self._graph(torch.as_tensor(points)[None], torch.as_tensor(mask, dtype=torch.float32)[None],
                                  torch.as_tensor(noise), torch.as_tensor(plane))
            return {name: o.numpy() for name, o in zip(self._graph.output_names, out)}
        feeds = {"points": points[None], "part_mask": mask[None].astype(np.float32), "noise": noise}
        if self.ranking_in_graph:
            feeds["table_plane"] = plane
        return dict(zip(self._outputs, self._session.run(None, feeds)))

    def _terms(self, candidates: GraspBatch, pts: np.ndarray, mask: np.ndarray, plane: np.ndarray) -> dict:
        """The ranking's measures (ranking.TERMS, numpy) of ``candidates`` computed in torch."""
        f32 = dict(dtype=torch.float32)
        with torch.no_grad():
            terms = ranking_terms(self.hand, torch.as_tensor(candidates.wrist_pos_m, **f32),
                                  torch.as_tensor(candidates.wrist_rot, **f32), torch.as_tensor(candidates.joints_rad, **f32),
                                  torch.as_tensor(pts, **f32), torch.as_tensor(mask, **f32), torch.as_tensor(plane),
                                  self.ranking.penetration_points, self.physics.self_collision)
        return {name: v.numpy() for name, v in terms.items()}

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
            plane = table_plane(T_base_camera, table_z_m)
        with timer.stage("sample"):
            out = self._sample(pts, mask, noise, plane)
        candidates = GraspBatch(out["wrist_pos"].astype(np.float64), rot6d_to_matrix_np(out["rot6d"]),
                                out["joints"].astype(np.float64), frame="camera")
        with timer.stage("rank"):
            terms = ({name: out[name] for name in TERMS} if self.ranking_in_graph
                     else self._terms(candidates, pts, mask, plane))
            p_lift = out["lift_probability"] if self.critic_in_graph else self._lift(candidates, pts, mask)
            scores, details = score_terms(terms, self.ranking, p_lift)
        with timer.stage("refine"):
            candidates, scores, details = self._refine(candidates, terms, p_lift, scores, details, pts, mask, plane, k)
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

    def _lift(self, candidates: GraspBatch, pts, mask) -> np.ndarray | None:
        """The critic's P(lift) computed in torch (None without a critic)."""
        if self.critic is None:
            return None
        return self.critic.success_probability(pts, mask, candidates.wrist_pos_m, candidates.wrist_rot,
                                               candidates.joints_rad)

    def _refine(self, candidates: GraspBatch, terms: dict, p_lift, scores, details, pts, mask, plane, k: int = 8):
        """Physics step on the ``refine_top`` best candidates (:mod:`.physics`): with ``refine_steps`` all
        of them are refined, else those over ``reject_self_m`` of self-penetration are repaired (with
        ``repair_scope`` "fill": only when fewer than ``k`` candidates are within the limit);
        the changed ones are measured and scored again (the others keep the graph's measures). Every
        candidate gets the pre-check terms and ``rejected_self_collision``."""
        cfg = self.physics_cfg
        n = len(candidates) if cfg.refine_top == 0 else min(cfg.refine_top, len(candidates))
        top = np.argsort(-scores)[:n]
        if cfg.refine_steps:
            change = top
        elif cfg.repair_steps:
            over = np.asarray(terms["self_penetration_m"]) > cfg.reject_self_m
            change = top[over[top]]
            if cfg.repair_scope == "fill" and (~over).sum() >= k:
                change = top[:0]  # enough admissible candidates: none is moved
        else:
            change = top[:0]
        if len(change):
            f32 = dict(dtype=torch.float32)
            obs = ObservedCloud.from_points(pts, mask, cfg)
            pos, q, _ = self.physics.refine(torch.as_tensor(candidates.wrist_pos_m[change], **f32),
                                            torch.as_tensor(candidates.wrist_rot[change], **f32),
                                            torch.as_tensor(candidates.joints_rad[change], **f32), obs)
            pos_all, q_all = candidates.wrist_pos_m.copy(), candidates.joints_rad.copy()
            pos_all[change], q_all[change] = pos.numpy(), q.numpy()
            candidates = GraspBatch(pos_all, candidates.wrist_rot, q_all, frame="camera")
            changed = candidates.select(change)
            new = self._terms(changed, pts, mask, plane)
            terms = {name: np.array(v, copy=True) for name, v in terms.items()}
            for name, v in new.items():
                terms[name][change] = v
            if p_lift is not None:
                p_lift = np.array(p_lift, np.float64)
                p_lift[change] = self._lift(changed, pts, mask)
            scores, details = score_terms(terms, self.ranking, p_lift)
        details["refined"] = np.isin(np.arange(len(candidates)), change)
        details["self_penetration_m"] = np.asarray(terms["self_penetration_m"], np.float64)
        details["cloud_penetration_m"] = np.asarray(terms["cloud_penetration_m"], np.float64)
        details["tip_part_distance_m"] = np.asarray(terms["tip_part_m"], np.float64).mean(-1)
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
