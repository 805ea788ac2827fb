"""numpy / ifgrasp.types <-> ROS 2 messages, without cv_bridge.

Conventions: images are (H, W, C) row-major; depth travels as 16UC1 millimetres (what the
RealSense driver publishes; 0 = invalid) and comes back as float32 metres; poses are (4, 4)
homogeneous transforms, quaternions in ROS order (x, y, z, w); clouds are PointCloud2 with float32
``x, y, z`` in metres plus a uint8 ``part`` field (1 on the instructed part).
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, Pose, Quaternion, Transform, Vector3
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CameraInfo, Image, JointState, PointCloud2, PointField
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg
from trajectory_msgs.msg import JointTrajectoryPoint

from ifgrasp.errors import InputError, known
from ifgrasp.io.depth import depth_m_to_mm_u16, depth_mm_u16_to_m
from ifgrasp.types import CameraIntrinsics, GraspBatch, ObjectCloud

from ifgrasp_interfaces.msg import GraspCandidates, HandGrasp
from ifgrasp_interfaces.msg import ObjectCloud as ObjectCloudMsg

N_HAND_JOINTS = 16

# encoding -> (numpy dtype, channels)
_ENCODINGS: dict[str, tuple[str, int]] = {
    "rgb8": ("u1", 3),
    "bgr8": ("u1", 3),
    "rgba8": ("u1", 4),
    "bgra8": ("u1", 4),
    "mono8": ("u1", 1),
    "mono16": ("u2", 1),
    "16UC1": ("u2", 1),
    "32FC1": ("f4", 1),
    "32SC1": ("i4", 1),
}

# PointField datatype -> numpy dtype
_FIELD_DTYPES = {
    PointField.INT8: "i1",
    PointField.UINT8: "u1",
    PointField.INT16: "i2",
    PointField.UINT16: "u2",
    PointField.INT32: "i4",
    PointField.UINT32: "u4",
    PointField.FLOAT32: "f4",
    PointField.FLOAT64: "f8",
}

# Our cloud layout: x, y, z float32, part uint8, padded to 16 bytes per point.
CLOUD_DTYPE = np.dtype(
    {"names": ["x", "y", "z", "part"], "formats": ["<f4", "<f4", "<f4", "u1"],
     "offsets": [0, 4, 8, 12], "itemsize": 16}
)


# --- time and headers -----------------------------------------------------------------------------
def stamp_from_seconds(t_s: float) -> Time:
    """builtin_interfaces/Time from seconds (rounded to the nanosecond)."""
    ns = int(round(t_s * 1e9))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def seconds_from_stamp(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def make_header(frame_id: str, stamp_s: float) -> Header:
    return Header(frame_id=frame_id, stamp=stamp_from_seconds(stamp_s))


# --- poses ---------------------------------------------------------------------------------------
def quat_xyzw_from_matrix(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (x, y, z, w) with w >= 0."""
    R = np.asarray(R, dtype=np.float64)
    q = Rotation.from_matrix(R.reshape(-1, 3, 3)).as_quat()  # (N, 4) scipy is scalar-last
    q *= np.where(q[:, 3:4] < 0.0, -1.0, 1.0)
    return q.reshape(R.shape[:-2] + (4,))


def matrix_from_quat_xyzw(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (x, y, z, w), normalised here -> (..., 3, 3) rotation matrices."""
    q = np.asarray(q, dtype=np.float64)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(norm < 1e-9):
        raise InputError("quaternion of zero length cannot be a rotation")
    return Rotation.from_quat((q / norm).reshape(-1, 4)).as_matrix().reshape(q.shape[:-1] + (3, 3))


def pose_from_matrix(T: np.ndarray) -> Pose:
    """geometry_msgs/Pose from a (4, 4) transform (metres)."""
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (4, 4):
        raise InputError(f"a pose needs a (4, 4) transform, got {T.shape}")
    x, y, z, w = quat_xyzw_from_matrix(T[:3, :3])
    px, py, pz = T[:3, 3]
    return Pose(position=Point(x=float(px), y=float(py), z=float(pz)),
                orientation=Quaternion(x=float(x), y=float(y), z=float(z), w=float(w)))


def matrix_from_pose(pose: Pose) -> np.ndarray:
    """(4, 4) transform from a geometry_msgs/Pose."""
    o, p = pose.orientation, pose.position
    T = np.eye(4)
    T[:3, :3] = matrix_from_quat_xyzw(np.array([o.x, o.y, o.z, o.w]))
    T[:3, 3] = (p.x, p.y, p.z)
    return T


def transform_from_matrix(T: np.ndarray) -> Transform:
    """geometry_msgs/Transform from a (4, 4) transform (metres; quaternion x, y, z, w)."""
    p = pose_from_matrix(T)
    return Transform(translation=Vector3(x=p.position.x, y=p.position.y, z=p.position.z), rotation=p.orientation)


def matrix_from_transform(tf: Transform) -> np.ndarray:
    """(4, 4) transform from a geometry_msgs/Transform."""
    t, r = tf.translation, tf.rotation
    return matrix_from_pose(Pose(position=Point(x=t.x, y=t.y, z=t.z), orientation=r))


# --- trajectories --------------------------------------------------------------------------------
def duration_from_seconds(t_s: float) -> Duration:
    ns = int(round(float(t_s) * 1e9))
    return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def joint_state_msg(names, position_rad, velocity_rad_s, stamp: Time, effort=None) -> JointState:
    """A ``sensor_msgs/JointState``: names, positions (rad), velocities (rad/s), optional efforts."""
    msg = JointState(name=list(names), position=np.asarray(position_rad, float).tolist(),
                     velocity=np.asarray(velocity_rad_s, float).tolist())
    if effort is not None:
        msg.effort = np.asarray(effort, float).tolist()
    msg.header.stamp = stamp
    return msg


def joint_trajectory_to_msg(times_s: np.ndarray, q: np.ndarray, joint_names, header: Header | None = None) -> JointTrajectoryMsg:
    """trajectory_msgs/JointTrajectory from (T,) times from start (s) and (T, J) positions (rad)."""
    times_s, q = np.asarray(times_s, np.float64), np.asarray(q, np.float64).reshape(len(times_s), -1)
    msg = JointTrajectoryMsg(joint_names=list(joint_names), header=header or Header())
    msg.points = [JointTrajectoryPoint(positions=qi.tolist(), time_from_start=duration_from_seconds(t))
                  for t, qi in zip(times_s, q)]
    return msg


def joint_trajectory_from_msg(msg: JointTrajectoryMsg) -> tuple[np.ndarray, np.ndarray]:
    """(T,) times from start (s) and (T, J) positions (rad) of a trajectory_msgs/JointTrajectory."""
    j = len(msg.joint_names)
    t = np.array([p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in msg.points], np.float64)
    q = np.array([np.asarray(p.positions, np.float64) for p in msg.points], np.float64).reshape(len(t), j)
    return t, q


# --- images --------------------------------------------------------------------------------------
def image_from_array(array: np.ndarray, encoding: str, header: Header) -> Image:
    """sensor_msgs/Image from an (H, W) or (H, W, C) array already in ``encoding``'s dtype."""
    if encoding not in _ENCODINGS:
        raise InputError(f"unsupported image encoding '{encoding}'; known: {known(_ENCODINGS)}")
    dtype, channels = _ENCODINGS[encoding]
    array = np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<"))
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] != channels:
        raise InputError(f"encoding '{encoding}' needs (H, W, {channels}), got {array.shape}")
    h, w = array.shape[:2]
    msg = Image(header=header, height=h, width=w, encoding=encoding, is_bigendian=0,
                step=w * channels * array.itemsize)
    msg.data = array.tobytes()
    return msg


def array_from_image(msg: Image) -> np.ndarray:
    """(H, W) or (H, W, C) array view of a sensor_msgs/Image in its own encoding's dtype."""
    if msg.encoding not in _ENCODINGS:
        raise InputError(f"unsupported image encoding '{msg.encoding}'; known: {known(_ENCODINGS)}")
    dtype, channels = _ENCODINGS[msg.encoding]
    dt = np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<")
    row_bytes = msg.width * channels * dt.itemsize
    if msg.step < row_bytes or len(msg.data) < msg.step * msg.height:
        raise InputError(
            f"image data of {len(msg.data)} bytes (step {msg.step}) is too short for "
            f"{msg.height}x{msg.width} '{msg.encoding}'"
        )
    raw = np.frombuffer(msg.data, dtype=np.uint8, count=msg.step * msg.height)
    rows = raw.reshape(msg.height, msg.step)[:, :row_bytes]  # (H, row_bytes), drops row padding
    arr = np.ascontiguousarray(rows).view(dt).reshape(msg.height, msg.width, channels)
    return arr[:, :, 0] if channels == 1 else arr


def image_from_rgb(color: np.ndarray, header: Header) -> Image:
    """rgb8 Image from (H, W, 3) uint8."""
    return image_from_array(color, "rgb8", header)


def rgb_from_image(msg: Image) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an rgb8 / bgr8 / rgba8 / bgra8 Image."""
    arr = array_from_image(msg)
    if msg.encoding.startswith("bgr"):
        arr = arr[:, :, 2::-1]
    elif msg.encoding not in ("rgb8", "rgba8"):
        raise InputError(f"'{msg.encoding}' is not a colour encoding; known: bgr8, bgra8, rgb8, rgba8")
    return np.ascontiguousarray(arr[:, :, :3])


def image_from_depth_m(depth_m: np.ndarray, header: Header) -> Image:
    """16UC1 millimetre Image from (H, W) float metres; non-finite or <= 0 become 0 (invalid),
    depths beyond 65.535 m saturate."""
    return image_from_array(depth_m_to_mm_u16(depth_m), "16UC1", header)


def depth_m_from_image(msg: Image) -> np.ndarray:
    """(H, W) float32 metres (0 = invalid) from a 16UC1 millimetre or 32FC1 metre Image."""
    arr = array_from_image(msg)
    if msg.encoding in ("16UC1", "mono16"):
        return depth_mm_u16_to_m(arr)
    if msg.encoding == "32FC1":
        out = arr.astype(np.float32)
        out[~np.isfinite(out)] = 0.0
        return out
    raise InputError(f"'{msg.encoding}' is not a depth encoding; known: 16UC1, 32FC1, mono16")


def camera_info_from_intrinsics(intrinsics: CameraIntrinsics, header: Header) -> CameraInfo:
    """CameraInfo of an undistorted pinhole camera (plumb_bob, zero distortion, as aligned
    RealSense streams report)."""
    K = intrinsics.K
    P = np.zeros((3, 4))
    P[:, :3] = K
    return CameraInfo(
        header=header, height=intrinsics.height, width=intrinsics.width,
        distortion_model="plumb_bob", d=[0.0] * 5, k=K.ravel().tolist(),
        r=np.eye(3).ravel().tolist(), p=P.ravel().tolist(),
    )


def intrinsics_from_camera_info(msg: CameraInfo) -> CameraIntrinsics:
    k = np.asarray(msg.k, dtype=np.float64)
    return CameraIntrinsics(width=int(msg.width), height=int(msg.height),
                            fx=float(k[0]), fy=float(k[4]), cx=float(k[2]), cy=float(k[5]))


# --- point clouds --------------------------------------------------------------------------------
def cloud_from_points(points_m: np.ndarray, part_mask: np.ndarray | None, header: Header) -> PointCloud2:
    """Unordered PointCloud2 (height 1) with x, y, z float32 metres and a uint8 ``part`` field."""
    points_m = np.asarray(points_m)
    if points_m.ndim != 2 or points_m.shape[1] != 3:
        raise InputError(f"points must be (N, 3), got {points_m.shape}")
    n = points_m.shape[0]
    part = np.zeros(n, bool) if part_mask is None else np.asarray(part_mask, bool)
    if part.shape != (n,):
        raise InputError(f"part mask {part.shape} does not match {n} points")
    buf = np.zeros(n, dtype=CLOUD_DTYPE)
    buf["x"], buf["y"], buf["z"] = points_m[:, 0], points_m[:, 1], points_m[:, 2]
    buf["part"] = part
    fields = [PointField(name=name, offset=CLOUD_DTYPE.fields[name][1], datatype=dt, count=1)
              for name, dt in (("x", PointField.FLOAT32), ("y", PointField.FLOAT32),
                               ("z", PointField.FLOAT32), ("part", PointField.UINT8))]
    msg = PointCloud2(header=header, height=1, width=n, fields=fields, is_bigendian=False,
                      point_step=CLOUD_DTYPE.itemsize, row_step=CLOUD_DTYPE.itemsize * n,
                      is_dense=bool(np.isfinite(points_m).all()))
    msg.data = buf.tobytes()
    return msg


def points_from_cloud(msg: PointCloud2) -> tuple[np.ndarray, np.ndarray | None]:
    """(N, 3) float32 metres and the (N,) bool part mask (None when the cloud has no ``part``
    field) from any PointCloud2 with float x, y, z fields."""
    names = {f.name: f for f in msg.fields}
    missing = [c for c in "xyz" if c not in names]
    if missing:
        raise InputError(f"cloud has no field(s) {missing}; has: {known(names)}")
    order = ">" if msg.is_bigendian else "<"
    wanted = [c for c in ("x", "y", "z", "part") if c in names]
    for c in wanted:
        if names[c].datatype not in _FIELD_DTYPES:
            raise InputError(f"field '{c}' has unknown PointField datatype {names[c].datatype}")
    dtype = np.dtype({
        "names": wanted,
        "formats": [np.dtype(_FIELD_DTYPES[names[c].datatype]).newbyteorder(order) for c in wanted],
        "offsets": [names[c].offset for c in wanted],
        "itemsize": msg.point_step,
    })
    n = msg.width * msg.height
    rows = np.frombuffer(msg.data, dtype=np.uint8, count=msg.row_step * msg.height)
    rows = rows.reshape(msg.height, msg.row_step)[:, : msg.width * msg.point_step]
    pts = np.ascontiguousarray(rows).view(dtype).reshape(n)  # (N,) structured
    xyz = np.stack([pts["x"], pts["y"], pts["z"]], axis=-1).astype(np.float32)  # (N, 3)
    part = pts["part"] != 0 if "part" in names else None
    return xyz, part


def object_cloud_to_msg(cloud: ObjectCloud, header: Header) -> ObjectCloudMsg:
    """ifgrasp_interfaces/ObjectCloud; ``header.frame_id`` should name ``cloud.frame``'s ROS frame."""
    return ObjectCloudMsg(cloud=cloud_from_points(cloud.points_m, cloud.part_mask, header),
                          object_name=cloud.object_name, part_name=cloud.part_name)


def object_cloud_from_msg(msg: ObjectCloudMsg) -> ObjectCloud:
    pts, part = points_from_cloud(msg.cloud)
    return ObjectCloud(points_m=pts, part_mask=np.zeros(len(pts), bool) if part is None else part,
                       frame=msg.cloud.header.frame_id, object_name=msg.object_name,
                       part_name=msg.part_name)


# --- grasps --------------------------------------------------------------------------------------
def hand_grasp_msgs(batch: GraspBatch, header: Header, part_name: str = "") -> list[HandGrasp]:
    """One HandGrasp per grasp of ``batch`` (wrist poses as they are, in ``header.frame_id``).

    ``batch.extras["part_contact_share"]`` (B,) fills ``part_contact_share`` when present (else 0:
    no estimate; never NaN, the message says [0, 1]), as ``batch.scores`` fills ``score``."""
    b = len(batch)
    quats = quat_xyzw_from_matrix(batch.wrist_rot)  # (B, 4)
    scores = np.full(b, np.nan) if batch.scores is None else np.asarray(batch.scores, np.float64)
    share = np.nan_to_num(np.asarray(batch.extras.get("part_contact_share", np.zeros(b)), np.float64), nan=0.0)
    pos = np.asarray(batch.wrist_pos_m, np.float64)
    joints = np.asarray(batch.joints_rad, np.float64)
    out = []
    for i in range(b):  # message objects are built one by one; the maths above is batched
        pose = Pose(position=Point(x=pos[i, 0], y=pos[i, 1], z=pos[i, 2]),
                    orientation=Quaternion(x=quats[i, 0], y=quats[i, 1], z=quats[i, 2], w=quats[i, 3]))
        out.append(HandGrasp(header=header, wrist_pose=pose, joint_positions=joints[i],
                             score=float(scores[i]), part_contact_share=float(share[i]),
                             part_name=part_name))
    return out


def grasp_candidates_from_batch(batch: GraspBatch, header: Header, object_name: str = "",
                                part_name: str = "") -> GraspCandidates:
    """GraspCandidates for a GraspBatch; ``header.frame_id`` is the ROS name of ``batch.frame``."""
    return GraspCandidates(header=header, object_name=object_name, part_name=part_name,
                           grasps=hand_grasp_msgs(batch, header, part_name))


def batch_from_hand_grasps(grasps, frame: str) -> GraspBatch:
    """GraspBatch (wrist poses in ``frame``) from a sequence of HandGrasp messages."""
    b = len(grasps)
    pos = np.array([[g.wrist_pose.position.x, g.wrist_pose.position.y, g.wrist_pose.position.z]
                    for g in grasps], np.float64).reshape(b, 3)
    quat = np.array([[g.wrist_pose.orientation.x, g.wrist_pose.orientation.y,
                      g.wrist_pose.orientation.z, g.wrist_pose.orientation.w]
                     for g in grasps], np.float64).reshape(b, 4)
    joints = np.array([np.asarray(g.joint_positions) for g in grasps], np.float64).reshape(b, N_HAND_JOINTS)
    rot = matrix_from_quat_xyzw(quat) if b else np.zeros((0, 3, 3))
    return GraspBatch(
        wrist_pos_m=pos, wrist_rot=rot, joints_rad=joints, frame=frame,
        scores=np.array([g.score for g in grasps], np.float64),
        extras={"part_contact_share": np.array([g.part_contact_share for g in grasps], np.float64)},
    )


def batch_from_grasp_candidates(msg: GraspCandidates) -> GraspBatch:
    return batch_from_hand_grasps(msg.grasps, frame=msg.header.frame_id)
