"""The calibration end to end: in the MuJoCo world (``run_sim``), from a recorded bag
(``calibrate_bag``), and the shared detect-and-solve step (``solve_views``) the live ROS client uses.

A view is one arm pose: the measured arm joints (rad, ``Xarm7Kinematics.joint_names`` order) and
the colour image taken there with the arm still.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ifgrasp.arm import Xarm7Kinematics
from ifgrasp.calibration.board import detect_board, opencv_distortion
from ifgrasp.calibration.config import CalibrationConfig
from ifgrasp.calibration.handeye import CalibrationError, HandEyeResult, pose_error, solve_eye_to_hand
from ifgrasp.calibration.planning import plan_poses
from ifgrasp.errors import InputError
from ifgrasp.types import CameraIntrinsics


@dataclass
class Views:
    """``q_arm`` (N, 7) rad, ``images`` N (H, W, 3) uint8 RGB, the camera's ``intrinsics`` and
    ``distortion`` (OpenCV coefficients, zeros for the simulator)."""

    q_arm: np.ndarray
    images: list[np.ndarray]
    intrinsics: CameraIntrinsics
    distortion: np.ndarray | None = None


def solve_views(views: Views, cfg: CalibrationConfig, kin: Xarm7Kinematics | None = None) -> HandEyeResult:
    """Detect the board in every image, FK every pose, solve; ``CalibrationError`` names bad input."""
    kin = kin or Xarm7Kinematics()
    if len(views.images) == 0:
        raise CalibrationError("no images: the camera gave nothing to calibrate from")
    obs = [detect_board(img, views.intrinsics, cfg.board, views.distortion) for img in views.images]
    if all(o is None for o in obs):
        raise CalibrationError(
            f"board not seen in any of the {len(obs)} images (a {cfg.board.squares_x} x {cfg.board.squares_y} "
            f"ChArUco board, {cfg.board.dictionary}, needs {cfg.board.min_corners} corners): check that it is "
            "in view, lit and matches config/calibration.yaml")
    T_bf = kin.fk(np.asarray(views.q_arm, float).reshape(-1, kin.dof))
    return solve_eye_to_hand(T_bf, obs, views.intrinsics, cfg.board, cfg.min_poses, views.distortion)


@dataclass
class SimRun:
    """``result`` and the truth: ``T_true`` (the scene camera), ``err_mm`` / ``err_deg``."""

    result: HandEyeResult
    T_true: np.ndarray
    err_mm: float
    err_deg: float
    n_planned: int


def perturb(T: np.ndarray, mm: float, deg: float, seed: int = 0) -> np.ndarray:
    """``T`` moved by ``mm`` and turned by ``deg`` about random directions (a camera-pose guess)."""
    rng = np.random.default_rng(seed)
    d, a = rng.normal(size=3), rng.normal(size=3)
    out = T.copy()
    out[:3, 3] += mm / 1000.0 * d / np.linalg.norm(d)
    out[:3, :3] = Rotation.from_rotvec(np.radians(deg) * a / np.linalg.norm(a)).as_matrix() @ T[:3, :3]
    return out


def run_sim(cfg: CalibrationConfig, scene_cfg=None, guess_error=(20.0, 3.0), q_override: np.ndarray | None = None,
            pixel_noise: float = 0.0) -> SimRun:
    """Plan from a camera guess ``guess_error`` = (mm, deg) off the truth, render the board at each
    pose, solve, and compare with the scene camera's known pose. ``q_override`` (N, 7) replaces the
    plan (bad-input tests); ``pixel_noise`` adds Gaussian noise (grey levels) to the images."""
    from ifgrasp.calibration.sim import BoardCamera, build_board_scene
    from ifgrasp.sim.scene_config import SceneConfig

    scene_cfg = scene_cfg or SceneConfig.default()
    scene = build_board_scene(scene_cfg, cfg.board, cfg.mount)
    cam = BoardCamera(scene)
    try:
        T_true = cam.T_base_camera.copy()
        kin = Xarm7Kinematics()
        if q_override is None:
            q = plan_poses(perturb(T_true, *guess_error, seed=cfg.plan.seed), cam.intrinsics, cfg,
                           scene.arm_joints(), kin).q
        else:
            q = np.asarray(q_override, float)
        rng = np.random.default_rng(cfg.plan.seed)
        images, measured = [], []
        for qi in q:
            img = cam.capture(qi)
            if pixel_noise > 0:
                img = np.clip(img + rng.normal(0, pixel_noise, img.shape), 0, 255).astype(np.uint8)
            images.append(img)
            measured.append(scene.arm_joints())
        res = solve_views(Views(np.stack(measured), images, cam.intrinsics), cfg, kin)
    finally:
        cam.close()
    mm, deg = pose_error(res.T_base_camera, T_true)
    return SimRun(res, T_true, mm, deg, len(q))


def views_from_bag(path: str | Path, cfg: CalibrationConfig, joint_names: tuple[str, ...] | None = None) -> Views:
    """One view per still pose of a bag (colour images, CameraInfo, ``/joint_states``; the topics of
    ``ifgrasp.io.bags``): an image counts when its latest joint state (at most 2 s old) ends
    ``cfg.settle_s`` in which the arm joints moved less than 1 mrad; of consecutive such images at
    one pose the last is kept."""
    from ifgrasp.io.bags import (CAMERA_INFO, COLOR_INFO_TOPIC, COLOR_TOPIC, IMAGE, JOINT_STATE,
                                 JOINT_STATES_TOPIC, TYPESTORE, read_bag)

    names = list(joint_names or Xarm7Kinematics().joint_names)
    t_js, q_js, images, info = [], [], [], None
    types = {COLOR_TOPIC: IMAGE, COLOR_INFO_TOPIC: CAMERA_INFO, JOINT_STATES_TOPIC: JOINT_STATE}
    for topic, _, raw in read_bag(path, list(types)):
        msg = TYPESTORE.deserialize_cdr(raw, types[topic])
        t = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
        if topic == JOINT_STATES_TOPIC:
            idx = {n: i for i, n in enumerate(msg.name)}
            if all(n in idx for n in names):
                t_js.append(t)
                q_js.append([msg.position[idx[n]] for n in names])
        elif topic == COLOR_INFO_TOPIC:
            info = info or msg
        else:
            if msg.encoding not in ("rgb8", "bgr8"):
                raise InputError(f"{COLOR_TOPIC}: encoding {msg.encoding}; expected rgb8 or bgr8")
            img = np.asarray(msg.data, np.uint8).reshape(msg.height, msg.step)[:, : msg.width * 3]
            img = img.reshape(msg.height, msg.width, 3)
            images.append((t, img[..., ::-1].copy() if msg.encoding == "bgr8" else img.copy()))
    if info is None:
        raise InputError(f"bag '{path}' has no {COLOR_INFO_TOPIC}: the camera intrinsics are needed")
    if not t_js:
        raise InputError(f"bag '{path}' has no {JOINT_STATES_TOPIC} with the arm joints {names}")
    t_js, q_js = np.asarray(t_js), np.asarray(q_js)
    order = np.argsort(t_js, kind="stable")
    t_js, q_js = t_js[order], q_js[order]
    views_q, views_img = [], []
    for t, img in images:
        j = int(np.searchsorted(t_js, t + 0.05, side="right")) - 1  # the latest state by the image
        if j < 0 or t - t_js[j] > 2.0:
            continue  # no recent joint state: the pose is unknown
        # still for settle_s up to it: from the last state at or before the window's start (gaps in
        # the stream, a loaded recorder, do not matter) every state within 1 mrad
        i0 = int(np.searchsorted(t_js, t_js[j] - cfg.settle_s, side="right")) - 1
        if i0 < 0 or np.ptp(q_js[i0: j + 1], axis=0).max() > 1e-3:
            continue
        q = q_js[j]
        if views_q and np.abs(views_q[-1] - q).max() < 1e-3:
            views_img[-1] = img  # same pose: keep the last image
            continue
        views_q.append(q)
        views_img.append(img)
    k = CameraIntrinsics(int(info.width), int(info.height), float(info.k[0]), float(info.k[4]),
                         float(info.k[2]), float(info.k[5]))
    d = opencv_distortion(info.distortion_model, info.d)
    if not views_q:
        raise CalibrationError(f"bag '{path}': no image was taken with the arm still for {cfg.settle_s} s; "
                               "record with the arm stopped at each pose")
    return Views(np.stack(views_q), views_img, k, d)


def calibrate_bag(path: str | Path, cfg: CalibrationConfig) -> HandEyeResult:
    """Calibrate from a bag recorded while the arm visited still poses with the board in view."""
    return solve_views(views_from_bag(path, cfg), cfg)
