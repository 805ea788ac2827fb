"""Cluttered table scenes for perception: 3-6 objects close together, a jittered camera.

``clutter_scene(seed, split)`` describes a scene deterministically from ``(split, seed)``:
distinct categories drawn from ``ifgrasp.sim.objects`` (so an instruction naming one category is
never ambiguous), object instances from the split's family (``train`` seeds < 1000, ``heldout``
seeds >= 1000: held-out scenes hold only held-out instances), random yaws, and positions packed
around a first object at x ~ 0.35-0.6 m so that neighbours nearly touch (surface gap drawn from
``gap_m``; hidden sides and views across the pile give partial occlusion). The camera looks at
the pile from a pose jittered around the configured RealSense pose.

The robot is left out by default (``include_robot``): it stands behind the objects at the base
origin and the perception backend drops table-top clusters outside its workspace box, so the
training views need not contain it; rendering is ~2x faster without it.

    spec = clutter_scene(7, "train")
    with ClutterRenderer(spec) as r:
        frame = r.render()          # RGBDFrame with object_ids / part_ids
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.errors import InputError, known
from ifgrasp.sim.frames import look_at_T_base_camera, quat_xyzw_from_matrix
from ifgrasp.sim.objects import CATEGORIES, GraspObject, make_object, object_family
from ifgrasp.sim.scene_config import ObjectPlacement, SceneConfig

Split = Literal["train", "heldout"]
SPLITS: tuple[str, ...] = ("train", "heldout")


class ClutterConfig(Config):
    """How cluttered scenes are drawn (section ``clutter`` of ``config/perception_trained.yaml``)."""

    n_objects: tuple[int, int] = Field((3, 6), description="inclusive range of objects per scene")
    categories: tuple[str, ...] = Field(CATEGORIES, description="categories to draw from (distinct per scene)")
    train_instances: int = Field(6, gt=0, description="object instances per category in the train family")
    heldout_instances: int = Field(3, gt=0, description="object instances per category in the held-out family")
    first_xy_m: tuple[tuple[float, float], tuple[float, float]] = Field(
        ((0.38, 0.55), (-0.12, 0.12)), description="x range and y range of the first object's origin")
    region_x_m: tuple[float, float] = Field((0.22, 0.78), description="allowed x of object origins")
    region_y_m: tuple[float, float] = Field((-0.38, 0.38), description="allowed y of object origins")
    gap_m: tuple[float, float] = Field((0.004, 0.03), description="surface gap to the nearest neighbour")
    eye_jitter_m: float = Field(0.08, ge=0, description="uniform jitter of the camera position per axis")
    target_jitter_m: float = Field(0.05, ge=0, description="uniform jitter of the look-at point per axis")
    look_at_m: tuple[float, float, float] = Field((0.42, 0.0, 0.06), description="nominal look-at point")
    include_robot: bool = Field(False, description="keep the xArm7 + LEAP in the scene (slower render)")
    max_tries: int = Field(40, gt=0, description="placement attempts per object")


@dataclass(frozen=True)
class ClutterScene:
    """One cluttered scene: ``scene`` (a full ``SceneConfig``, camera pose jittered), the split and
    seed it came from, and ``objects`` in ``scene.objects`` order (same order as ``object_ids``)."""

    seed: int
    split: str
    scene: SceneConfig
    objects: tuple[GraspObject, ...]

    @property
    def T_base_camera(self) -> np.ndarray:
        return self.scene.camera.T_base_camera


@lru_cache(maxsize=256)
def _object(category: str, seed: int) -> GraspObject:
    return make_object(category, seed)


@lru_cache(maxsize=256)
def _surface(category: str, seed: int, n: int = 400) -> np.ndarray:
    """(n, 3) fixed surface samples in the object frame (for gap measurement)."""
    return _object(category, seed).sample_surface(n, np.random.default_rng(0))[0]


def _yaw(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _gap(a: tuple[GraspObject, np.ndarray, float], b: tuple[GraspObject, np.ndarray, float]) -> float:
    """Approximate surface gap (m) between two placed objects (object, xy, yaw): the smaller of the
    signed distances of each one's surface samples to the other (negative = interpenetration)."""
    out = np.inf
    for (oa, pa, ya), (ob, pb, yb) in ((a, b), (b, a)):
        pts_base = _surface(ob.category, ob.seed) @ _yaw(yb).T + np.append(pb, 0.0)  # (n, 3)
        pts_a = (pts_base - np.append(pa, 0.0)) @ _yaw(ya)  # into a's frame
        out = min(out, float(oa.signed_distance(pts_a).min()))
    return out


def _radius(obj: GraspObject) -> float:
    return float(np.linalg.norm(obj.mesh.vertices[:, :2], axis=1).max())


def _camera(rng: np.random.Generator, base: SceneConfig, cfg: ClutterConfig) -> dict:
    eye = np.asarray(base.camera.position_m) + rng.uniform(-1, 1, 3) * cfg.eye_jitter_m
    target = np.asarray(cfg.look_at_m) + rng.uniform(-1, 1, 3) * cfg.target_jitter_m
    T = look_at_T_base_camera(eye, target)
    return {**base.camera.model_dump(), "position_m": tuple(eye), "quat_xyzw": tuple(quat_xyzw_from_matrix(T[:3, :3]))}


def clutter_scene(seed: int, split: Split = "train", cfg: ClutterConfig = ClutterConfig(),
                  base: SceneConfig | None = None) -> ClutterScene:
    """The cluttered scene ``seed`` of ``split`` (deterministic; same inputs, same scene)."""
    if split not in SPLITS:
        raise InputError(f"unknown scene split '{split}'; known: {known(SPLITS)}")
    if int(seed) != seed or seed < 0:
        raise InputError(f"scene seed must be a non-negative integer, got {seed!r}")
    base = base or SceneConfig.default()
    rng = np.random.default_rng([zlib.crc32(b"clutter-" + split.encode()), int(seed)])
    lo, hi = cfg.n_objects
    n = int(rng.integers(lo, hi + 1))
    if n > len(cfg.categories):
        raise InputError(f"{n} objects need {n} distinct categories; only {len(cfg.categories)} configured")
    per = cfg.train_instances if split == "train" else cfg.heldout_instances
    family = object_family(split, per)
    cats = rng.choice(np.array(cfg.categories), size=n, replace=False)
    placed: list[tuple[GraspObject, np.ndarray, float]] = []
    for cat in cats:
        seeds = [s for c, s in family if c == cat]
        first = seeds.index(int(rng.choice(seeds)))
        obj = None
        for s in seeds[first:] + seeds[:first]:  # a seed whose shape is degenerate is skipped
            try:
                obj = _object(str(cat), int(s))
                break
            except InputError:
                continue
        if obj is None:
            continue
        pose = _place(obj, placed, rng, cfg)
        if pose is not None:
            placed.append((obj, *pose))
    placements = [ObjectPlacement(category=o.category, seed=o.seed, x_m=float(p[0]), y_m=float(p[1]),
                                  yaw_rad=float(y)) for o, p, y in placed]
    robot = {**base.robot.model_dump(), "enabled": cfg.include_robot}
    scene = base.replace(objects=placements, robot=robot, camera=_camera(rng, base, cfg))
    return ClutterScene(seed=int(seed), split=split, scene=scene, objects=tuple(o for o, _, _ in placed))


def _place(obj: GraspObject, placed: list, rng: np.random.Generator,
           cfg: ClutterConfig) -> tuple[np.ndarray, float] | None:
    """(xy, yaw) for ``obj`` next to a random placed object at a drawn surface gap, or None."""
    (x0, x1), (y0, y1) = cfg.first_xy_m
    for _ in range(cfg.max_tries):
        yaw = float(rng.uniform(-np.pi, np.pi))
        if not placed:
            return np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)]), yaw
        anchor = placed[int(rng.integers(len(placed)))]
        u = rng.normal(size=2)
        u /= np.linalg.norm(u)
        want = float(rng.uniform(*cfg.gap_m))
        d = _radius(obj) + _radius(anchor[0]) + want
        for _ in range(4):  # slide along u until the gap to the anchor is what was drawn
            g = _gap((obj, anchor[1] + u * d, yaw), anchor)
            d -= g - want
        xy = anchor[1] + u * d
        if not (cfg.region_x_m[0] < xy[0] < cfg.region_x_m[1] and cfg.region_y_m[0] < xy[1] < cfg.region_y_m[1]):
            continue
        if all(_gap((obj, xy, yaw), other) > 0.5 * cfg.gap_m[0] for other in placed):
            return xy, yaw
    return None


class ClutterRenderer:
    """Builds a ``ClutterScene`` in MuJoCo and renders it with ``SimRGBDCamera`` (its jittered pose).

    ``part_vocab`` maps each pixel's per-object part index to a global part id: ``gt_parts(frame)``
    returns (H, W) int32 indices into ``part_vocab`` (-1 off objects)."""

    def __init__(self, spec: ClutterScene, part_vocab: tuple[str, ...] | None = None,
                 width: int | None = None, height: int | None = None):
        from ifgrasp.sim.camera import SimRGBDCamera
        from ifgrasp.sim.scene import build_scene

        self.spec = spec
        self.sim = build_scene(spec.scene)
        intr = spec.scene.camera.intrinsics
        if width is not None and height is not None:  # rescale the pinhole model to another size
            sx, sy = width / intr.width, height / intr.height
            intr = type(intr)(width, height, intr.fx * sx, intr.fy * sy, (intr.cx + 0.5) * sx - 0.5,
                              (intr.cy + 0.5) * sy - 0.5)
        self.camera = SimRGBDCamera(self.sim, intrinsics=intr)
        self.part_vocab = part_vocab
        if part_vocab is not None:
            width_p = max(len(o.part_names) for o in self.sim.objects)
            table = np.full((len(self.sim.objects), width_p), -1, np.int32)  # (O, P_obj)
            for i, o in enumerate(self.sim.objects):
                table[i, : len(o.part_names)] = [part_vocab.index(p) for p in o.part_names]
            self._part_table = table

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(o.category for o in self.sim.objects)

    def render(self):
        return self.camera.render()

    def gt_parts(self, frame) -> np.ndarray:
        """(H, W) int32 global part id (index into ``part_vocab``) per pixel, -1 off objects."""
        oid, pid = frame.object_ids, frame.part_ids
        ok = (oid >= 0) & (pid >= 0)
        return np.where(ok, self._part_table[np.maximum(oid, 0), np.maximum(pid, 0)], -1).astype(np.int32)

    def close(self) -> None:
        self.camera.close()

    def __enter__(self) -> "ClutterRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
