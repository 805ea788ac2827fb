"""Record the simulator's camera streams and joint states into a rosbag2 (MCAP) bag.

The bag has the RealSense driver's topics (``ifgrasp.io.bags``) and ``/joint_states`` (arm joints
``joint1..joint7``, then the LEAP Hand in motor-ID order), stamped in simulated time plus
``t0_s``. Physics is deterministic, so the scene is simulated twice: once to sample the joint
states (cheap), once to render frames one at a time while the bag is written (no frame buffer).

    record_sim("out/bags/sim", duration_s=2.0, fps=15.0)      # what `ifgrasp record-sim` wraps
"""

from __future__ import annotations

import time

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ifgrasp.errors import InputError
from ifgrasp.io.bags import BagSummary, JointStateSeries, record_frames
from ifgrasp.types import CameraIntrinsics, RGBDFrame


def _tick_steps(duration_s: float, rate_hz: float, dt_s: float) -> np.ndarray:
    """(N,) physics step indices at which a ``rate_hz`` stream samples, over ``duration_s``."""
    t = np.arange(0.0, duration_s + 1e-9, 1.0 / rate_hz)  # (N,) seconds
    return np.rint(t / dt_s).astype(np.int64)


def record_sim(
    path: str | Path,
    duration_s: float = 2.0,
    fps: float = 15.0,
    joint_rate_hz: float = 50.0,
    scene_cfg=None,
    intrinsics: CameraIntrinsics | None = None,
    t0_s: float | None = None,
    overwrite: bool = False,
) -> BagSummary:
    """Simulate ``duration_s`` seconds of the scene (``scene_cfg``: a SceneConfig, default
    ``config/scene.yaml``) and write colour + aligned depth at ``fps`` and joint states at
    ``joint_rate_hz`` to the bag at ``path``. ``intrinsics`` overrides the scene camera's. Stamps
    are ``t0_s`` (UNIX seconds; default: now, like a real driver's) plus simulated time."""
    if t0_s is None:
        t0_s = time.time()
    if duration_s <= 0 or fps <= 0 or joint_rate_hz <= 0:
        raise InputError(f"duration_s, fps and joint_rate_hz must be > 0, got {duration_s}, {fps}, {joint_rate_hz}")
    from ifgrasp.sim.camera import SimRGBDCamera
    from ifgrasp.sim.scene import build_scene

    scene = build_scene(scene_cfg)
    if not scene.has_robot:
        raise InputError("record_sim needs a scene with the robot (robot.enabled: true) for /joint_states")
    dt = scene.cfg.timestep_s
    joint_steps = _tick_steps(duration_s, joint_rate_hz, dt)
    frame_steps = _tick_steps(duration_s, fps, dt)

    q = np.zeros((len(joint_steps), 23))  # (T, 23) arm then hand, radians
    dq = np.zeros_like(q)  # (T, 23) rad/s
    step = 0
    for i, target in enumerate(joint_steps):
        if target > step:
            scene.step(int(target - step))
            step = int(target)
        q[i] = np.concatenate([scene.arm_joints(), scene.hand_joints()])
        dq[i] = np.concatenate([scene.data.qvel[scene.arm_dof_adr], scene.data.qvel[scene.hand_dof_adr]])
    names = list(scene.arm_joint_names) + list(scene.hand_joint_names)
    joints = JointStateSeries(names=names, stamps_s=t0_s + joint_steps * dt, positions_rad=q, velocities_rad_s=dq)

    def frames() -> Iterator[RGBDFrame]:
        scene.reset()
        with SimRGBDCamera(scene, intrinsics=intrinsics) as camera:
            done = 0
            for target in frame_steps:
                if target > done:
                    scene.step(int(target - done))
                    done = int(target)
                frame = camera.render()
                frame.stamp_s = t0_s + done * dt
                yield frame

    return record_frames(path, frames(), joint_states=joints, overwrite=overwrite)
