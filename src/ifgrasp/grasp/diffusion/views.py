"""Camera-view training data for the student: each object as the robot's RealSense would see it.

For every object, ``views_per_object`` viewpoints around the table are rendered with the simulated
RGB-D camera (640x480, D435 intrinsics), depth noise and dropout are added like a D435's, and the
object's pixels are back-projected to a partial cloud of ``n_points`` points in the camera optical
frame, with each point's part index. ``T_camera_object`` maps the object frame (where the teacher's
grasps live) into the camera frame, so a dataset grasp becomes a camera-frame training target.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.errors import InputError


class ViewConfig(Config):
    views_per_object: int = Field(8, gt=0, description="camera viewpoints rendered per object")
    n_points: int = Field(2048, gt=0, description="points per partial cloud")
    distance_m: tuple[float, float] = Field((0.5, 0.9), description="camera distance to the object")
    elevation_rad: tuple[float, float] = Field((0.35, 1.1), description="camera elevation above the table")
    azimuth_rad: tuple[float, float] = Field((-2.6, 2.6), description="camera azimuth (0 = in front of the robot)")
    object_xy_m: tuple[float, float] = Field((0.45, 0.0), description="where the object stands")
    noise: bool = Field(True, description="add D435-like depth noise and dropout")


def _scene_for(category: str, seed: int, yaw: float, cfg: ViewConfig):
    from ifgrasp.sim.scene import build_scene
    from ifgrasp.sim.scene_config import SceneConfig

    base = SceneConfig.default()
    data = base.model_dump()
    data["robot"]["enabled"] = False
    data["objects"] = [{"category": category, "seed": seed, "x_m": cfg.object_xy_m[0],
                        "y_m": cfg.object_xy_m[1], "yaw_rad": yaw}]
    return build_scene(SceneConfig.from_dict(data))


def render_object_views(category: str, seed: int, cfg: ViewConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Views of one object. Returns points (V, N, 3) camera frame, point_part (V, N) int8 part index
    (-1 = unknown), T_camera_object (V, 4, 4)."""
    from ifgrasp.perception.cloud import CloudConfig, build_object_cloud
    from ifgrasp.perception.noise import add_depth_noise
    from ifgrasp.sim.camera import SimRGBDCamera
    from ifgrasp.sim.frames import look_at_T_base_camera

    scene = _scene_for(category, seed, float(rng.uniform(-np.pi, np.pi)), cfg)
    name = scene.object_names[0]
    T_base_object = scene.object_pose(name)
    center = T_base_object[:3, 3] + np.array([0.0, 0.0, 0.05])
    points, parts, T_co = [], [], []
    with SimRGBDCamera(scene) as camera:
        for v in range(cfg.views_per_object):
            az = rng.uniform(*cfg.azimuth_rad)
            el = rng.uniform(*cfg.elevation_rad)
            dist = rng.uniform(*cfg.distance_m)
            eye = center + dist * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
            camera.set_pose(look_at_T_base_camera(eye, center))
            frame = camera.render()
            if cfg.noise:
                frame.depth_m = add_depth_noise(frame.depth_m, rng)
            mask = frame.object_ids == 0
            try:
                cloud = build_object_cloud(frame, mask, frame.part_ids, CloudConfig(n_points=cfg.n_points, method="random",
                                                                                    seed=int(rng.integers(1 << 31))),
                                           object_name=name, require_part=False)
            except InputError:
                continue  # the object left the view (or all its depth dropped out): skip this view
            # part index of each kept point: re-project to pixels (points are on valid depth pixels)
            uv = (cloud.points_m @ frame.intrinsics.K.T)
            u = np.clip(np.round(uv[:, 0] / uv[:, 2]).astype(int), 0, frame.intrinsics.width - 1)
            vv = np.clip(np.round(uv[:, 1] / uv[:, 2]).astype(int), 0, frame.intrinsics.height - 1)
            points.append(cloud.points_m.astype(np.float32))
            parts.append(frame.part_ids[vv, u].astype(np.int8))
            T_co.append(np.linalg.inv(frame.T_base_camera) @ T_base_object)
    if not points:
        raise InputError(f"{category}_{seed}: no view saw the object")
    return {"points": np.stack(points), "point_part": np.stack(parts), "T_camera_object": np.stack(T_co)}


def build_view_set(objects: Iterable[tuple[str, int]], cfg: ViewConfig, out: Path, seed: int = 0,
                   progress: bool = True) -> Path:
    """Render views for every (category, seed) into one npz (resumable per object in a folder)."""
    from rich.progress import track

    out.mkdir(parents=True, exist_ok=True)
    objects = list(objects)
    for category, obj_seed in track(objects, description="views", disable=not progress):
        path = out / f"{category}_{obj_seed:04d}.npz"
        if path.exists():
            continue
        rng = np.random.default_rng([seed, obj_seed, sum(map(ord, category))])
        views = render_object_views(category, obj_seed, cfg, rng)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **views)
        tmp.rename(path)
    return out


def load_views(folder: Path) -> dict[tuple[str, int], dict[str, np.ndarray]]:
    """{(category, seed): views} of a view folder."""
    views = {}
    for f in sorted(Path(folder).glob("*.npz")):
        if f.name.endswith(".tmp.npz"):
            continue
        category, seed = f.stem.rsplit("_", 1)
        with np.load(f) as z:
            views[(category, int(seed))] = {k: z[k] for k in z.files}
    return views
