"""MuJoCo backends: the same driver interface over any ``MjModel``/``MjData`` and joint names.

Each joint is driven by a position actuator (``ctrl`` = target angle, rad); reads return
``qpos``/``qvel`` of the joints and the actuator forces as efforts (N*m). The simulation runs in
one of two ways: ``follow_clock=True`` (default) advances physics to the driver clock at every
read *and before every write* (the previous target acts until the new one arrives, a zero-order
hold like a real servo loop), so the sim runs in (virtual) real time like hardware; with
``follow_clock=False`` the owner (e.g. the scene loop) calls ``mujoco.mj_step`` itself and the
driver only reads and writes. Drivers acting on one ``MjData`` (an arm and a hand) must share one
``PhysicsClock`` (``physics=``), or each would keep its own idea of where simulated time stands.
"""

from __future__ import annotations

import mujoco
import numpy as np
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.drivers.arm import ArmDriver
from ifgrasp.drivers.base import JointState
from ifgrasp.drivers.hand import HandDriver
from ifgrasp.drivers.limits import JointLimits
from ifgrasp.drivers.safety import SafetyConfig
from ifgrasp.errors import ConfigError, known


class SimConfig(Config):
    """Sim backend settings (the model itself is handed over in code)."""

    follow_clock: bool = Field(True, description="advance physics to the driver clock at each read")
    max_advance_s: float = Field(0.25, gt=0, description="most simulated time one read may advance")
    velocity_rad_s: float = Field(3.0, gt=0, description="joint speed limit when limits come from the model")
    settle_tol_rad: float = Field(0.1, gt=0, le=0.2, description="arm only: largest measured joint error "
                                  "accepted at a trajectory's end, rad. Looser than the xArm's: the simulated "
                                  "arm's position actuators (kp 2,000 N m/rad) sit 0.01-0.072 rad off target "
                                  "when the fingers already press the object at the end of an approach")
    safety: SafetyConfig = Field(SafetyConfig(), description="safety layer")


class PhysicsClock:
    """Keeps one ``MjData`` in step with a wall clock for every driver acting on it.

    ``advance()`` steps physics up to ``clock() - origin`` (s), at most ``max_advance_s`` per call;
    a longer gap (a stalled process) is dropped rather than caught up later, so the scene never
    fast-forwards through a backlog.
    """

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, clock, max_advance_s: float = 0.25) -> None:
        self.model, self.data, self.clock, self.max_advance_s = model, data, clock, max_advance_s
        self.origin_s: float | None = None

    def start(self) -> None:
        if self.origin_s is None:
            self.origin_s = self.clock() - self.data.time

    def advance(self) -> None:
        self.start()
        wanted = self.clock() - self.origin_s
        target = min(wanted, self.data.time + self.max_advance_s)
        n = int(round((target - self.data.time) / self.model.opt.timestep))
        for _ in range(max(n, 0)):
            mujoco.mj_step(self.model, self.data)
        if wanted > target:  # capped: drop the backlog instead of catching up later
            self.origin_s = self.clock() - self.data.time


class _MujocoJoints:
    """Index bookkeeping shared by the arm and the hand: names -> qpos/qvel/actuator indices."""

    def _setup(self, model: mujoco.MjModel, data: mujoco.MjData, joint_names, actuator_names,
               cfg: SimConfig, physics: PhysicsClock | None) -> JointLimits:
        def ids(kind, names, what):
            out = [mujoco.mj_name2id(model, kind, n) for n in names]
            if min(out, default=0) < 0:
                count = model.njnt if kind == mujoco.mjtObj.mjOBJ_JOINT else model.nu
                have = [mujoco.mj_id2name(model, kind, i) for i in range(count)]
                bad = [n for n, i in zip(names, out) if i < 0]
                raise ConfigError(f"model has no {what} {bad}; known: {known(h for h in have if h)}")
            return np.asarray(out)

        if len(joint_names) != len(actuator_names):
            raise ConfigError(f"{len(joint_names)} joints but {len(actuator_names)} actuators")
        self.model, self.data, self.sim_cfg = model, data, cfg
        jid = ids(mujoco.mjtObj.mjOBJ_JOINT, joint_names, "joint")
        self._aid = ids(mujoco.mjtObj.mjOBJ_ACTUATOR, actuator_names, "actuator")
        self._qadr, self._vadr = model.jnt_qposadr[jid], model.jnt_dofadr[jid]
        if physics is not None and (physics.model is not model or physics.data is not data):
            raise ConfigError("the shared PhysicsClock belongs to another MjModel/MjData")
        self._physics = physics
        return JointLimits.from_mujoco(model, joint_names, velocity_rad_s=cfg.velocity_rad_s)

    def _connect(self) -> None:
        if self._physics is None:
            self._physics = PhysicsClock(self.model, self.data, self.clock, self.sim_cfg.max_advance_s)
        self._physics.start()
        self.data.ctrl[self._aid] = self.data.qpos[self._qadr]  # hold where it is

    def _disconnect(self) -> None:
        pass

    def _advance(self) -> None:
        if self.sim_cfg.follow_clock:
            self._physics.advance()

    def _read(self) -> JointState:
        self._advance()
        d = self.data
        return JointState(self.names, d.qpos[self._qadr].copy(), d.qvel[self._vadr].copy(),
                          d.actuator_force[self._aid].copy(), np.full(len(self._aid), np.nan), self.clock(),
                          "N*m")

    def _write(self, q_rad: np.ndarray) -> None:
        self._advance()  # the previous target acted until now
        self.data.ctrl[self._aid] = q_rad


class SimArm(_MujocoJoints, ArmDriver):
    """An arm in MuJoCo behind the ``ArmDriver`` interface."""

    def __init__(self, model, data, joint_names, actuator_names, config: SimConfig | None = None,
                 limits: JointLimits | None = None, physics: PhysicsClock | None = None, **kwargs):
        cfg = config or SimConfig()
        model_limits = self._setup(model, data, list(joint_names), list(actuator_names), cfg, physics)
        safety = cfg.safety
        if safety.trajectory_tolerance_rad < cfg.settle_tol_rad:  # the next trajectory may start where the
            safety = safety.replace(trajectory_tolerance_rad=cfg.settle_tol_rad)  # last one was accepted to end
        super().__init__(limits or model_limits, safety, **kwargs)
        self.settle_tol_rad = cfg.settle_tol_rad

    def emergency_stop(self) -> None:
        self.safety.stop()
        self.data.ctrl[self._aid] = self.data.qpos[self._qadr]
        self.fault = "emergency stop"

    def _recover(self) -> None:
        """Nothing latches in simulation: the hold at the measured position is all recovery needs."""


class SimHand(_MujocoJoints, HandDriver):
    """A hand in MuJoCo behind the ``HandDriver`` interface."""

    def __init__(self, model, data, joint_names, actuator_names, config: SimConfig | None = None,
                 limits: JointLimits | None = None, physics: PhysicsClock | None = None, **kwargs):
        cfg = config or SimConfig()
        model_limits = self._setup(model, data, list(joint_names), list(actuator_names), cfg, physics)
        super().__init__(limits or model_limits, cfg.safety, **kwargs)


def _from_section(cls, section: dict, model=None, data=None, joint_names=None, actuator_names=None, **kw):
    if model is None or data is None or joint_names is None or actuator_names is None:
        raise ConfigError("the sim backend needs model=, data=, joint_names= and actuator_names= "
                          "(from ifgrasp.sim.scene)")
    return cls(model, data, joint_names, actuator_names, SimConfig.from_dict(section), **kw)


def make_sim_arm(section: dict, **kwargs) -> SimArm:
    return _from_section(SimArm, section, **kwargs)


def make_sim_hand(section: dict, **kwargs) -> SimHand:
    return _from_section(SimHand, section, **kwargs)
