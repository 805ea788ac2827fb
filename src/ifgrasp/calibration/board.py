"""The ChArUco calibration board: its definition, a printable image, and its detection in a photo.

Board frame (OpenCV's): origin at one outer corner of the chessboard, x along the columns, y along
the rows, z = x cross y pointing *into* the board (away from a camera that sees its printed face);
metres. A detection gives the chessboard corners' pixels and, by PnP with the camera's intrinsics,
``T_camera_board`` (4, 4), camera = REP-103 optical frame (x right, y down, z forward).

    board = BoardConfig()                        # 6 x 5 squares of 28 mm, DICT_4X4_50
    obs = detect_board(rgb, intrinsics, board)   # None when fewer than min_corners corners are seen
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pydantic import Field, model_validator

from ifgrasp.config import Config
from ifgrasp.errors import ConfigError, known
from ifgrasp.types import CameraIntrinsics


def _cv2():
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ConfigError("OpenCV is missing: pip install 'opencv-python-headless>=4.7'") from exc
    if not hasattr(cv2, "aruco") or not hasattr(cv2.aruco, "CharucoDetector"):
        raise ConfigError(f"OpenCV {cv2.__version__} has no cv2.aruco.CharucoDetector: "
                          "pip install 'opencv-python-headless>=4.7'")
    return cv2


class BoardConfig(Config):
    """A ChArUco board (the printed one must match: count the squares, measure one with a ruler)."""

    squares_x: int = Field(6, ge=3, description="squares along the board's x (columns)")
    squares_y: int = Field(5, ge=3, description="squares along the board's y (rows)")
    square_m: float = Field(0.028, gt=0.0, description="side of one chessboard square, metres (as printed)")
    marker_m: float = Field(0.021, gt=0.0, description="side of one ArUco marker, metres (as printed)")
    dictionary: str = Field("DICT_4X4_50", description="ArUco dictionary name, cv2.aruco.<name>")
    min_corners: int = Field(8, ge=4, description="fewer detected chessboard corners = board not seen")

    @model_validator(mode="after")
    def _check(self) -> "BoardConfig":
        if self.marker_m >= self.square_m:
            raise ValueError(f"marker_m ({self.marker_m}) must be smaller than square_m ({self.square_m})")
        return self

    @property
    def size_m(self) -> tuple[float, float]:
        """(width along x, height along y) of the chessboard, metres."""
        return self.squares_x * self.square_m, self.squares_y * self.square_m

    @property
    def n_corners(self) -> int:
        return (self.squares_x - 1) * (self.squares_y - 1)

    def corners_board_m(self) -> np.ndarray:
        """(C, 3) inner chessboard corners in the board frame, by ChArUco corner id."""
        return np.asarray(make_board(self).getChessboardCorners(), dtype=np.float64).reshape(-1, 3)


@lru_cache(maxsize=8)
def make_board(cfg: BoardConfig):
    """The ``cv2.aruco.CharucoBoard`` of ``cfg``."""
    cv2 = _cv2()
    names = [n for n in dir(cv2.aruco) if n.startswith("DICT_")]
    if cfg.dictionary not in names:
        raise ConfigError(f"unknown ArUco dictionary '{cfg.dictionary}'; known: {known(names)}")
    d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, cfg.dictionary))
    n_markers = (cfg.squares_x * cfg.squares_y) // 2
    if n_markers > d.bytesList.shape[0]:
        raise ConfigError(f"{cfg.dictionary} has {d.bytesList.shape[0]} markers; a {cfg.squares_x} x "
                          f"{cfg.squares_y} board needs {n_markers}")
    return cv2.aruco.CharucoBoard((cfg.squares_x, cfg.squares_y), cfg.square_m, cfg.marker_m, d)


def board_image(cfg: BoardConfig, px_per_square: int = 100) -> np.ndarray:
    """(H, W) uint8 picture of the board, exactly the chessboard (no margin): print it at
    ``square_m`` per square. Row 0 is the board's y = 0 edge, column 0 its x = 0 edge."""
    w, h = cfg.squares_x * px_per_square, cfg.squares_y * px_per_square
    return make_board(cfg).generateImage((w, h), marginSize=0, borderBits=1)


def opencv_distortion(model: str, d) -> np.ndarray | None:
    """OpenCV's distortion coefficients from a CameraInfo's ``distortion_model`` and ``d``: ROS's
    plumb_bob (k1, k2, p1, p2, k3) and rational_polynomial (+ k4, k5, k6) are OpenCV's own order;
    all-zero coefficients of any model are no distortion (None); other models are refused."""
    d = np.asarray(d, dtype=np.float64).ravel()
    if d.size == 0 or not np.any(d):
        return None
    if model in ("plumb_bob", "rational_polynomial"):
        return d
    raise ConfigError(f"camera distortion model '{model}' with coefficients {np.round(d, 5).tolist()} is not "
                      "supported; known: plumb_bob, rational_polynomial (or publish rectified images)")


@dataclass(frozen=True)
class BoardObservation:
    """One detection: ``ids`` (C,) ChArUco corner ids, ``pixels`` (C, 2) their image positions,
    ``T_camera_board`` (4, 4) from PnP, ``rms_px`` the PnP reprojection RMS, pixels."""

    ids: np.ndarray
    pixels: np.ndarray
    T_camera_board: np.ndarray
    rms_px: float


def _to_T(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(np.asarray(rvec, np.float64).reshape(3, 1))[0]
    T[:3, 3] = np.asarray(tvec, np.float64).ravel()
    return T


def detect_board(image: np.ndarray, intrinsics: CameraIntrinsics, cfg: BoardConfig,
                 distortion: np.ndarray | None = None) -> BoardObservation | None:
    """Find the board in ``image`` ((H, W, 3) RGB or (H, W) grey uint8); None when fewer than
    ``cfg.min_corners`` chessboard corners are found or PnP fails. ``distortion``: OpenCV's
    coefficients (the CameraInfo ``d``), zeros when None."""
    cv2 = _cv2()
    img = np.asarray(image)
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
    board = make_board(cfg)
    K = intrinsics.K
    dist = np.zeros(5) if distortion is None else np.asarray(distortion, np.float64)
    params = cv2.aruco.CharucoParameters()
    params.cameraMatrix, params.distCoeffs = K, dist
    detector = cv2.aruco.CharucoDetector(board, params)
    corners, ids, _, _ = detector.detectBoard(grey)
    if ids is None or len(ids) < cfg.min_corners:
        return None
    ids = ids.ravel().astype(np.int64)
    obj = cfg.corners_board_m()[ids]  # (C, 3)
    px = corners.reshape(-1, 2).astype(np.float64)
    ok, rvec, tvec = cv2.solvePnP(obj, px, K, dist, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return None
    rvec, tvec = cv2.solvePnPRefineLM(obj, px, K, dist, rvec, tvec)
    proj = cv2.projectPoints(obj, rvec, tvec, K, dist)[0].reshape(-1, 2)
    rms = float(np.sqrt(np.mean(np.sum((proj - px) ** 2, axis=1))))
    return BoardObservation(ids=ids, pixels=px, T_camera_board=_to_T(rvec, tvec), rms_px=rms)
