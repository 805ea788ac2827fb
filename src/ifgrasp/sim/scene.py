"""The simulated table scene: table, xArm7 + LEAP Hand, objects with parts, an RGB-D camera.

World = robot base frame (REP-103, metres). ``build_scene(cfg)`` assembles a ``mujoco.MjSpec``:
a box table whose top is z = 0 (the xArm7 base at the origin, the table reaching forward), a floor,
lights, the combined URDF (loaded as the base spec, so every link and joint keeps its URDF name)
with position actuators on its 7 + 16 joints, the objects as free bodies
(one geom per convex piece, named ``"<body>/<part>/<i>"`` by ``ifgrasp.sim.objects``), and two
cameras: ``"realsense"`` (the configured RGB-D camera, drawn on a stand) and ``"overview"``.

    scene = build_scene(SceneConfig.default())
    scene.set_arm_joints(q7); scene.step(500)
    T_base_mug = scene.object_pose(scene.object_names[0])
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import mujoco
import numpy as np

from ifgrasp.errors import SimulationError, UnknownObjectError, known
from ifgrasp.hand.joints import JOINT_NAMES as LEAP_JOINT_NAMES
from ifgrasp.paths import URDF_DIR
from ifgrasp.sim.frames import look_at_T_base_camera, mujoco_camera_quat_wxyz
from ifgrasp.sim.objects import GraspObject, add_object_to_spec, geom_part_map, make_object
from ifgrasp.sim.scene_config import SceneConfig
from ifgrasp.sim.stage import add_camera_stand, add_stage

ARM_URDF = "xarm7.urdf"
#: Name of the configured RGB-D camera in the MuJoCo model.
REALSENSE_CAMERA = "realsense"
#: Name of the second viewpoint (behind-left of the table, sees the robot and the objects).
OVERVIEW_CAMERA = "overview"


def urdf_joint_names(path: Path) -> list[str]:
    """Names of the revolute/continuous/prismatic joints of a URDF, in document order."""
    if not path.is_file():
        raise SimulationError(f"URDF not found: {path}")
    root = ET.parse(path).getroot()
    return [j.get("name") for j in root.iter("joint") if j.get("type") in ("revolute", "continuous", "prismatic")]


class SimScene:
    """A compiled scene: ``model``, ``data`` and the index tables to drive and label it.

    Lookups (vectorised, indexed by MuJoCo geom id): ``geom_object`` (ngeom,) int32 object index
    into ``object_names`` or -1 (table, floor, robot); ``geom_part`` (ngeom,) int32 part index into
    ``objects[i].part_names`` or -1. Robot indices: ``arm_qpos_adr`` / ``arm_dof_adr`` /
    ``arm_actuator_ids`` (7,) and the same for the hand (16,) in LEAP motor-ID order; empty when the
    scene has no robot.
    """

    def __init__(self, cfg: SceneConfig, model: mujoco.MjModel, objects: tuple[GraspObject, ...],
                 object_names: tuple[str, ...], arm_joint_names: tuple[str, ...],
                 hand_joint_names: tuple[str, ...]) -> None:
        self.cfg = cfg
        self.model = model
        self.data = mujoco.MjData(model)
        self.objects = objects
        self.object_names = object_names
        self.arm_joint_names = arm_joint_names
        self.hand_joint_names = hand_joint_names

        self.geom_object = np.full(model.ngeom, -1, dtype=np.int32)  # (ngeom,)
        self.geom_part = np.full(model.ngeom, -1, dtype=np.int32)  # (ngeom,)
        for i, name in enumerate(object_names):
            gmap = geom_part_map(model, name)
            ids = np.fromiter(gmap.keys(), dtype=np.int64, count=len(gmap))
            self.geom_object[ids] = i
            self.geom_part[ids] = np.fromiter(gmap.values(), dtype=np.int32, count=len(gmap))
        self._object_body = np.array([model.body(n).id for n in object_names], dtype=np.int64)

        def joint_ids(names):
            return np.array([model.joint(n).id for n in names], dtype=np.int64)

        def actuator_ids(names):
            return np.array([model.actuator(n).id for n in names], dtype=np.int64)

        arm_j, hand_j = joint_ids(arm_joint_names), joint_ids(hand_joint_names)
        self.arm_qpos_adr = model.jnt_qposadr[arm_j].astype(np.int64)  # (7,)
        self.arm_dof_adr = model.jnt_dofadr[arm_j].astype(np.int64)  # (7,)
        self.arm_actuator_ids = actuator_ids(arm_joint_names)  # (7,)
        self.hand_qpos_adr = model.jnt_qposadr[hand_j].astype(np.int64)  # (16,)
        self.hand_dof_adr = model.jnt_dofadr[hand_j].astype(np.int64)  # (16,)
        self.hand_actuator_ids = actuator_ids(hand_joint_names)  # (16,)
        self.reset()

    # --- robot -----------------------------------------------------------------------------
    @property
    def has_robot(self) -> bool:
        return len(self.arm_joint_names) > 0

    def _require_robot(self) -> None:
        if not self.has_robot:
            raise SimulationError("this scene has no robot (robot.enabled is false in its SceneConfig)")

    def _set_targets(self, ids: np.ndarray, q: np.ndarray, what: str) -> np.ndarray:
        self._require_robot()
        q = np.asarray(q, dtype=float)
        if q.shape != ids.shape:
            raise SimulationError(f"{what} targets must have shape {ids.shape}, got {q.shape}")
        lo, hi = self.model.actuator_ctrlrange[ids].T
        sent = np.clip(q, lo, hi)
        self.data.ctrl[ids] = sent
        return sent

    def set_arm_joints(self, q_rad) -> np.ndarray:
        """Set the 7 arm position targets (radians); returns the targets sent after joint-limit clipping."""
        return self._set_targets(self.arm_actuator_ids, q_rad, "arm")

    def set_hand_joints(self, q_rad) -> np.ndarray:
        """Set the 16 LEAP position targets (radians, motor-ID order); returns what was sent after clipping."""
        return self._set_targets(self.hand_actuator_ids, q_rad, "hand")

    def arm_joints(self) -> np.ndarray:
        """(7,) current arm joint angles, radians."""
        return self.data.qpos[self.arm_qpos_adr].copy()

    def hand_joints(self) -> np.ndarray:
        """(16,) current LEAP joint angles, radians, motor-ID order."""
        return self.data.qpos[self.hand_qpos_adr].copy()

    # --- simulation ----------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """Advance the physics by ``n`` timesteps (``n * cfg.timestep_s`` seconds)."""
        mujoco.mj_step(self.model, self.data, nstep=int(n))
        if not np.all(np.isfinite(self.data.qpos)):
            raise SimulationError(f"simulation diverged (non-finite qpos) at t = {self.data.time:.3f} s")

    def reset(self) -> None:
        """Back to the initial state: configured joint angles and targets, objects where placed, t = 0."""
        mujoco.mj_resetData(self.model, self.data)
        if self.has_robot:
            r = self.cfg.robot
            self.data.qpos[self.arm_qpos_adr] = r.arm_joints_rad
            self.data.qpos[self.hand_qpos_adr] = r.hand_joints_rad
            self.set_arm_joints(r.arm_joints_rad)
            self.set_hand_joints(r.hand_joints_rad)
        mujoco.mj_forward(self.model, self.data)

    # --- objects -------------------------------------------------------------------------------
    def object_index(self, name: str) -> int:
        try:
            return self.object_names.index(name)
        except ValueError:
            raise UnknownObjectError(f"no object '{name}' in the scene; known: {known(self.object_names)}") from None

    def object_pose(self, name: str) -> np.ndarray:
        """(4, 4) ``T_base_object``: maps object-frame points (the mesh frame) into the base frame."""
        b = self._object_body[self.object_index(name)]
        T = np.eye(4)
        T[:3, :3] = self.data.xmat[b].reshape(3, 3)
        T[:3, 3] = self.data.xpos[b]
        return T

    def object_poses(self) -> np.ndarray:
        """(N, 4, 4) ``T_base_object`` of every object, in ``object_names`` order."""
        T = np.tile(np.eye(4), (len(self.object_names), 1, 1))
        T[:, :3, :3] = self.data.xmat[self._object_body].reshape(-1, 3, 3)
        T[:, :3, 3] = self.data.xpos[self._object_body]
        return T

    def part_name(self, object_index: int, part_index: int) -> str:
        return self.objects[object_index].part_names[part_index]

    def robot_contacts(self, object_index: int) -> np.ndarray:
        """Part index (C,) of each contact between the robot and object ``object_index`` now."""
        d, m = self.data, self.model
        g1, g2 = d.contact.geom1[: d.ncon], d.contact.geom2[: d.ncon]  # (C,)
        robot = (self.geom_object < 0) & (m.geom_bodyid != 0)  # (ngeom,) not an object, not the world (table)
        on1 = (self.geom_object[g1] == object_index) & robot[g2]
        on2 = (self.geom_object[g2] == object_index) & robot[g1]
        return np.concatenate([self.geom_part[g1[on1]], self.geom_part[g2[on2]]])

    def support_contacts(self, object_index: int) -> int:
        """Contacts between object ``object_index`` and the world body (table, floor) now."""
        d, m = self.data, self.model
        g1, g2 = d.contact.geom1[: d.ncon], d.contact.geom2[: d.ncon]  # (C,)
        world = m.geom_bodyid == 0  # (ngeom,)
        return int((((self.geom_object[g1] == object_index) & world[g2])
                    | ((self.geom_object[g2] == object_index) & world[g1])).sum())

    def contacts_by_part(self) -> dict[str, dict[str, int]]:
        """Robot contacts now, per object name and part name (objects without contact left out)."""
        out = {}
        for i, name in enumerate(self.object_names):
            parts = self.robot_contacts(i)
            if len(parts):
                idx, counts = np.unique(parts, return_counts=True)
                out[name] = {self.part_name(i, int(k)): int(c) for k, c in zip(idx, counts)}
        return out


def _load_robot(cfg: SceneConfig, urdf_dir: Path) -> tuple[mujoco.MjSpec, tuple[str, ...], tuple[str, ...]]:
    """The combined URDF as the scene's base spec (its root link fixed at the world origin, names
    unchanged), with armature, gravity compensation and position actuators on its 7 + 16 joints.

    The arm's joint names are those of ``urdf/xarm7.urdf`` in document order (joint1..joint7); the
    hand's come from the LEAP joint table ``ifgrasp.hand.joints.JOINT_NAMES`` (motor-ID order).
    """
    r = cfg.robot
    path = r.urdf_path(urdf_dir)
    arm_names = tuple(urdf_joint_names(path.parent / ARM_URDF))
    hand_names = tuple(LEAP_JOINT_NAMES)
    if len(arm_names) != 7:
        raise SimulationError(f"expected 7 arm joints in {path.parent / ARM_URDF}, found {len(arm_names)}")
    if not path.is_file():
        raise SimulationError(f"robot URDF not found: {path}")
    spec = mujoco.MjSpec.from_file(str(path))
    names = {j.name for j in spec.joints}
    missing = [n for n in arm_names + hand_names if n not in names]
    if missing:
        raise SimulationError(f"{path.name} lacks joints {missing}; has: {known(names)}")
    for j in spec.joints:
        j.armature = r.arm_armature_kgm2 if j.name in arm_names else r.hand_armature_kgm2
    if r.gravity_compensation:
        for b in spec.bodies:
            b.gravcomp = 1.0
    for name in arm_names + hand_names:
        kp = r.arm_kp_nm_per_rad if name in arm_names else r.hand_kp_nm_per_rad
        act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        # ctrlrange = joint range; the URDF effort limit is the joint's actuator force range.
        act.set_to_position(kp=kp, dampratio=r.damping_ratio, inheritrange=1.0)
    return spec, arm_names, hand_names


def _add_objects(spec: mujoco.MjSpec, cfg: SceneConfig) -> tuple[tuple[GraspObject, ...], tuple[str, ...]]:
    objects, names = [], []
    for p in cfg.objects:
        obj = make_object(p.category, p.seed)
        name = obj.name if obj.name not in names else f"{obj.name}_{len(names)}"
        quat_wxyz = np.array([np.cos(p.yaw_rad / 2), 0.0, 0.0, np.sin(p.yaw_rad / 2)])
        add_object_to_spec(spec, obj, name, pos=np.array([p.x_m, p.y_m, 0.001]), quat_wxyz=quat_wxyz, free=True)
        objects.append(obj)
        names.append(name)
    return tuple(objects), tuple(names)


def build_spec(cfg: SceneConfig, urdf_dir: Path = URDF_DIR) -> tuple[mujoco.MjSpec, dict]:
    """The scene's ``MjSpec`` (not compiled) and what ``SimScene`` needs to index it."""
    arm_names: tuple[str, ...] = ()
    hand_names: tuple[str, ...] = ()
    if cfg.robot.enabled:
        spec, arm_names, hand_names = _load_robot(cfg, urdf_dir)
    else:
        spec = mujoco.MjSpec()
    spec.modelname = "ifgrasp_table"
    spec.option.timestep = cfg.timestep_s
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    # The same contact model as the teacher's validation (ifgrasp.grasp.validate): elliptic friction
    # cones with a high impedance ratio, so a held object does not creep out of the fingers.
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0
    spec.compiler.degree = False
    add_stage(spec, cfg)
    objects, object_names = _add_objects(spec, cfg)

    cam = cfg.camera
    T = cam.T_base_camera
    spec.worldbody.add_camera(name=REALSENSE_CAMERA, pos=T[:3, 3], quat=mujoco_camera_quat_wxyz(T[:3, :3]))
    add_camera_stand(spec, T, floor_z_m=-cfg.table.height_m)
    eye, target = np.array([-0.9, 1.1, 0.9]), np.array([0.35, 0.0, 0.15])
    T_ov = look_at_T_base_camera(eye, target)
    spec.worldbody.add_camera(name=OVERVIEW_CAMERA, pos=eye, quat=mujoco_camera_quat_wxyz(T_ov[:3, :3]),
                              fovy=50.0)
    spec.visual.global_.offwidth = max(1280, cam.width)
    spec.visual.global_.offheight = max(960, cam.height)
    return spec, dict(objects=objects, object_names=object_names, arm_joint_names=arm_names,
                      hand_joint_names=hand_names)


def build_scene(cfg: SceneConfig | None = None, urdf_dir: Path = URDF_DIR) -> SimScene:
    """Compile the scene described by ``cfg`` (default: ``config/scene.yaml``)."""
    cfg = cfg or SceneConfig.default()
    spec, parts = build_spec(cfg, urdf_dir)
    try:
        model = spec.compile()
    except ValueError as exc:  # MuJoCo reports compile errors as ValueError
        raise SimulationError(f"the scene does not compile: {exc}") from exc
    return SimScene(cfg, model, **parts)
