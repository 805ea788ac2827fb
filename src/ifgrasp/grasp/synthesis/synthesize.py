"""Part-aware force-closure grasp synthesis for the floating LEAP Hand on one object.

    grasps = synthesize(hand, make_object("mug", 3), part="handle", avoid=(), cfg=SynthesisConfig(), seed=0)

Returns a :class:`~ifgrasp.types.GraspBatch` in the object frame (z up, table plane z = 0) with the
energy terms and contact statistics in ``extras``. The optimiser's fingers are then settled onto the
object in MuJoCo (:mod:`ifgrasp.grasp.settle`; ``cfg.settle.enabled``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.errors import InputError, UnknownPartError, known
from ifgrasp.grasp.metrics import contact_stats
from ifgrasp.grasp.object_sdf import GridSDF, ObjectSDF
from ifgrasp.grasp.settle import SettleConfig, settle
from ifgrasp.grasp.synthesis.energy import GraspProblem, HandState
from ifgrasp.grasp.synthesis.antipodal import AntipodalConfig, antipodal_targets
from ifgrasp.grasp.synthesis.init import InitConfig, initial_states
from ifgrasp.grasp.synthesis.optimizer import AnnealingConfig, anneal
from ifgrasp.grasp.synthesis.refine import RefineConfig, refine
from ifgrasp.types import GraspBatch


class SynthesisConfig(Config):
    batch: int = Field(32, gt=0, description="grasps optimised together")
    part_points: int = Field(512, gt=0, description="samples of the instructed part surface")
    avoid_points: int = Field(256, ge=0, description="samples of the parts to avoid, and of the other parts")
    object_points: int = Field(384, gt=0, description="samples of the whole surface (object-into-hand)")
    sdf_grid_spacing_m: float = Field(0.003, ge=0, description="grid SDF in the loop (0 = exact queries every step)")
    contact_threshold_m: float = Field(0.005, gt=0, description="hand point within this of the surface = contact")
    table: bool = Field(True, description="the object stands on a table (plane z = 0)")
    method: str = Field("antipodal", pattern="^(antipodal|annealing)$",
                        description="antipodal targets + Adam (fast), or DexGraspNet annealing (slow)")
    center_of_mass: Literal["parts", "uniform"] = Field(
        "parts", description="the force-closure torque reference and the antipodal pairs' centre: parts (each part's "
        "density, as MuJoCo simulates the object) or uniform (one density, as the stored training shards were made)")
    antipodal: AntipodalConfig = Field(default_factory=AntipodalConfig)
    refine: RefineConfig = Field(default_factory=RefineConfig)
    init: InitConfig = Field(default_factory=InitConfig)
    annealing: AnnealingConfig = Field(default_factory=AnnealingConfig)
    settle: SettleConfig = Field(default_factory=SettleConfig)


def _part_samples(obj, parts: Sequence[str], n: int, rng: np.random.Generator):
    """Surface samples (points, normals) restricted to the named parts (oversample, then keep)."""
    idx = [obj.part_index(p) for p in parts]
    pts, nrm, lab = obj.sample_surface(max(8 * n, 4096), rng)
    keep = np.isin(lab, idx)
    if keep.sum() < 8:
        raise InputError(f"{obj.name}: parts {list(parts)} have (almost) no surface to sample")
    sel = rng.choice(np.flatnonzero(keep), size=n, replace=keep.sum() < n)
    return pts[sel], nrm[sel]


def _center_of_mass(obj, cfg: SynthesisConfig) -> np.ndarray:
    return obj.center_of_mass_m if cfg.center_of_mass == "parts" else obj.mesh.center_mass


def build_problem(obj, part: str, avoid: Sequence[str], cfg: SynthesisConfig, rng: np.random.Generator):
    """The energy's view of one object + instruction; also returns part samples with normals."""
    if part not in obj.part_names:
        raise UnknownPartError(f"object '{obj.name}' has no part '{part}'; known: {known(obj.part_names)}")
    for a in avoid:
        if a not in obj.part_names:
            raise UnknownPartError(f"object '{obj.name}' has no part '{a}' to avoid; known: {known(obj.part_names)}")
    if part in avoid:
        raise InputError(f"part '{part}' is both the target and a part to avoid")
    exact = ObjectSDF.from_trimesh(obj.mesh, obj.name)
    sdf = GridSDF(exact, *obj.mesh.bounds, spacing_m=cfg.sdf_grid_spacing_m) if cfg.sdf_grid_spacing_m > 0 else exact
    part_pts, part_nrm = _part_samples(obj, [part], cfg.part_points, rng)
    avoid_pts = (
        _part_samples(obj, list(avoid), cfg.avoid_points, rng)[0] if avoid and cfg.avoid_points else np.zeros((0, 3))
    )
    others = [p for p in obj.part_names if p != part and p not in avoid]
    other_pts = _part_samples(obj, others, cfg.avoid_points, rng)[0] if others and cfg.avoid_points else np.zeros((0, 3))
    obj_pts, _, _ = obj.sample_surface(cfg.object_points, rng)
    f32 = dict(dtype=torch.float32)
    problem = GraspProblem(
        sdf=sdf,
        part_points=torch.as_tensor(part_pts, **f32),
        avoid_points=torch.as_tensor(avoid_pts, **f32),
        other_points=torch.as_tensor(other_pts, **f32),
        object_points=torch.as_tensor(obj_pts, **f32),
        center_of_mass=torch.as_tensor(_center_of_mass(obj, cfg), **f32),
        table_z=0.0 if cfg.table else None,
    )
    return problem, part_pts, part_nrm


def synthesize(
    hand,
    obj,
    part: str,
    avoid: Sequence[str] = (),
    cfg: SynthesisConfig | None = None,
    seed: int = 0,
    progress: Callable[[int, dict[str, torch.Tensor]], None] | None = None,
) -> GraspBatch:
    """Optimise ``cfg.batch`` grasps of ``part`` of ``obj``; deterministic for a given seed."""
    cfg = cfg or SynthesisConfig()
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    problem, part_pts, part_nrm = build_problem(obj, part, avoid, cfg, rng)
    if cfg.method == "antipodal":
        pos, r6, q, targets = antipodal_targets(hand, obj, problem.sdf, part, cfg.batch, rng, cfg.antipodal, cfg.table,
                                              center_of_mass_m=_center_of_mass(obj, cfg))
        cidx = torch.zeros(cfg.batch, targets.shape[1], dtype=torch.int64)
        state, terms = refine(hand, problem, HandState(pos, r6, q, cidx), targets, cfg.refine, progress)
    else:
        pos, r6, q, cidx = initial_states(
            hand, part_pts, part_nrm, cfg.batch, rng, cfg.init, has_table=cfg.table,
            num_contacts=cfg.annealing.num_contacts,
        )
        state, terms = anneal(hand, problem, HandState(pos, r6, q, cidx), cfg.annealing, gen, progress)
    grasps = GraspBatch(
        wrist_pos_m=state.wrist_pos.numpy().astype(np.float64),
        wrist_rot=state.wrist_rot.detach().numpy().astype(np.float64),
        joints_rad=state.joints.numpy().astype(np.float64),
        frame="object",
        extras={f"energy_{k}": v.numpy() for k, v in terms.items()},
    )
    if cfg.settle.enabled:  # joints where the fingers stop on the object (ifgrasp.grasp.settle)
        grasps = settle(obj, grasps, cfg.settle)
    stats = contact_stats(
        hand, problem.sdf.exact, obj.face_part, obj.part_index(part), grasps,
        problem.object_points.numpy(), cfg.contact_threshold_m,
    )
    grasps.extras.update(
        num_contacts=stats.num_contacts, part_share=stats.part_share,
        all_on_part=stats.all_on_part, max_penetration_m=stats.max_penetration_m,
    )
    return grasps
