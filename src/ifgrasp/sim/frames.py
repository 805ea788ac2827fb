"""Camera frame conventions shared by the scene and the simulated camera.

The REP-103 optical frame (what ``RGBDFrame.T_base_camera`` and ROS ``*_optical_frame`` use) has
x right, y down, z forward. A MuJoCo camera looks along its -z axis with y up and x right, so
``R_optical_mjcam = R_mjcam_optical = diag(1, -1, -1)`` (a rotation by pi about x, its own inverse)
and ``T_base_mjcam = T_base_optical @ diag(1, -1, -1, 1)``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from ifgrasp.errors import InputError
from ifgrasp.types import make_transform

R_MJCAM_OPTICAL = np.diag([1.0, -1.0, -1.0])


def look_at_T_base_camera(eye_m, target_m, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """(4, 4) ``T_base_camera`` (optical frame) of a camera at ``eye_m`` looking at ``target_m``.

    The image's "up" (-y optical) is as close to ``up`` as possible, so the horizon stays level.
    """
    eye, target, up = (np.asarray(v, dtype=float) for v in (eye_m, target_m, up))
    z = target - eye
    if np.linalg.norm(z) < 1e-9:
        raise InputError("look-at target coincides with the camera position")
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        raise InputError(f"viewing direction {z} is parallel to up {up}; choose another up vector")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return make_transform(np.stack([x, y, z], axis=1), eye)


def mujoco_camera_quat_wxyz(R_base_optical: np.ndarray) -> np.ndarray:
    """(4,) orientation (w, x, y, z) of the MuJoCo camera whose optical frame is ``R_base_optical``."""
    xyzw = Rotation.from_matrix(np.asarray(R_base_optical) @ R_MJCAM_OPTICAL).as_quat()
    return np.roll(xyzw, 1)


def quat_xyzw_from_matrix(R: np.ndarray) -> np.ndarray:
    """(4,) (x, y, z, w) quaternion of a rotation matrix, w >= 0."""
    q = Rotation.from_matrix(R).as_quat()
    return q if q[3] >= 0 else -q
