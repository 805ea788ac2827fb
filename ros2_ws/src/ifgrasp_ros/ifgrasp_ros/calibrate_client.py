"""The live side of ``ifgrasp calibrate ros``: a short-lived rclpy client (not a launch node) that
moves the arm through the planned calibration poses over the arm driver's ``/ifgrasp/arm``
interface, waits for it to stand still, and takes the colour image (RealSense topics) and the
measured ``/joint_states`` at each pose. The planning and the solve are the core's
(``ifgrasp.calibration``); this module only moves, waits and listens.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, JointState

from ifgrasp.arm import Xarm7Kinematics
from ifgrasp.calibration import CalibrationConfig, HandEyeResult, plan_poses
from ifgrasp.calibration.board import opencv_distortion
from ifgrasp.calibration.runs import Views, solve_views
from ifgrasp.errors import DriverError
from ifgrasp.planning import time_parametrize
from ifgrasp.planning.collision import ArmCollisionModel

from ifgrasp_ros.ros_clients import ArmClient, CameraCache, JointStateCache

TOPICS = {"color": "/camera/camera/color/image_raw", "info": "/camera/camera/color/camera_info",
          "depth": "/camera/camera/aligned_depth_to_color/image_raw"}


def joint_path(q0: np.ndarray, q1: np.ndarray, speed_rad_s: float, accel_rad_s2: float = 1.0,
               dt_s: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Straight rest-to-rest joint move (``ifgrasp.planning.time_parametrize``'s trapezoid) with every
    joint under ``speed_rad_s`` and ``accel_rad_s2``, a point every ``dt_s``: ``times`` (n,) s, ``q`` (n, 7)."""
    n = len(q0)
    traj = time_parametrize(np.stack([q0, q1]), np.full(n, speed_rad_s), np.full(n, accel_rad_s2), dt_s)
    return traj.times_s, traj.q


def _wait_still(joints: JointStateCache, settle_s: float, timeout_s: float, tol_rad: float = 1e-3) -> None:
    """Return once the measured arm joints moved less than ``tol_rad`` over the last ``settle_s``."""
    t0 = time.monotonic()
    hist: list[tuple[float, np.ndarray]] = []
    while True:
        now = time.monotonic()
        hist.append((now, joints.get(2.0)))
        hist = [h for h in hist if h[0] >= now - settle_s]
        q = np.stack([h[1] for h in hist])
        if now - t0 >= settle_s and np.ptp(q, axis=0).max() < tol_rad:
            return
        if now - t0 > timeout_s:
            raise DriverError(f"the arm did not come to rest (moved {np.ptp(q, axis=0).max():.4f} rad within "
                              f"{settle_s} s) for {timeout_s:.0f} s; check the arm driver")
        time.sleep(0.05)


class _Recorder:
    """Every arm ``/joint_states`` (header stamp, positions) while the client runs, for ``record``."""

    def __init__(self, node: Node, names: list[str]) -> None:
        self.names, self.t, self.q = names, [], []
        node.create_subscription(JointState, "/joint_states", self._on, 50)

    def _on(self, msg: JointState) -> None:
        idx = {n: i for i, n in enumerate(msg.name)}
        if all(n in idx for n in self.names):
            self.t.append(msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec)
            self.q.append([msg.position[idx[n]] for n in self.names])


def run_live(cfg: CalibrationConfig, T_guess: np.ndarray, speed_rad_s: float = 0.3, record: Path | None = None,
             log=print, frame_timeout_s: float = 5.0) -> HandEyeResult:
    """Plan from the camera guess ``T_guess``, visit each pose, solve. The arm ends where it started."""
    kin = Xarm7Kinematics()
    names = list(kin.joint_names)
    collision = ArmCollisionModel(kin)
    own_init = not rclpy.ok()
    if own_init:
        rclpy.init()
    node = Node("ifgrasp_calibrate")
    camera = CameraCache(node, TOPICS, T_guess, labels=False)
    joints = JointStateCache(node, names)
    arm = ArmClient(node, "/ifgrasp/arm", names)
    rec = _Recorder(node, names) if record else None
    info: list[CameraInfo] = []  # the latest CameraInfo: its distortion (CameraCache keeps only K)

    def keep_info(msg: CameraInfo) -> None:
        info[:] = [msg]

    node.create_subscription(CameraInfo, TOPICS["info"], keep_info, 5)
    ex = MultiThreadedExecutor(num_threads=3)
    ex.add_node(node)
    spin = threading.Thread(target=ex.spin, daemon=True)
    spin.start()
    frames, q_meas = [], []
    try:
        first = camera.get_frame(frame_timeout_s)
        q_home = joints.get(frame_timeout_s)
        plan = plan_poses(T_guess, first.intrinsics, cfg, q_home, kin, collision)
        log(f"planned {len(plan.q)} poses ({plan.n_feasible} feasible candidates)")
        for i, q in enumerate([*plan.q, q_home]):
            q_cur = joints.get(frame_timeout_s)  # each move starts where the arm is
            times, path = joint_path(q_cur, q, speed_rad_s)
            if collision.check(path, table_margin_m=0.5 * cfg.plan.move_margin_m).table.any():
                raise DriverError(f"the move to pose {i} would pass near the table (the arm is not where the plan "
                                  "started); nothing was sent")
            if not arm.run(times, path, timeout_s=float(times[-1]) + 5.0):
                raise DriverError(f"the arm did not reach pose {i} (stopped or timed out); calibration aborted")
            if i == len(plan.q):
                break  # back home
            _wait_still(joints, cfg.settle_s, timeout_s=cfg.settle_s + 10.0)
            now = node.get_clock().now().to_msg()
            frame = camera.get_frame(frame_timeout_s, after=(now.sec, now.nanosec))
            frames.append(frame)
            q_meas.append(joints.get(frame_timeout_s))
            log(f"pose {i + 1}/{len(plan.q)}: image at {frame.stamp_s:.2f} s")
    finally:
        ex.shutdown()
        node.destroy_node()
        if own_init:
            rclpy.try_shutdown()
    if record and frames:
        from ifgrasp.io.bags import JointStateSeries, record_frames

        record_frames(record, frames, JointStateSeries(names, np.asarray(rec.t), np.asarray(rec.q).reshape(-1, 7)),
                      overwrite=True)
        log(f"recorded the views to {record}")
    k = frames[0].intrinsics if frames else None
    dist = opencv_distortion(info[-1].distortion_model, info[-1].d) if info else None
    return solve_views(Views(np.asarray(q_meas).reshape(-1, 7), [f.color for f in frames], k, dist), cfg, kin)
