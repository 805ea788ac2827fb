"""Hand-eye calibration of the fixed camera (eye-to-hand) with a ChArUco board on the flange.

``plan_poses`` (where to move the arm), ``detect_board`` (OpenCV's aruco), ``solve_eye_to_hand``
(closed form + reprojection refinement), ``write_calibration`` (into the perception config and the
robot launch); ``run_sim`` / ``calibrate_bag`` run it in MuJoCo and from a recorded bag.
"""

from ifgrasp.calibration.board import BoardConfig, BoardObservation, board_image, detect_board
from ifgrasp.calibration.config import BoardMount, CalibrationConfig, PlanConfig
from ifgrasp.calibration.handeye import CalibrationError, HandEyeResult, check_motion, pose_error, solve_eye_to_hand
from ifgrasp.calibration.planning import PosePlan, plan_poses

__all__ = ["BoardConfig", "BoardMount", "BoardObservation", "CalibrationConfig", "CalibrationError",
           "HandEyeResult", "PlanConfig", "PosePlan", "board_image", "check_motion", "detect_board",
           "plan_poses", "pose_error", "solve_eye_to_hand"]
