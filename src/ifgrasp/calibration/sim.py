"""The calibration in the MuJoCo world: a textured ChArUco board on the xArm7's flange, seen by the
scene's simulated RealSense, whose known pose (``config/scene.yaml``) is what calibration must find.

The board is a visual-only plate (no contacts) on ``link_eef``, its printed face along flange +z,
``BoardMount.centre_flange_m`` out in front of the LEAP Hand's palm. Joint angles are set directly
(kinematic, ``mj_forward``); FK of those angles and a rendered colour image are what a robot gives.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mujoco
import numpy as np
from PIL import Image

from ifgrasp.calibration.board import BoardConfig, board_image
from ifgrasp.calibration.config import BoardMount
from ifgrasp.errors import SimulationError
from ifgrasp.sim.camera import SimRGBDCamera
from ifgrasp.sim.scene import SimScene, build_spec
from ifgrasp.sim.scene_config import SceneConfig
from ifgrasp.types import CameraIntrinsics

FLANGE_BODY = "link_eef"
PLATE_THICKNESS_M = 0.004


def build_board_scene(scene_cfg: SceneConfig, board: BoardConfig, mount: BoardMount) -> SimScene:
    """The scene of ``scene_cfg`` (objects left out) with the board plate on the flange."""
    cfg = scene_cfg.replace(objects=())
    spec, parts = build_spec(cfg)
    flange = spec.body(FLANGE_BODY)
    if flange is None:
        raise SimulationError(f"the robot model has no body '{FLANGE_BODY}' to mount the board on")
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "charuco.png"
        img = board_image(board, px_per_square=64)
        # Printed on the plate's +z face; MuJoCo's mapping then puts board x along plate x and board
        # y along plate -y (checked: the solved T_flange_board equals BoardMount.T_flange_board).
        Image.fromarray(np.ascontiguousarray(img)).convert("RGB").save(png)
        spec.add_texture(name="charuco", type=mujoco.mjtTexture.mjTEXTURE_2D, file=str(png))
        mat = spec.add_material(name="charuco")
        mat.textures[int(mujoco.mjtTextureRole.mjTEXROLE_RGB)] = "charuco"
        mat.specular, mat.shininess, mat.reflectance = 0.0, 0.0, 0.0
        w, h = board.size_m
        T = mount.T_flange_plate()
        centre = T[:3, 3] - T[:3, 2] * PLATE_THICKNESS_M / 2  # the printed face at the mount's centre
        body = flange.add_body(name="calibration_board", pos=centre,
                               quat=_quat_wxyz(T[:3, :3]))
        body.add_geom(name="calibration_board", type=mujoco.mjtGeom.mjGEOM_BOX,
                      size=[w / 2, h / 2, PLATE_THICKNESS_M / 2], material="charuco",
                      contype=0, conaffinity=0, mass=0.05)
        model = spec.compile()
    return SimScene(cfg, model, **parts)


def _quat_wxyz(R: np.ndarray) -> np.ndarray:
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(R, dtype=np.float64).ravel())
    return q


class BoardCamera:
    """Sets the arm's joints and renders the scene camera: ``capture(q) -> (H, W, 3) uint8``."""

    def __init__(self, scene: SimScene, intrinsics: CameraIntrinsics | None = None,
                 T_base_camera: np.ndarray | None = None) -> None:
        self.scene = scene
        self.camera = SimRGBDCamera(scene, intrinsics=intrinsics, T_base_camera=T_base_camera)

    @property
    def T_base_camera(self) -> np.ndarray:
        return self.camera.T_base_camera

    @property
    def intrinsics(self) -> CameraIntrinsics:
        return self.camera.intrinsics

    def capture(self, q_arm_rad: np.ndarray) -> np.ndarray:
        s = self.scene
        s.data.qpos[s.arm_qpos_adr] = q_arm_rad
        s.data.qvel[:] = 0.0
        mujoco.mj_forward(s.model, s.data)
        return self.camera.render().color

    def close(self) -> None:
        self.camera.close()
