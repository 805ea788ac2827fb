"""Shared data types passed between stages.

Conventions (see ARCHITECTURE): SI units (metres, radians, seconds, newtons, kilograms);
frames in names: ``T_a_b`` is a (4, 4) homogeneous transform mapping points expressed in frame
``b`` into frame ``a``; arrays carry a leading batch dimension where several items travel together.
Quaternions, where they appear, say their order in the name (``quat_xyzw``, ``quat_wxyz``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ifgrasp.errors import InputError


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of a colour-aligned depth camera, as a RealSense reports them.

    ``fx, fy, cx, cy`` in pixels; the optical frame is REP-103 optical: x right, y down, z forward.
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @property
    def K(self) -> np.ndarray:
        """(3, 3) camera matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @classmethod
    def realsense_d435_640x480(cls) -> "CameraIntrinsics":
        """Typical factory intrinsics of a D435 colour stream at 640x480 (depth aligned to it)."""
        return cls(width=640, height=480, fx=615.0, fy=615.0, cx=320.0, cy=240.0)


@dataclass
class RGBDFrame:
    """One aligned colour + depth frame.

    ``color`` (H, W, 3) uint8 RGB; ``depth_m`` (H, W) float32 metres along the optical axis, 0 where
    invalid; ``T_base_camera`` (4, 4) maps optical-frame points into the robot base frame.
    ``object_ids`` / ``part_ids`` (H, W) int32 are ground-truth labels, present only in simulation
    (-1 = background / no part).
    """

    color: np.ndarray
    depth_m: np.ndarray
    intrinsics: CameraIntrinsics
    T_base_camera: np.ndarray
    stamp_s: float = 0.0
    object_ids: np.ndarray | None = None
    part_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.color.shape[:2] != self.depth_m.shape:
            raise InputError(
                f"colour {self.color.shape[:2]} and depth {self.depth_m.shape} sizes differ; "
                "depth must be aligned to colour"
            )
        if self.depth_m.shape != (self.intrinsics.height, self.intrinsics.width):
            raise InputError(
                f"depth is {self.depth_m.shape} but intrinsics say "
                f"{(self.intrinsics.height, self.intrinsics.width)}"
            )


@dataclass
class ObjectCloud:
    """A target object's points and its instructed part, in one frame.

    ``points_m`` (N, 3) float32; ``part_mask`` (N,) bool, True on the instructed part;
    ``frame`` names the frame the points are in (``"camera"`` optical, ``"base"``, ``"object"``).
    """

    points_m: np.ndarray
    part_mask: np.ndarray
    frame: str = "camera"
    object_name: str = ""
    part_name: str = ""

    def __post_init__(self) -> None:
        if self.points_m.ndim != 2 or self.points_m.shape[1] != 3:
            raise InputError(f"points must be (N, 3), got {self.points_m.shape}")
        if self.part_mask.shape != (self.points_m.shape[0],):
            raise InputError(
                f"part mask {self.part_mask.shape} does not match {self.points_m.shape[0]} points"
            )


@dataclass
class GraspBatch:
    """A batch of LEAP Hand grasps: wrist pose in ``frame`` plus 16 joint angles.

    ``wrist_pos_m`` (B, 3); ``wrist_rot`` (B, 3, 3) rotation of the hand's root frame
    (``ifgrasp.hand`` documents it); ``joints_rad`` (B, 16) in LEAP motor-ID order;
    ``scores`` (B,) higher is better (optional).
    """

    wrist_pos_m: np.ndarray
    wrist_rot: np.ndarray
    joints_rad: np.ndarray
    frame: str = "object"
    scores: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        b = self.wrist_pos_m.shape[0]
        if self.wrist_pos_m.shape != (b, 3):
            raise InputError(f"wrist_pos_m must be (B, 3), got {self.wrist_pos_m.shape}")
        if self.wrist_rot.shape != (b, 3, 3):
            raise InputError(f"wrist_rot must be ({b}, 3, 3), got {self.wrist_rot.shape}")
        if self.joints_rad.shape != (b, 16):
            raise InputError(f"joints_rad must be ({b}, 16), got {self.joints_rad.shape}")

    def __len__(self) -> int:
        return self.wrist_pos_m.shape[0]

    @property
    def T_frame_wrist(self) -> np.ndarray:
        """(B, 4, 4) wrist poses as homogeneous transforms."""
        T = np.tile(np.eye(4), (len(self), 1, 1))
        T[:, :3, :3] = self.wrist_rot
        T[:, :3, 3] = self.wrist_pos_m
        return T

    def select(self, index) -> "GraspBatch":
        """A sub-batch (index: int array, bool mask or slice)."""
        return GraspBatch(
            wrist_pos_m=self.wrist_pos_m[index],
            wrist_rot=self.wrist_rot[index],
            joints_rad=self.joints_rad[index],
            frame=self.frame,
            scores=None if self.scores is None else self.scores[index],
            extras={k: v[index] for k, v in self.extras.items()},
        )

    def transformed(self, T_new_frame: np.ndarray, new_frame: str) -> "GraspBatch":
        """The same grasps expressed in another frame: ``T_new_frame`` (4, 4) maps ``frame`` into it."""
        R, t = T_new_frame[:3, :3], T_new_frame[:3, 3]
        return GraspBatch(
            wrist_pos_m=self.wrist_pos_m @ R.T + t,
            wrist_rot=np.einsum("ij,bjk->bik", R, self.wrist_rot),
            joints_rad=self.joints_rad.copy(),
            frame=new_frame,
            scores=None if self.scores is None else self.scores.copy(),
            extras=dict(self.extras),
        )


def make_transform(rotation: np.ndarray | None = None, translation=None) -> np.ndarray:
    """(4, 4) homogeneous transform from a (3, 3) rotation and a (3,) translation in metres."""
    T = np.eye(4)
    if rotation is not None:
        T[:3, :3] = rotation
    if translation is not None:
        T[:3, 3] = translation
    return T
