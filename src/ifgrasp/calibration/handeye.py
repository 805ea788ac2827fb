"""Eye-to-hand calibration: a camera fixed in the base frame, a board fixed on the flange.

For each pose i the arm's forward kinematics gives ``T_base_flange_i`` and the camera's view of the
board gives ``T_camera_board_i``; both unknowns are rigid and constant:

    T_camera_board_i = inv(T_base_camera) @ T_base_flange_i @ T_flange_board

OpenCV's robot-world/hand-eye solver (Shah's closed form, ``cv2.calibrateRobotWorldHandEye``)
gives a first estimate; a Levenberg-Marquardt refinement over both transforms (12 parameters)
then minimises the reprojection error of every detected chessboard corner, the error the camera
actually makes. Residuals are reported per pose in pixels and as the disagreement between the
observed and predicted board pose (mm, degrees). Metres, radians inside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from ifgrasp.calibration.board import BoardConfig, BoardObservation, _cv2
from ifgrasp.errors import InputError
from ifgrasp.geometry import invert_transform
from ifgrasp.types import CameraIntrinsics

#: Fewest usable poses: 3 is the algebraic minimum, 5 leaves a check on the answer.
MIN_POSES = 5
#: Relative flange rotations smaller than this carry no axis information, degrees.
MIN_MOTION_DEG = 5.0
#: Second singular value of the stacked rotation axes below this = one rotation axis only.
MIN_AXIS_SPREAD = 0.15


class CalibrationError(InputError):
    """The calibration input cannot determine the camera pose (too few poses, one rotation axis,
    the board not seen)."""


@dataclass(frozen=True)
class HandEyeResult:
    """``T_base_camera`` / ``T_flange_board`` (4, 4); per pose (N,): ``rms_px`` corner
    reprojection RMS, ``pose_err_mm`` / ``pose_err_deg`` the board pose seen (PnP) against the one
    predicted from the arm; ``rms_px_total`` over all corners; ``used`` (N,) indices into the input."""

    T_base_camera: np.ndarray
    T_flange_board: np.ndarray
    rms_px: np.ndarray
    pose_err_mm: np.ndarray
    pose_err_deg: np.ndarray
    rms_px_total: float
    used: np.ndarray

    def summary(self) -> str:
        lines = [f"{'pose':>4} {'reproj px':>9} {'board mm':>9} {'board deg':>9}"]
        for i, (a, b, c) in enumerate(zip(self.rms_px, self.pose_err_mm, self.pose_err_deg)):
            lines.append(f"{int(self.used[i]):>4} {a:9.3f} {b:9.2f} {c:9.3f}")
        lines.append(f" all {self.rms_px_total:9.3f} {np.median(self.pose_err_mm):9.2f} "
                     f"{np.median(self.pose_err_deg):9.3f}  (median for mm / deg)")
        return "\n".join(lines)


def check_motion(T_base_flange: np.ndarray) -> None:
    """Raise ``CalibrationError`` unless the flange rotations span at least two axes.

    Relative rotations ``R_0^T R_i`` and between consecutive poses are taken; their axes (those of
    motions over ``MIN_MOTION_DEG``) must not all be parallel, or the camera's position along that
    axis is undetermined."""
    R = T_base_flange[:, :3, :3]
    n = len(R)
    pairs = [(0, i) for i in range(1, n)] + [(i, i + 1) for i in range(1, n - 1)]
    rel = Rotation.from_matrix(np.stack([R[a].T @ R[b] for a, b in pairs])).as_rotvec()  # (P, 3) flange frame
    ang = np.linalg.norm(rel, axis=1)
    big = ang > np.radians(MIN_MOTION_DEG)
    if big.sum() == 0:
        raise CalibrationError(
            f"the {n} poses barely rotate the flange (largest relative rotation {np.degrees(ang.max()):.1f} deg, "
            f"need > {MIN_MOTION_DEG} deg): tilt the board about two different axes between poses")
    axes = rel[big] / ang[big, None]
    axes *= np.sign(axes @ axes[0])[:, None]  # an axis and its opposite are the same axis
    s = np.linalg.svd(axes, compute_uv=False)
    if len(s) < 2 or s[1] / np.sqrt(len(axes)) < MIN_AXIS_SPREAD:
        a = np.round(axes.mean(0) / np.linalg.norm(axes.mean(0)), 3).tolist()
        raise CalibrationError(
            f"the poses rotate the flange about one axis only (axis {a} in the flange frame): the camera "
            "position along it is undetermined; add poses tilted about a second axis")


def _pack(T: np.ndarray) -> np.ndarray:
    return np.r_[Rotation.from_matrix(T[:3, :3]).as_rotvec(), T[:3, 3]]


def _unpack(x: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(x[:3]).as_matrix()
    T[:3, 3] = x[3:6]
    return T


def _initial(T_base_flange: np.ndarray, T_camera_board: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shah's closed form. OpenCV solves ``cTw_i = cTg @ gTb_i @ bTw``: with the camera fixed to our
    base and the board on our flange, its "gripper" is our base, its "base" our flange and its
    "world" our board; so ``gTb_i = T_base_flange_i``, ``cTg = inv(T_base_camera)``,
    ``bTw = T_flange_board``."""
    cv2 = _cv2()
    R_cw, t_cw = list(T_camera_board[:, :3, :3]), list(T_camera_board[:, :3, 3:])
    R_gb, t_gb = list(T_base_flange[:, :3, :3]), list(T_base_flange[:, :3, 3:])
    R_bw, t_bw, R_cg, t_cg = cv2.calibrateRobotWorldHandEye(R_cw, t_cw, R_gb, t_gb,
                                                            method=cv2.CALIB_ROBOT_WORLD_HAND_EYE_SHAH)
    T_cb = np.eye(4)
    T_cb[:3, :3], T_cb[:3, 3] = R_cg, np.ravel(t_cg)
    T_fb = np.eye(4)
    T_fb[:3, :3], T_fb[:3, 3] = R_bw, np.ravel(t_bw)
    return invert_transform(T_cb), T_fb


def solve_eye_to_hand(T_base_flange: np.ndarray, observations: list[BoardObservation | None],
                      intrinsics: CameraIntrinsics, board: BoardConfig, min_poses: int = MIN_POSES,
                      distortion: np.ndarray | None = None) -> HandEyeResult:
    """``T_base_camera`` from N poses: ``T_base_flange`` (N, 4, 4) (FK of the measured joints) and
    the board detections (None where the board was not seen; those poses are dropped)."""
    T_bf = np.asarray(T_base_flange, np.float64).reshape(-1, 4, 4)
    if len(T_bf) != len(observations):
        raise InputError(f"{len(T_bf)} arm poses but {len(observations)} images; they must pair up")
    used = np.array([i for i, o in enumerate(observations) if o is not None], dtype=np.int64)
    missing = [i for i, o in enumerate(observations) if o is None]
    if len(used) < min_poses:
        seen = f"the board was not seen in poses {missing}; " if missing else ""
        raise CalibrationError(
            f"too few poses: {len(used)} with the board in view, need at least {min_poses}; {seen}"
            "check that the board is lit, in focus and inside the image, and record more poses")
    T_bf = T_bf[used]
    obs = [observations[i] for i in used]
    check_motion(T_bf)
    T_cb_obs = np.stack([o.T_camera_board for o in obs])
    T_bc0, T_fb0 = _initial(T_bf, T_cb_obs)

    cv2 = _cv2()
    K = intrinsics.K
    dist = np.zeros(5) if distortion is None else np.asarray(distortion, np.float64)
    corners = board.corners_board_m()
    pts = [np.ascontiguousarray(corners[o.ids]) for o in obs]  # (C_i, 3) board frame

    def project(T_bc: np.ndarray, T_fb: np.ndarray) -> list[np.ndarray]:
        T_cb = invert_transform(T_bc)[None] @ T_bf @ T_fb[None]  # (N, 4, 4) predicted T_camera_board
        out = []
        for T, p in zip(T_cb, pts):
            rvec = cv2.Rodrigues(T[:3, :3])[0]
            out.append(cv2.projectPoints(p, rvec, np.ascontiguousarray(T[:3, 3]), K, dist)[0].reshape(-1, 2))
        return out

    def residuals(x: np.ndarray) -> np.ndarray:
        proj = project(_unpack(x[:6]), _unpack(x[6:]))
        return np.concatenate([(pr - o.pixels).ravel() for pr, o in zip(proj, obs)])

    fit = least_squares(residuals, np.r_[_pack(T_bc0), _pack(T_fb0)], method="lm", x_scale="jac")
    T_bc, T_fb = _unpack(fit.x[:6]), _unpack(fit.x[6:])
    proj = project(T_bc, T_fb)
    rms = np.array([np.sqrt(np.mean(np.sum((pr - o.pixels) ** 2, axis=1))) for pr, o in zip(proj, obs)])
    all_sq = np.concatenate([np.sum((pr - o.pixels) ** 2, axis=1) for pr, o in zip(proj, obs)])
    T_pred = invert_transform(T_bc)[None] @ T_bf @ T_fb[None]
    err_mm = 1000.0 * np.linalg.norm(T_pred[:, :3, 3] - T_cb_obs[:, :3, 3], axis=1)
    err_deg = np.degrees(Rotation.from_matrix(
        np.swapaxes(T_pred[:, :3, :3], -1, -2) @ T_cb_obs[:, :3, :3]).magnitude())
    return HandEyeResult(T_bc, T_fb, rms, err_mm, err_deg, float(np.sqrt(all_sq.mean())), used)


def pose_error(T_est: np.ndarray, T_true: np.ndarray) -> tuple[float, float]:
    """(translation error mm, rotation error deg) between two (4, 4) transforms."""
    dt = 1000.0 * float(np.linalg.norm(T_est[:3, 3] - T_true[:3, 3]))
    dr = float(np.degrees(Rotation.from_matrix(T_est[:3, :3].T @ T_true[:3, :3]).magnitude()))
    return dt, dr
