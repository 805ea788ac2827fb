"""Joint limits as the drivers use them, taken from the robot tables (never a second table).

``JointLimits`` is a plain container; where it is filled from:

- LEAP Hand: ``ifgrasp.hand.joints`` (joint order = motor ID order, our zero convention),
- xArm7: ``ifgrasp.arm.Xarm7Kinematics`` (``lower``, ``upper``, ``velocity_limits``),
- any MuJoCo model: ``jnt_range`` of the named joints (the sim backend and tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ifgrasp.errors import ConfigError, DriverError, known


@dataclass(frozen=True)
class JointLimits:
    """Per-joint limits, all (J,) float64 arrays in joint order.

    ``lower_rad``/``upper_rad`` position limits (rad); ``velocity_rad_s`` speed limits (rad/s);
    ``acceleration_rad_s2`` acceleration limits (rad/s^2, ``inf`` where the table gives none).
    """

    names: tuple[str, ...]
    lower_rad: np.ndarray
    upper_rad: np.ndarray
    velocity_rad_s: np.ndarray
    acceleration_rad_s2: np.ndarray

    def __post_init__(self) -> None:
        J = len(self.names)
        for field in ("lower_rad", "upper_rad", "velocity_rad_s", "acceleration_rad_s2"):
            arr = np.asarray(getattr(self, field), dtype=np.float64).reshape(-1)
            if arr.shape != (J,):
                raise ConfigError(f"JointLimits.{field} has {arr.shape[0]} values for {J} joints")
            arr.setflags(write=False)
            object.__setattr__(self, field, arr)
        if np.any(self.lower_rad > self.upper_rad):
            bad = [n for n, lo, hi in zip(self.names, self.lower_rad, self.upper_rad) if lo > hi]
            raise ConfigError(f"lower limit above upper limit for joints: {known(bad)}")
        if np.any(self.velocity_rad_s <= 0) or np.any(self.acceleration_rad_s2 <= 0):
            raise ConfigError("velocity and acceleration limits must be positive")

    @property
    def dof(self) -> int:
        return len(self.names)

    def contains(self, q: np.ndarray, tol_rad: float = 1e-9) -> np.ndarray:
        """(B,) bool: each row of ``q`` (B, J) inside the position limits."""
        q = np.atleast_2d(q)  # (B, J)
        return np.all((q >= self.lower_rad - tol_rad) & (q <= self.upper_rad + tol_rad), axis=-1)

    def scaled(self, velocity_scale: float = 1.0, acceleration_rad_s2: float | None = None) -> "JointLimits":
        """A copy with velocity limits times ``velocity_scale`` and optionally capped accelerations."""
        acc = self.acceleration_rad_s2 if acceleration_rad_s2 is None else np.minimum(
            self.acceleration_rad_s2, acceleration_rad_s2)
        return JointLimits(self.names, self.lower_rad, self.upper_rad,
                           self.velocity_rad_s * velocity_scale, acc)

    @classmethod
    def from_mujoco(cls, model, joint_names, velocity_rad_s: float = 2.0,
                    acceleration_rad_s2: float = np.inf) -> "JointLimits":
        """Limits of the named hinge/slide joints of a ``mujoco.MjModel`` (unlimited joints: +-pi)."""
        import mujoco

        ids = []
        for name in joint_names:
            jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
            if jid < 0:
                names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, i) for i in range(model.njnt)]
                raise ConfigError(f"MuJoCo model has no joint '{name}'; known: {known(n for n in names if n)}")
            ids.append(jid)
        ids = np.asarray(ids)
        rng = model.jnt_range[ids].copy()  # (J, 2)
        unlimited = ~model.jnt_limited[ids].astype(bool)
        rng[unlimited] = (-np.pi, np.pi)
        J = len(ids)
        return cls(tuple(joint_names), rng[:, 0], rng[:, 1], np.full(J, velocity_rad_s),
                   np.full(J, acceleration_rad_s2))


def hand_limits(acceleration_rad_s2: float = np.inf) -> JointLimits:
    """LEAP Hand limits from ``ifgrasp.hand.joints`` (motor-ID order, our zero: hardware = ours + pi)."""
    try:
        from ifgrasp.hand import joints
    except ImportError as exc:  # the hand package is another module's job
        raise DriverError(f"LEAP joint table ifgrasp.hand.joints is not available: {exc}") from exc
    return JointLimits(tuple(joints.JOINT_NAMES), joints.LOWER_RAD, joints.UPPER_RAD,
                       joints.MAX_VELOCITY_RAD_S, np.full(joints.NUM_JOINTS, acceleration_rad_s2))


def arm_limits(acceleration_rad_s2: float = 8.0) -> JointLimits:
    """xArm7 limits from ``ifgrasp.arm.Xarm7Kinematics`` (lower/upper/velocity_limits, from the URDF)."""
    try:
        from ifgrasp.arm import Xarm7Kinematics
    except ImportError as exc:
        raise DriverError(f"xArm7 kinematics ifgrasp.arm.Xarm7Kinematics is not available: {exc}") from exc
    kin = Xarm7Kinematics()
    return JointLimits(tuple(kin.joint_names), _numpy(kin.lower), _numpy(kin.upper),
                       _numpy(kin.velocity_limits), np.full(kin.dof, acceleration_rad_s2))


def arm_hand_points_fk():
    """Workspace points for the xArm7 safety check: (B, 7) -> (B, 2, 3) flange and LEAP palm centre."""
    from ifgrasp.arm import Xarm7Kinematics
    from ifgrasp.hand.joints import PALM_CENTER_IN_HAND

    kin = Xarm7Kinematics()
    palm_h = np.append(PALM_CENTER_IN_HAND, 1.0)  # (4,) homogeneous, hand frame

    def fk(q: np.ndarray) -> np.ndarray:
        T_flange = kin.fk(q)  # (B, 4, 4)
        T_hand = kin.fk_hand(q)  # (B, 4, 4)
        return np.stack([T_flange[:, :3, 3], (T_hand @ palm_h)[:, :3]], axis=1)  # (B, 2, 3)

    return fk


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
