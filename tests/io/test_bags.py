"""Bags written with rosbags read back identically, in time order, with RealSense topics."""

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ifgrasp.errors import InputError
from ifgrasp.io import bags
from ifgrasp.io.depth import depth_m_to_mm_u16, depth_mm_u16_to_m
from ifgrasp.types import CameraIntrinsics, RGBDFrame

INTR = CameraIntrinsics(width=32, height=24, fx=30.0, fy=31.0, cx=15.5, cy=11.5)
ARM = [f"joint{i}" for i in range(1, 8)]


def make_frames(n: int, t0_s: float = 100.0, dt_s: float = 1 / 15, seed: int = 0) -> list[RGBDFrame]:
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        depth = rng.uniform(0.2, 2.0, (INTR.height, INTR.width)).astype(np.float32)
        depth[rng.random(depth.shape) < 0.1] = 0.0  # invalid pixels
        color = rng.integers(0, 256, (INTR.height, INTR.width, 3), dtype=np.uint8)
        frames.append(RGBDFrame(color=color, depth_m=depth, intrinsics=INTR,
                                T_base_camera=np.eye(4), stamp_s=t0_s + i * dt_s))
    return frames


def make_joints(n: int, t0_s: float = 100.0, dt_s: float = 0.01) -> bags.JointStateSeries:
    t = t0_s + dt_s * np.arange(n)
    q = np.sin(t[:, None] + np.arange(7)[None, :])  # (T, 7)
    return bags.JointStateSeries(names=ARM, stamps_s=t, positions_rad=q, velocities_rad_s=np.cos(q))


def test_record_read_round_trip(tmp_path: Path):
    frames, joints = make_frames(5), make_joints(40)
    summary = bags.record_frames(tmp_path / "bag", frames, joint_states=joints)

    assert summary.counts == {bags.COLOR_TOPIC: 5, bags.COLOR_INFO_TOPIC: 5, bags.DEPTH_TOPIC: 5,
                              bags.DEPTH_INFO_TOPIC: 5, bags.JOINT_STATES_TOPIC: 40}
    assert summary.duration_s == pytest.approx(max(4 / 15, 0.39), abs=1e-6)
    assert bags.bag_topics(tmp_path / "bag") == {
        bags.COLOR_TOPIC: "sensor_msgs/msg/Image", bags.COLOR_INFO_TOPIC: "sensor_msgs/msg/CameraInfo",
        bags.DEPTH_TOPIC: "sensor_msgs/msg/Image", bags.DEPTH_INFO_TOPIC: "sensor_msgs/msg/CameraInfo",
        bags.JOINT_STATES_TOPIC: "sensor_msgs/msg/JointState"}

    msgs = list(bags.read_bag(tmp_path / "bag"))
    stamps = np.array([m.stamp_ns for m in msgs])
    assert len(msgs) == 60 and np.all(np.diff(stamps) >= 0)

    back = list(bags.read_frames(tmp_path / "bag"))
    assert len(back) == 5
    for f, g in zip(frames, back):
        np.testing.assert_array_equal(g.color, f.color)
        np.testing.assert_allclose(g.depth_m, f.depth_m, atol=0.0005 + 1e-6)  # 1 mm quantisation
        np.testing.assert_array_equal(g.depth_m == 0, f.depth_m == 0)
        assert g.intrinsics == INTR and g.stamp_s == pytest.approx(f.stamp_s, abs=1e-9)

    js = [bags.TYPESTORE.deserialize_cdr(m.raw_cdr, bags.JOINT_STATE) for m in msgs
          if m.topic == bags.JOINT_STATES_TOPIC]
    np.testing.assert_allclose(np.stack([j.position for j in js]), joints.positions_rad)
    np.testing.assert_allclose(np.stack([j.velocity for j in js]), joints.velocities_rad_s)
    assert list(js[0].name) == ARM


def test_bag_is_rosbag2_mcap_with_realsense_frame(tmp_path: Path):
    bags.record_frames(tmp_path / "bag", make_frames(2))
    meta = yaml.safe_load((tmp_path / "bag" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["storage_identifier"] == "mcap" and meta["version"] == 9
    assert meta["message_count"] == 8
    assert all(Path(tmp_path / "bag" / p).is_file() and p.endswith(".mcap") for p in meta["relative_file_paths"])
    topic, _, raw = next(iter(bags.read_bag(tmp_path / "bag", [bags.DEPTH_TOPIC])))
    img = bags.TYPESTORE.deserialize_cdr(raw, bags.IMAGE)
    assert (topic, img.encoding, img.header.frame_id) == (bags.DEPTH_TOPIC, "16UC1", "camera_color_optical_frame")
    assert img.step == 2 * INTR.width and img.data.size == 2 * INTR.width * INTR.height


def test_read_bag_filters_topics_and_names_missing(tmp_path: Path):
    bags.record_frames(tmp_path / "bag", make_frames(3), joint_states=make_joints(5))
    assert {m.topic for m in bags.read_bag(tmp_path / "bag", [bags.JOINT_STATES_TOPIC])} == {bags.JOINT_STATES_TOPIC}
    with pytest.raises(InputError, match="has: /camera"):
        list(bags.read_bag(tmp_path / "bag", ["/nope"]))
    with pytest.raises(InputError, match="no bag"):
        list(bags.read_bag(tmp_path / "missing"))


def test_bad_input_is_refused(tmp_path: Path):
    bags.record_frames(tmp_path / "bag", make_frames(1))
    with pytest.raises(InputError, match="overwrite"):
        bags.record_frames(tmp_path / "bag", make_frames(1))
    bags.record_frames(tmp_path / "bag", make_frames(2), overwrite=True)
    assert sum(1 for _ in bags.read_bag(tmp_path / "bag")) == 8
    with pytest.raises(InputError, match="nothing to record"):
        bags.record_frames(tmp_path / "empty", [])
    with pytest.raises(InputError, match="time order"):
        bags.record_frames(tmp_path / "rev", make_frames(3, dt_s=-0.1))
    with pytest.raises(InputError, match=r"\(3, 7\)"):
        bags.JointStateSeries(names=ARM, stamps_s=[0, 1, 2], positions_rad=np.zeros((3, 6)))


@given(arrays(np.float64, (3, 5), elements=st.floats(-1.0, 70.0) | st.sampled_from([np.nan, np.inf, -np.inf])))
def test_depth_encoding_matches_definition(depth_m):
    mm = depth_m_to_mm_u16(depth_m)
    assert mm.dtype == np.uint16
    ref = np.array([[0 if not (np.isfinite(d) and d > 0) else min(65535, int(np.floor(d * 1000 + 0.5)))
                     for d in row] for row in depth_m])  # looped reference
    assert np.all(np.abs(mm.astype(int) - ref) <= 1)  # rint vs round-half-up differ only at .5
    back = depth_mm_u16_to_m(mm)
    ok = np.isfinite(depth_m) & (depth_m > 0.0005) & (depth_m < 65.5)
    np.testing.assert_allclose(back[ok], depth_m[ok], atol=0.0005 + 1e-6)
