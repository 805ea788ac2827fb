"""Typed configuration of the hand-eye calibration (``config/calibration.yaml``)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ifgrasp.calibration.board import BoardConfig
from ifgrasp.config import Config
from ifgrasp.paths import CONFIG_DIR

DEFAULT_CALIBRATION_YAML = CONFIG_DIR / "calibration.yaml"

#: Board frame in the plate (mount) frame: pi about x, so the board's z points into the plate (away
#: from a camera that sees the printed face, which faces plate +z = flange +z).
R_PLATE_BOARD = np.diag([1.0, -1.0, -1.0])


class BoardMount(Config):
    """Where the board sits on the flange (``link_eef``), nominally: only used to plan poses that
    show it to the camera; the calibration solves the true ``T_flange_board`` itself.

    The plate's printed face looks along flange +z (out of the palm), board x along flange x."""

    centre_flange_m: tuple[float, float, float] = Field(
        (0.04, 0.0, 0.095), description="centre of the printed face in the flange frame, metres")

    def T_flange_plate(self) -> np.ndarray:
        """(4, 4) plate centre frame (z out of the printed face) in the flange frame."""
        T = np.eye(4)
        T[:3, 3] = self.centre_flange_m
        return T

    def T_flange_board(self, board: BoardConfig) -> np.ndarray:
        """(4, 4) nominal board frame (OpenCV's: origin at a chessboard corner) in the flange frame."""
        w, h = board.size_m
        T = self.T_flange_plate()
        T[:3, :3] = R_PLATE_BOARD
        T[:3, 3] = np.asarray(self.centre_flange_m) - R_PLATE_BOARD @ np.array([w / 2, h / 2, 0.0])
        return T


class PlanConfig(Config):
    """How calibration poses are chosen (``ifgrasp.calibration.planning``)."""

    n_poses: int = Field(12, ge=3, description="poses to plan")
    candidates: int = Field(400, ge=10, description="random board poses tried before choosing")
    distance_m: tuple[float, float] = Field((0.45, 0.85), description="camera-to-board distance range")
    tilt_deg: tuple[float, float] = Field((15.0, 40.0), description="board tilt away from facing the camera")
    roll_deg: float = Field(35.0, ge=0, description="largest in-plane turn of the board")
    image_margin: float = Field(0.08, ge=0, lt=0.5, description="board corners keep this fraction of the image size off its edges")
    table_margin_m: float = Field(0.06, ge=0, description="arm and board clearance above the table")
    move_margin_m: float = Field(0.03, ge=0, description="straight joint moves between poses keep this above the table")
    line_of_sight_m: float = Field(0.01, ge=0, description="arm spheres keep this off the camera-to-board rays")
    seed: int = Field(0, description="random seed")


class CalibrationConfig(Config):
    """The board, where it is mounted, and the pose plan."""

    board: BoardConfig = Field(default_factory=BoardConfig, description="the printed ChArUco board")
    mount: BoardMount = Field(default_factory=BoardMount, description="nominal board mount on the flange")
    plan: PlanConfig = Field(default_factory=PlanConfig, description="pose planning")
    min_poses: int = Field(5, ge=3, description="fewest poses with the board seen to solve")
    settle_s: float = Field(1.0, ge=0, description="live/bag: the arm must be still this long before an image is used")

    @classmethod
    def default(cls) -> "CalibrationConfig":
        return cls.from_yaml(DEFAULT_CALIBRATION_YAML) if DEFAULT_CALIBRATION_YAML.is_file() else cls()
