"""Hand-eye calibration: the known camera of the MuJoCo world is found from a rendered ChArUco
board on the flange (<= 3 mm, <= 0.3 deg), live-like from planned poses and offline from a bag;
the solver is exact on synthetic views; bad input (board not seen, too few poses, one rotation
axis) ends with a CalibrationError naming it; the result lands in the perception config and the
robot launch."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ifgrasp.arm import Xarm7Kinematics
from ifgrasp.calibration import (BoardObservation, CalibrationConfig, CalibrationError, board_image, detect_board,
                                 plan_poses, pose_error, solve_eye_to_hand)
from ifgrasp.geometry import invert_transform
from ifgrasp.calibration.runs import calibrate_bag, perturb, run_sim
from ifgrasp.sim.scene_config import SceneConfig
from ifgrasp.types import CameraIntrinsics

K = SceneConfig.default().camera.intrinsics
T_TRUE = SceneConfig.default().camera.T_base_camera
CFG = CalibrationConfig.default()


def small_cfg(n: int) -> CalibrationConfig:
    return CFG.replace(plan=CFG.plan.replace(n_poses=n, candidates=200))


def synthetic(T_base_flange: np.ndarray, T_base_camera=T_TRUE, cfg=CFG) -> list[BoardObservation]:
    """Noise-free observations of the nominal board: PnP pose and projected corners."""
    T_fb = cfg.mount.T_flange_board(cfg.board)
    pts = cfg.board.corners_board_m()
    out = []
    for T in T_base_flange:
        T_cb = invert_transform(T_base_camera) @ T @ T_fb
        p = pts @ T_cb[:3, :3].T + T_cb[:3, 3]
        uv = np.c_[K.fx * p[:, 0] / p[:, 2] + K.cx, K.fy * p[:, 1] / p[:, 2] + K.cy]
        out.append(BoardObservation(np.arange(len(pts)), uv, T_cb, 0.0))
    return out


@pytest.fixture(scope="module")
def plan():
    return plan_poses(perturb(T_TRUE, 20.0, 3.0), K, small_cfg(8), np.asarray(SceneConfig.default().robot.arm_joints_rad))


def test_planned_poses_are_reachable_clear_and_show_the_board(plan):
    kin = Xarm7Kinematics()
    from ifgrasp.planning.collision import ArmCollisionModel

    assert len(plan.q) == 8 and kin.within_limits(plan.q).all()
    T_fb = CFG.mount.T_flange_board(CFG.board)
    np.testing.assert_allclose(kin.fk(plan.q) @ T_fb, plan.T_base_board, atol=2e-3)  # IK reached the board pose
    coll = ArmCollisionModel(kin)
    assert not coll.check(plan.q, table_margin_m=0.05).table.any()
    from ifgrasp.planning import densify

    home = np.asarray(SceneConfig.default().robot.arm_joints_rad)
    tour = np.vstack([home, plan.q, home])  # every straight move of the visit, there and back, is clear
    assert not coll.check(densify(tour, 0.05), table_margin_m=CFG.plan.move_margin_m).table.any()
    w, h = CFG.board.size_m
    corners = plan.T_base_board @ np.array([[0, 0, 0, 1], [w, h, 0, 1.0]]).T  # (N, 4, 2)
    p = np.einsum("ij,njk->nik", invert_transform(T_TRUE), corners)[:, :3]
    u, v = K.fx * p[:, 0] / p[:, 2] + K.cx, K.fy * p[:, 1] / p[:, 2] + K.cy
    assert (p[:, 2] > 0.3).all() and (u > 0).all() and (u < K.width).all() and (v > 0).all() and (v < K.height).all()
    # the board faces the camera: its z (into the board) points away from the camera
    to_board = plan.T_base_board[:, :3, 3] - T_TRUE[:3, 3]
    assert (np.einsum("ni,ni->n", plan.T_base_board[:, :3, 2], to_board) > 0).all()


def test_solver_is_exact_on_synthetic_views(plan):
    T_bf = Xarm7Kinematics().fk(plan.q)
    res = solve_eye_to_hand(T_bf, synthetic(T_bf), K, CFG.board)
    mm, deg = pose_error(res.T_base_camera, T_TRUE)
    assert mm < 1e-3 and deg < 1e-4
    np.testing.assert_allclose(res.T_flange_board, CFG.mount.T_flange_board(CFG.board), atol=1e-6)
    assert res.rms_px_total < 1e-3


def test_sim_finds_the_known_camera_from_rendered_board():
    run = run_sim(small_cfg(6), guess_error=(20.0, 3.0), pixel_noise=2.0)
    assert len(run.result.used) == 6
    assert run.err_mm <= 3.0 and run.err_deg <= 0.3, (run.err_mm, run.err_deg)
    assert run.result.rms_px_total < 0.5
    # the board's printed centre, as solved, is where the scene mounted it on link_eef
    w, h = CFG.board.size_m
    centre = (run.result.T_flange_board @ np.array([w / 2, h / 2, 0.0, 1.0]))[:3]
    np.testing.assert_allclose(centre, CFG.mount.centre_flange_m, atol=1.5e-3)


def test_board_not_seen_is_named():
    q = np.tile(np.asarray(SceneConfig.default().robot.arm_joints_rad), (6, 1))  # palm (and board) facing the table
    q[:, 0] += np.linspace(-0.3, 0.3, 6)
    with pytest.raises(CalibrationError, match="board not seen"):
        run_sim(small_cfg(6), q_override=q)


def test_too_few_poses_is_named(plan):
    T_bf = Xarm7Kinematics().fk(plan.q[:3])
    with pytest.raises(CalibrationError, match="too few poses: 3 .* need at least 5"):
        solve_eye_to_hand(T_bf, synthetic(T_bf), K, CFG.board)
    obs = synthetic(Xarm7Kinematics().fk(plan.q))
    obs[1] = obs[4] = obs[6] = obs[7] = None
    with pytest.raises(CalibrationError, match=r"not seen in poses \[1, 4, 6, 7\]"):
        solve_eye_to_hand(Xarm7Kinematics().fk(plan.q), obs, K, CFG.board)


def test_rotation_about_one_axis_is_named(plan):
    T0 = Xarm7Kinematics().fk(plan.q[0])[0]
    T_bf = np.stack([T0] * 6)
    for i, a in enumerate(np.radians([-20, -10, 0, 10, 20, 30])):  # turns about the flange's own z, and moves
        T_bf[i, :3, :3] = T0[:3, :3] @ Rotation.from_rotvec([0, 0, a]).as_matrix()
        T_bf[i, :3, 3] += [0.02 * i, -0.01 * i, 0.005 * i]
    with pytest.raises(CalibrationError, match="one axis only"):
        solve_eye_to_hand(T_bf, synthetic(T_bf), K, CFG.board)


def test_printed_board_picture_is_detected_at_its_pose():
    img = board_image(CFG.board, px_per_square=40)  # exactly the chessboard, 40 px per square
    pad = np.pad(img, 60, constant_values=255)
    s = CFG.board.square_m / 40  # metres per pixel: a camera at 1 m with f = 1 / s px sees it 1:1
    k = CameraIntrinsics(pad.shape[1], pad.shape[0], 1 / s, 1 / s, 60 - 0.5, 60 - 0.5)
    obs = detect_board(pad, k, CFG.board)
    assert obs is not None and len(obs.ids) == CFG.board.n_corners
    np.testing.assert_allclose(obs.T_camera_board[:3, 3], [0, 0, 1.0], atol=2e-3)
    np.testing.assert_allclose(obs.T_camera_board[:3, :3], np.eye(3), atol=2e-3)


def test_bag_of_still_poses_gives_the_camera(tmp_path):
    """Offline: a bag of colour images + /joint_states (arm moving between still poses) recorded
    from the simulator, read back with rosbags, calibrates to the same accuracy."""
    from ifgrasp.calibration.sim import BoardCamera, build_board_scene
    from ifgrasp.io.bags import JointStateSeries, record_frames
    from ifgrasp.types import RGBDFrame

    cfg = small_cfg(6)
    q_plan = plan_poses(perturb(T_TRUE, 20.0, 3.0), K, cfg, np.asarray(SceneConfig.default().robot.arm_joints_rad)).q
    scene = build_board_scene(SceneConfig.default(), cfg.board, cfg.mount)
    cam = BoardCamera(scene)
    frames, t_js, q_js = [], [], []
    q_prev = scene.arm_joints()
    for i, q in enumerate(q_plan):
        t0 = 3.0 * i + 1.0  # move for 1 s, stand still for 1.5 s, image at the end
        for t in np.arange(t0, t0 + 1.0, 0.02):
            t_js.append(t)
            q_js.append(q_prev + (q - q_prev) * (t - t0))
        for t in np.arange(t0 + 1.0, t0 + 2.6, 0.02):
            t_js.append(t)
            q_js.append(q)
        frames.append(RGBDFrame(cam.capture(q), np.zeros((K.height, K.width), np.float32), K, T_TRUE, stamp_s=t0 + 2.5))
        frames.append(RGBDFrame(frames[-1].color, frames[-1].depth_m, K, T_TRUE, stamp_s=t0 + 0.5))  # moving: unused
        q_prev = q
    cam.close()
    frames.sort(key=lambda f: f.stamp_s)
    names = list(Xarm7Kinematics().joint_names)
    record_frames(tmp_path / "bag", frames, JointStateSeries(names, np.array(t_js), np.array(q_js)))
    res = calibrate_bag(tmp_path / "bag", cfg)
    assert len(res.used) == 6
    mm, deg = pose_error(res.T_base_camera, T_TRUE)
    assert mm <= 3.0 and deg <= 0.3


def test_written_calibration_lands_in_perception_config_and_launch(tmp_path):
    from ifgrasp.calibration.writeback import (PERCEPTION_YAML, ROBOT_LAUNCH, read_launch_args,
                                               read_perception_yaml, write_calibration)

    yml, launch = tmp_path / "perception.yaml", tmp_path / "robot.launch.xml"
    shutil.copy(PERCEPTION_YAML, yml)
    shutil.copy(ROBOT_LAUNCH, launch)
    T = perturb(T_TRUE, 15.0, 2.0, seed=3)
    write_calibration(T, yml, launch, note="test")
    np.testing.assert_allclose(read_perception_yaml(yml), T, atol=2e-6)
    np.testing.assert_allclose(read_launch_args(launch), T, atol=2e-6)
    text = yml.read_text()
    assert "From `ifgrasp calibrate`" in text and "service: /ifgrasp/perceive" in text  # the rest kept
    before = {k: v for k, v in __import__("yaml").safe_load(PERCEPTION_YAML.read_text())["perception"]["ros__parameters"].items()
              if k != "T_base_camera"}
    after = __import__("yaml").safe_load(text)["perception"]["ros__parameters"]
    assert {k: after[k] for k in before} == before


def test_cli_board_writes_a_printable_board_that_detects(tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from ifgrasp.cli import app

    out = tmp_path / "board.png"
    res = CliRunner().invoke(app, ["calibrate", "board", "--out", str(out), "--px-per-square", "40"])
    assert res.exit_code == 0, res.output
    assert "168 x 140 mm" in res.output
    img = np.pad(np.asarray(Image.open(out)), 60, constant_values=255)
    k = CameraIntrinsics(img.shape[1], img.shape[0], 1400.0, 1400.0, img.shape[1] / 2, img.shape[0] / 2)
    obs = detect_board(img, k, CFG.board)
    assert obs is not None and len(obs.ids) == CFG.board.n_corners


def test_cli_bag_without_a_bag_says_so(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "ifgrasp.cli", "calibrate", "bag", str(tmp_path / "nope"), "--no-write"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: no bag at")


def test_camera_info_distortion_maps_to_opencv_or_is_refused_by_name():
    from ifgrasp.calibration.board import opencv_distortion
    from ifgrasp.errors import ConfigError

    assert opencv_distortion("plumb_bob", [0.0] * 5) is None
    assert opencv_distortion("inverse_brown_conrady", [0.0] * 5) is None  # a RealSense colour stream's zeros
    np.testing.assert_array_equal(opencv_distortion("plumb_bob", [0.1, -0.2, 0.001, 0.002, 0.05]),
                                  [0.1, -0.2, 0.001, 0.002, 0.05])
    with pytest.raises(ConfigError, match="'equidistant'.*known: plumb_bob, rational_polynomial"):
        opencv_distortion("equidistant", [0.1, 0.0, 0.0, 0.0])


def test_distorted_corners_are_solved_with_the_distortion():
    """Corners projected through a plumb_bob lens: solved with its coefficients, the camera comes back
    exactly; ignoring them (the bug this guards) costs accuracy."""
    import cv2

    q = plan_poses(perturb(T_TRUE, 20.0, 3.0), K, small_cfg(8), np.asarray(SceneConfig.default().robot.arm_joints_rad)).q
    T_bf = Xarm7Kinematics().fk(q)
    d = np.array([0.12, -0.25, 0.001, -0.001, 0.1])
    obs = []
    for o in synthetic(T_bf):
        T = o.T_camera_board
        uv = cv2.projectPoints(CFG.board.corners_board_m(), cv2.Rodrigues(T[:3, :3])[0], T[:3, 3], K.K, d)[0]
        obs.append(BoardObservation(o.ids, uv.reshape(-1, 2), T, 0.0))
    with_d = solve_eye_to_hand(T_bf, obs, K, CFG.board, distortion=d)
    assert pose_error(with_d.T_base_camera, T_TRUE)[0] < 1e-3
    without = solve_eye_to_hand(T_bf, obs, K, CFG.board)
    assert without.rms_px_total > 100 * with_d.rms_px_total
