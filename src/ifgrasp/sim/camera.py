"""Simulated RGB-D camera: colour, metric depth and per-pixel object and part labels from MuJoCo.

The camera is a named MuJoCo camera of the scene (``"realsense"`` by default) whose pose and
intrinsics this class writes into the model, so what it renders matches a pinhole camera exactly:

* Pose: ``T_base_camera`` is the REP-103 optical frame (x right, y down, z forward). MuJoCo cameras
  look along -z with y up, so the model camera gets ``R_base_optical @ diag(1, -1, -1)``
  (``ifgrasp.sim.frames``).
* Intrinsics: MuJoCo's camera intrinsic model with a sensor of ``width x height`` length units
  (one unit per pixel): focal lengths ``(fx, fy)`` and a principal offset
  ``(W/2 - cx - 1/2, H/2 - cy - 1/2)``. The half pixel converts OpenCV's convention (pixel centres
  at integer coordinates) to OpenGL's (pixel edges at integers); the sign was measured by rendering
  points of known position (tests/sim/test_camera.py checks it with an off-centre principal point).
  With ``cx = (W - 1) / 2``, ``cy = (H - 1) / 2`` and ``fx = fy`` this is the plain
  ``fovy = 2 atan(H / (2 fy))`` camera.
* Depth is along the optical axis (z of the optical frame), metres, float32, 0 where no surface
  was hit or beyond ``max_depth_m``.
* ``object_ids`` / ``part_ids`` come from MuJoCo's segmentation rendering (geom id per pixel)
  through the scene's geom -> (object, part) tables; -1 on background, table, floor and robot.
"""

from __future__ import annotations

import mujoco
import numpy as np

from ifgrasp.errors import InputError, SimulationError, known
from ifgrasp.sim.frames import mujoco_camera_quat_wxyz
from ifgrasp.sim.scene import REALSENSE_CAMERA, SimScene
from ifgrasp.types import CameraIntrinsics, RGBDFrame


#: MuJoCo object type of geoms, as a plain int (comparing arrays to the pybind enum is elementwise Python).
_GEOM = int(mujoco.mjtObj.mjOBJ_GEOM)


class SimRGBDCamera:
    """Renders ``RGBDFrame`` s of a ``SimScene`` through one reused ``mujoco.Renderer``.

    ``intrinsics`` / ``T_base_camera`` default to the scene config's camera. Constructing one
    rewrites the model camera ``camera_name``; two instances on the same camera name share it.
    """

    def __init__(self, scene: SimScene, intrinsics: CameraIntrinsics | None = None,
                 T_base_camera: np.ndarray | None = None, camera_name: str = REALSENSE_CAMERA,
                 max_depth_m: float | None = None) -> None:
        self.scene = scene
        self.intrinsics = intrinsics or scene.cfg.camera.intrinsics
        self.max_depth_m = scene.cfg.camera.max_depth_m if max_depth_m is None else max_depth_m
        model = scene.model
        names = [model.camera(i).name for i in range(model.ncam)]
        if camera_name not in names:
            raise SimulationError(f"the scene has no camera '{camera_name}'; known: {known(names)}")
        self.camera_id = model.camera(camera_name).id
        k = self.intrinsics
        if k.width > model.vis.global_.offwidth or k.height > model.vis.global_.offheight:
            raise InputError(
                f"image {k.width}x{k.height} exceeds the scene's offscreen buffer "
                f"{model.vis.global_.offwidth}x{model.vis.global_.offheight}"
            )
        self._set_intrinsics(k)
        self.set_pose(scene.cfg.camera.T_base_camera if T_base_camera is None else T_base_camera)
        self._renderer = mujoco.Renderer(model, height=k.height, width=k.width)

    def _set_intrinsics(self, k: CameraIntrinsics) -> None:
        m, c = self.scene.model, self.camera_id
        m.cam_resolution[c] = (k.width, k.height)
        m.cam_sensorsize[c] = (k.width, k.height)  # one length unit per pixel
        m.cam_intrinsic[c] = (k.fx, k.fy, k.width / 2 - k.cx - 0.5, k.height / 2 - k.cy - 0.5)
        m.cam_fovy[c] = np.degrees(2 * np.arctan(k.height / (2 * k.fy)))

    def set_pose(self, T_base_camera: np.ndarray) -> None:
        """Move the camera: ``T_base_camera`` (4, 4) maps optical-frame points into the base frame."""
        T = np.asarray(T_base_camera, dtype=float)
        R = T[:3, :3] if T.shape == (4, 4) else None
        if R is None or not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
            raise InputError("T_base_camera must be a (4, 4) rigid transform with a proper rotation")
        m, c = self.scene.model, self.camera_id
        if m.cam_bodyid[c] != 0:
            raise SimulationError("only cameras fixed to the world body can be posed in the base frame")
        m.cam_pos[c] = T[:3, 3]
        m.cam_quat[c] = mujoco_camera_quat_wxyz(R)
        self.T_base_camera = T.copy()
        mujoco.mj_kinematics(m, self.scene.data)
        mujoco.mj_camlight(m, self.scene.data)

    def render(self) -> RGBDFrame:
        """One aligned colour + depth + label frame of the scene's current state."""
        r, scene = self._renderer, self.scene
        r.update_scene(scene.data, camera=self.camera_id)
        color = r.render()  # (H, W, 3) uint8
        r.enable_depth_rendering()
        depth = r.render()  # (H, W) float32, metres along the optical axis
        r.disable_depth_rendering()
        r.enable_segmentation_rendering()
        seg = r.render()  # (H, W, 2) int32: (object id, object type)
        r.disable_segmentation_rendering()

        is_geom = (seg[..., 1] == _GEOM) & (seg[..., 0] >= 0) & (seg[..., 0] < scene.model.ngeom)  # (H, W)
        geom = np.where(is_geom, seg[..., 0], 0)
        object_ids = np.where(is_geom, scene.geom_object[geom], -1).astype(np.int32)
        part_ids = np.where(is_geom, scene.geom_part[geom], -1).astype(np.int32)
        valid = is_geom & (depth > 0) & (depth <= self.max_depth_m)
        depth_m = np.where(valid, depth, 0.0).astype(np.float32)
        return RGBDFrame(color=color, depth_m=depth_m, intrinsics=self.intrinsics,
                         T_base_camera=self.T_base_camera.copy(), stamp_s=float(scene.data.time),
                         object_ids=object_ids, part_ids=part_ids)

    def close(self) -> None:
        self._renderer.close()

    def __enter__(self) -> "SimRGBDCamera":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def render_view(scene: SimScene, camera_name: str, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8 colour image from a scene camera as the model defines it (e.g. ``"overview"``)."""
    with mujoco.Renderer(scene.model, height=height, width=width) as r:
        r.update_scene(scene.data, camera=camera_name)
        return r.render()
