"""rosbag2 (MCAP) bags of the camera streams and joint states, with ``rosbags`` only (no rclpy).

A bag written here plays with ``ros2 bag play`` on a machine with the ROS CLI, and with the
``bag_replay`` node of ``ifgrasp_ros`` everywhere else. Topics, encodings and frame ids are the
RealSense ROS 2 driver's (``ros2 launch realsense2_camera rs_launch.py align_depth.enable:=true``):
colour rgb8, depth aligned to colour as 16UC1 millimetres, both in ``camera_color_optical_frame``.

    record_frames("out/bags/demo", frames, joint_states=JointStateSeries(names, t_s, q_rad))
    for topic, stamp_ns, raw_cdr in read_bag("out/bags/demo"):
        ...
"""

from __future__ import annotations

import heapq
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from ifgrasp.errors import InputError
from ifgrasp.io.depth import depth_m_to_mm_u16, depth_mm_u16_to_m
from ifgrasp.types import CameraIntrinsics, RGBDFrame

TYPESTORE = get_typestore(Stores.ROS2_JAZZY)

COLOR_TOPIC = "/camera/camera/color/image_raw"
COLOR_INFO_TOPIC = "/camera/camera/color/camera_info"
DEPTH_TOPIC = "/camera/camera/aligned_depth_to_color/image_raw"
DEPTH_INFO_TOPIC = "/camera/camera/aligned_depth_to_color/camera_info"
JOINT_STATES_TOPIC = "/joint_states"
CAMERA_FRAME_ID = "camera_color_optical_frame"

IMAGE = "sensor_msgs/msg/Image"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
JOINT_STATE = "sensor_msgs/msg/JointState"


class BagMessage(NamedTuple):
    """One recorded message: topic, receive time in nanoseconds, serialized CDR bytes."""

    topic: str
    stamp_ns: int
    raw_cdr: bytes


@dataclass
class JointStateSeries:
    """Joint states sampled over time: ``names`` (J,), ``stamps_s`` (T,) seconds,
    ``positions_rad`` (T, J), optional ``velocities_rad_s`` (T, J)."""

    names: list[str]
    stamps_s: np.ndarray
    positions_rad: np.ndarray
    velocities_rad_s: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.stamps_s = np.asarray(self.stamps_s, np.float64)
        self.positions_rad = np.asarray(self.positions_rad, np.float64)
        t, j = len(self.stamps_s), len(self.names)
        if self.positions_rad.shape != (t, j):
            raise InputError(f"positions_rad must be ({t}, {j}) (stamps, names), got {self.positions_rad.shape}")
        if self.velocities_rad_s is not None:
            self.velocities_rad_s = np.asarray(self.velocities_rad_s, np.float64)
            if self.velocities_rad_s.shape != (t, j):
                raise InputError(f"velocities_rad_s must be ({t}, {j}), got {self.velocities_rad_s.shape}")


@dataclass(frozen=True)
class BagSummary:
    """What a bag holds: message counts per topic and the span of its timestamps (ns)."""

    path: Path
    counts: dict[str, int]
    start_ns: int
    end_ns: int

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) * 1e-9


def _ns(t_s: float) -> int:
    return int(round(t_s * 1e9))


def _header(stamp_ns: int, frame_id: str):
    T = TYPESTORE.types
    stamp = T["builtin_interfaces/msg/Time"](sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)
    return T["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def _image(array: np.ndarray, encoding: str, header) -> object:
    """rosbags Image from (H, W[, C]) little-endian array."""
    h, w = array.shape[:2]
    data = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
    return TYPESTORE.types[IMAGE](header=header, height=h, width=w, encoding=encoding,
                                  is_bigendian=0, step=data.size // h, data=data)


def _camera_info(intr: CameraIntrinsics, header) -> object:
    P = np.zeros((3, 4))
    P[:, :3] = intr.K
    T = TYPESTORE.types
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return T[CAMERA_INFO](
        header=header, height=intr.height, width=intr.width, distortion_model="plumb_bob",
        d=np.zeros(5), k=intr.K.ravel(), r=np.eye(3).ravel(), p=P.ravel(),
        binning_x=0, binning_y=0, roi=roi,
    )


def _joint_state(series: JointStateSeries, i: int, stamp_ns: int) -> object:
    empty = np.zeros(0)
    vel = empty if series.velocities_rad_s is None else series.velocities_rad_s[i]
    return TYPESTORE.types[JOINT_STATE](header=_header(stamp_ns, ""), name=list(series.names),
                                        position=series.positions_rad[i], velocity=vel, effort=empty)


def record_frames(
    path: str | Path,
    frames: Iterable[RGBDFrame],
    joint_states: JointStateSeries | None = None,
    *,
    frame_id: str = CAMERA_FRAME_ID,
    overwrite: bool = False,
) -> BagSummary:
    """Write a rosbag2 MCAP bag (directory ``path``) of RGB-D frames and joint states.

    Each frame gives colour (rgb8), aligned depth (16UC1 mm) and a CameraInfo for each, all stamped
    ``frame.stamp_s`` (seconds). Joint states go to ``/joint_states`` at their own stamps. Messages
    are written in time order. ``overwrite`` replaces an existing bag directory.
    """
    path = Path(path)
    if path.exists():
        if not overwrite:
            raise InputError(f"bag '{path}' exists; pass overwrite=True to replace it")
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def frame_events():
        last = -1
        for frame in frames:
            t = _ns(frame.stamp_s)
            if t < last:
                raise InputError(f"frames must come in time order; {t} ns follows {last} ns")
            last = t
            h = _header(t, frame_id)
            info = _camera_info(frame.intrinsics, h)
            yield t, 0, COLOR_TOPIC, lambda f=frame, h=h: _image(np.asarray(f.color, np.uint8), "rgb8", h)
            yield t, 1, COLOR_INFO_TOPIC, lambda info=info: info
            yield t, 2, DEPTH_TOPIC, lambda f=frame, h=h: _image(
                depth_m_to_mm_u16(f.depth_m).astype("<u2"), "16UC1", h)
            yield t, 3, DEPTH_INFO_TOPIC, lambda info=info: info

    def joint_events():
        if joint_states is None:
            return
        order = np.argsort(joint_states.stamps_s, kind="stable")
        for i in order:
            t = _ns(joint_states.stamps_s[i])
            yield t, 4, JOINT_STATES_TOPIC, lambda i=i, t=t: _joint_state(joint_states, i, t)

    # Streamed: frames are encoded one at a time, merged with the joint states by time.
    events = heapq.merge(frame_events(), joint_events(), key=lambda e: (e[0], e[1]))
    types = {COLOR_TOPIC: IMAGE, COLOR_INFO_TOPIC: CAMERA_INFO, DEPTH_TOPIC: IMAGE,
             DEPTH_INFO_TOPIC: CAMERA_INFO, JOINT_STATES_TOPIC: JOINT_STATE}
    counts: dict[str, int] = {}
    start_ns = end_ns = None
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {}
        for stamp, _, topic, make in events:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, types[topic], typestore=TYPESTORE)
            writer.write(conns[topic], stamp, TYPESTORE.serialize_cdr(make(), types[topic]))
            counts[topic] = counts.get(topic, 0) + 1
            start_ns = stamp if start_ns is None else start_ns
            end_ns = stamp
    if start_ns is None:
        shutil.rmtree(path, ignore_errors=True)
        raise InputError("nothing to record: no frames and no joint states")
    return BagSummary(path=path, counts=counts, start_ns=start_ns, end_ns=end_ns)


def bag_topics(path: str | Path) -> dict[str, str]:
    """Topic -> message type (``pkg/msg/Name``) of every topic in the bag."""
    with Reader(Path(path)) as reader:
        return {c.topic: c.msgtype for c in reader.connections}


def read_bag(path: str | Path, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
    """Yield the bag's messages in time order as (topic, stamp_ns, raw_cdr); ``topics`` filters."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no bag at '{path}'")
    with Reader(path) as reader:
        wanted = set(topics) if topics is not None else None
        conns = [c for c in reader.connections if wanted is None or c.topic in wanted]
        if wanted is not None and not conns:
            raise InputError(
                f"bag '{path}' has none of the topics {sorted(wanted)}; "
                f"has: {', '.join(sorted(c.topic for c in reader.connections))}"
            )
        for conn, stamp_ns, raw in reader.messages(connections=conns):
            yield BagMessage(conn.topic, stamp_ns, bytes(raw))


def read_frames(path: str | Path, T_base_camera: np.ndarray | None = None) -> Iterator[RGBDFrame]:
    """Decode the bag's colour + aligned depth images back into RGBDFrames (paired by header
    stamp, intrinsics from the colour CameraInfo). ``T_base_camera`` (4, 4) is not in the bag
    (it comes from the camera's YAML extrinsics); identity when not given."""
    T_bc = np.eye(4) if T_base_camera is None else np.asarray(T_base_camera, np.float64)
    pending: dict[int, dict[str, object]] = {}
    for topic, _, raw in read_bag(path, [COLOR_TOPIC, DEPTH_TOPIC, COLOR_INFO_TOPIC]):
        msgtype = CAMERA_INFO if topic == COLOR_INFO_TOPIC else IMAGE
        msg = TYPESTORE.deserialize_cdr(raw, msgtype)
        key = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        slot = pending.setdefault(key, {})
        slot[topic] = msg
        if len(slot) == 3:
            del pending[key]
            yield _frame_from_msgs(slot, key, T_bc)


def _frame_from_msgs(slot: dict[str, object], stamp_ns: int, T_base_camera: np.ndarray) -> RGBDFrame:
    color, depth, info = slot[COLOR_TOPIC], slot[DEPTH_TOPIC], slot[COLOR_INFO_TOPIC]
    if color.encoding != "rgb8" or depth.encoding != "16UC1":
        raise InputError(f"expected rgb8 colour and 16UC1 depth, got {color.encoding} and {depth.encoding}")
    rgb = np.asarray(color.data, np.uint8).reshape(color.height, color.step)[:, : color.width * 3]
    mm = np.asarray(depth.data, np.uint8).reshape(depth.height, depth.step)[:, : depth.width * 2]
    intr = CameraIntrinsics(width=int(info.width), height=int(info.height), fx=float(info.k[0]),
                            fy=float(info.k[4]), cx=float(info.k[2]), cy=float(info.k[5]))
    return RGBDFrame(
        color=rgb.reshape(color.height, color.width, 3).copy(),
        depth_m=depth_mm_u16_to_m(np.ascontiguousarray(mm).view("<u2")),
        intrinsics=intr, T_base_camera=T_base_camera, stamp_s=stamp_ns * 1e-9,
    )
