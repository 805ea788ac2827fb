"""Typed configuration of the simulated table scene (``config/scene.yaml``).

World = robot base frame (REP-103: x forward, y left, z up; metres, radians, seconds). The table top
is the plane z = 0 with the xArm7 base at the origin; objects stand in front of the robot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field, field_validator, model_validator
from scipy.spatial.transform import Rotation

from ifgrasp.config import Config
from ifgrasp.paths import CONFIG_DIR
from ifgrasp.types import CameraIntrinsics, make_transform

DEFAULT_SCENE_YAML = CONFIG_DIR / "scene.yaml"


class TableConfig(Config):
    """A box table whose top face is the plane z = 0; the robot base stands on it at the origin."""

    size_x_m: float = Field(1.2, gt=0.2, description="extent along x (forward)")
    size_y_m: float = Field(1.4, gt=0.2, description="extent along y (left-right)")
    thickness_m: float = Field(0.04, gt=0.0, description="table-top thickness")
    x_min_m: float = Field(-0.3, lt=0.0, description="x of the table's back edge (behind the robot base)")
    height_m: float = Field(0.75, gt=0.1, description="table-top height above the floor")
    friction: float = Field(0.8, gt=0.0, description="sliding friction coefficient of the top")


class ObjectPlacement(Config):
    """One object of the library standing upright on the table."""

    category: str = Field(description="object category, one of ifgrasp.sim.objects.CATEGORIES")
    seed: int = Field(0, ge=0, description="shape/size seed (same seed, same object)")
    x_m: float = Field(description="x of the object's frame origin (centre of its base) in the base frame")
    y_m: float = Field(description="y of the object's frame origin in the base frame")
    yaw_rad: float = Field(0.0, description="rotation about +z of the base frame")


class CameraConfig(Config):
    """Simulated RealSense: pinhole intrinsics and its optical-frame pose in the base frame.

    The pose is what a hand-eye calibration (or a ROS tf) gives: the position of the optical centre
    and the orientation of the REP-103 *optical* frame (x right, y down, z forward) in the base frame.
    """

    width: int = Field(640, gt=0, description="image width in pixels")
    height: int = Field(480, gt=0, description="image height in pixels")
    fx: float = Field(615.0, gt=0, description="focal length along x, pixels")
    fy: float = Field(615.0, gt=0, description="focal length along y, pixels")
    cx: float = Field(319.5, description="principal point x, pixels (pixel centres at integers)")
    cy: float = Field(239.5, description="principal point y, pixels (pixel centres at integers)")
    position_m: tuple[float, float, float] = Field(description="optical centre in the base frame")
    quat_xyzw: tuple[float, float, float, float] = Field(
        description="orientation of the optical frame in the base frame, (x, y, z, w)"
    )
    max_depth_m: float = Field(6.0, gt=0, description="depth beyond this reads 0 (invalid), like a RealSense")

    @field_validator("quat_xyzw")
    @classmethod
    def _unit_quaternion(cls, q: tuple[float, ...]) -> tuple[float, ...]:
        n = float(np.linalg.norm(q))
        if abs(n - 1.0) > 1e-3:
            raise ValueError(f"quat_xyzw must be a unit quaternion, norm is {n:.4f}")
        return q

    @property
    def intrinsics(self) -> CameraIntrinsics:
        return CameraIntrinsics(self.width, self.height, self.fx, self.fy, self.cx, self.cy)

    @property
    def T_base_camera(self) -> np.ndarray:
        """(4, 4) maps optical-frame points into the base frame."""
        R = Rotation.from_quat(np.asarray(self.quat_xyzw, dtype=float)).as_matrix()
        return make_transform(R, self.position_m)


class RobotConfig(Config):
    """xArm7 + LEAP Hand from the combined URDF, driven by joint position actuators."""

    enabled: bool = Field(True, description="include the robot in the scene")
    urdf: str = Field("xarm7_leap.urdf", description="combined arm + hand URDF, relative to urdf/ (or absolute)")
    arm_joints_rad: tuple[float, ...] = Field(description="initial arm joints 1..7 (also the initial targets)")
    hand_joints_rad: tuple[float, ...] = Field(
        description="initial LEAP joints in motor-ID order 0..15 (0 = flat open hand)"
    )
    arm_kp_nm_per_rad: float = Field(2000.0, gt=0, description="arm position gain")
    hand_kp_nm_per_rad: float = Field(3.0, gt=0, description="hand position gain (Dynamixel XC330-class)")
    damping_ratio: float = Field(1.0, gt=0, description="actuator damping as a ratio of critical")
    arm_armature_kgm2: float = Field(0.1, ge=0, description="reflected rotor inertia per arm joint")
    hand_armature_kgm2: float = Field(0.001, ge=0, description="reflected rotor inertia per hand joint")
    gravity_compensation: bool = Field(True, description="cancel gravity on the robot's links, like the xArm controller")

    @field_validator("arm_joints_rad")
    @classmethod
    def _seven(cls, q: tuple[float, ...]) -> tuple[float, ...]:
        if len(q) != 7:
            raise ValueError(f"arm_joints_rad needs 7 values, got {len(q)}")
        return q

    @field_validator("hand_joints_rad")
    @classmethod
    def _sixteen(cls, q: tuple[float, ...]) -> tuple[float, ...]:
        if len(q) != 16:
            raise ValueError(f"hand_joints_rad needs 16 values (motor IDs 0..15), got {len(q)}")
        return q

    def urdf_path(self, urdf_dir: Path) -> Path:
        p = Path(self.urdf)
        return p if p.is_absolute() else urdf_dir / p


class SceneConfig(Config):
    """The whole simulated world: table, robot, objects, camera, physics."""

    table: TableConfig = Field(default_factory=TableConfig, description="the table")
    robot: RobotConfig = Field(description="the xArm7 + LEAP Hand")
    objects: tuple[ObjectPlacement, ...] = Field((), description="objects standing on the table")
    camera: CameraConfig = Field(description="the RGB-D camera on its stand")
    timestep_s: float = Field(0.002, gt=0, le=0.01, description="physics timestep")

    @model_validator(mode="after")
    def _objects_on_table(self) -> "SceneConfig":
        t = self.table
        for o in self.objects:
            if not (t.x_min_m < o.x_m < t.x_min_m + t.size_x_m and abs(o.y_m) < t.size_y_m / 2):
                raise ValueError(
                    f"object {o.category} at ({o.x_m}, {o.y_m}) is off the table "
                    f"(x in ({t.x_min_m}, {t.x_min_m + t.size_x_m}), |y| < {t.size_y_m / 2})"
                )
        return self

    @classmethod
    def default(cls) -> "SceneConfig":
        """The committed default scene, ``config/scene.yaml``."""
        return cls.from_yaml(DEFAULT_SCENE_YAML)
