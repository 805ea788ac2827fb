"""Static set of the scene: floor, table (top at z = 0), lights and the camera's stand.

Everything here is fixed to the world body. Geoms named here carry no object or part label.
"""

from __future__ import annotations

import mujoco
import numpy as np

from ifgrasp.sim.scene_config import SceneConfig

#: Geom names of the static set.
TABLE_GEOM = "table"
FLOOR_GEOM = "floor"

_BOX = mujoco.mjtGeom.mjGEOM_BOX
_CYL = mujoco.mjtGeom.mjGEOM_CYLINDER
#: Visual-only geoms: no contacts, drawn in geom group 1.
_VISUAL = dict(contype=0, conaffinity=0, group=1)


def add_stage(spec: mujoco.MjSpec, cfg: SceneConfig) -> None:
    """Floor, table with legs, lights and render settings."""
    t = cfg.table
    floor_z = -t.height_m
    spec.add_texture(name="sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT, width=256, height=256,
                     rgb1=[0.78, 0.84, 0.90], rgb2=[0.35, 0.38, 0.42])
    spec.add_texture(name="floor_grid", type=mujoco.mjtTexture.mjTEXTURE_2D,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, width=256, height=256,
                     rgb1=[0.32, 0.34, 0.38], rgb2=[0.26, 0.28, 0.31])
    spec.add_material(name="floor_mat", textures=["", "floor_grid"], texrepeat=[8, 8], reflectance=0.05)
    spec.add_material(name="table_mat", rgba=[0.72, 0.60, 0.46, 1.0], specular=0.1)
    spec.add_material(name="leg_mat", rgba=[0.35, 0.30, 0.26, 1.0])
    wb = spec.worldbody
    wb.add_geom(name=FLOOR_GEOM, type=mujoco.mjtGeom.mjGEOM_PLANE, size=[4.0, 4.0, 0.05],
                pos=[0.0, 0.0, floor_z], material="floor_mat")

    cx = t.x_min_m + t.size_x_m / 2
    half = np.array([t.size_x_m, t.size_y_m, t.thickness_m]) / 2
    wb.add_geom(name=TABLE_GEOM, type=_BOX, size=half, pos=[cx, 0.0, -half[2]], material="table_mat",
                friction=[t.friction, 0.005, 0.0001])
    leg_len = t.height_m - t.thickness_m
    inset = 0.06
    for i, (sx, sy) in enumerate([(1, 1), (1, -1), (-1, 1), (-1, -1)]):
        wb.add_geom(name=f"table_leg_{i}", type=_BOX, size=[0.025, 0.025, leg_len / 2],
                    pos=[cx + sx * (half[0] - inset), sy * (half[1] - inset), floor_z + leg_len / 2],
                    material="leg_mat", **_VISUAL)

    spec.visual.headlight.ambient = [0.25, 0.25, 0.25]
    spec.visual.headlight.diffuse = [0.35, 0.35, 0.35]
    spec.visual.headlight.specular = [0.05, 0.05, 0.05]
    spec.visual.quality.shadowsize = 2048
    # Near clip 1 cm whatever the model's extent (the camera sees objects from 0.3 m on).
    spec.stat.extent = 2.0
    spec.visual.map.znear = 0.005
    spec.visual.map.zfar = 10.0
    wb.add_light(name="key", pos=[0.6, -0.4, 2.0], dir=[-0.1, 0.2, -1.0], diffuse=[0.6, 0.6, 0.6],
                 specular=[0.1, 0.1, 0.1], castshadow=True, cutoff=60.0)
    wb.add_light(name="fill", pos=[-0.5, 1.0, 1.8], dir=[0.4, -0.5, -1.0], diffuse=[0.3, 0.3, 0.3],
                 specular=[0.0, 0.0, 0.0], castshadow=False)


def add_camera_stand(spec: mujoco.MjSpec, T_base_camera: np.ndarray, floor_z_m: float) -> None:
    """A RealSense-sized box just behind the optical centre on a pole down to the floor (visual only).

    ``T_base_camera`` is the optical frame (z forward); the box sits behind the lens (-z optical),
    outside the camera's own view.
    """
    R, p = T_base_camera[:3, :3], T_base_camera[:3, 3]
    body = spec.worldbody.add_body(name="camera_stand")
    depth = 0.025  # D435 housing: 90 x 25 x 25 mm
    centre = p - R[:, 2] * (depth / 2 + 0.002)
    q_xyzw = _matrix_to_quat_wxyz(R)
    body.add_geom(name="camera_housing", type=_BOX, size=[0.045, 0.0125, depth / 2], pos=centre, quat=q_xyzw,
                  rgba=[0.15, 0.15, 0.17, 1.0], **_VISUAL)
    top = centre - np.array([0.0, 0.0, 0.02])
    length = top[2] - floor_z_m
    if length > 0:
        body.add_geom(name="camera_pole", type=_CYL, size=[0.012, length / 2, 0.0],
                      pos=[top[0], top[1], floor_z_m + length / 2], rgba=[0.2, 0.2, 0.22, 1.0], **_VISUAL)


def _matrix_to_quat_wxyz(R: np.ndarray) -> np.ndarray:
    q = np.empty(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(R, dtype=float).ravel())
    return q
