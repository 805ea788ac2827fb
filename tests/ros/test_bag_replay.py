"""bag_replay publishes a bag's recorded bytes, in order, with roughly the recorded spacing,
across processes; bad parameters end it with one clear line."""

import time

import numpy as np
import pytest

pytest.importorskip("ifgrasp_interfaces", reason="ROS 2 workspace not built: run scripts/install.sh")

from rclpy.qos import QoSProfile  # noqa: E402
from rclpy.serialization import deserialize_message  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402

from ifgrasp.io import bags  # noqa: E402
from ifgrasp.types import CameraIntrinsics, RGBDFrame  # noqa: E402
from ifgrasp_ros.conversions import depth_m_from_image, rgb_from_image, seconds_from_stamp  # noqa: E402

INTR = CameraIntrinsics(width=16, height=12, fx=20.0, fy=20.0, cx=7.5, cy=5.5)
N_FRAMES, FRAME_DT_S = 6, 0.2


@pytest.fixture
def recorded(tmp_path):
    rng = np.random.default_rng(3)
    frames = [RGBDFrame(color=rng.integers(0, 256, (12, 16, 3), dtype=np.uint8),
                        depth_m=rng.uniform(0.3, 1.5, (12, 16)).astype(np.float32), intrinsics=INTR,
                        T_base_camera=np.eye(4), stamp_s=50.0 + i * FRAME_DT_S) for i in range(N_FRAMES)]
    t = 50.0 + 0.1 * np.arange(11)
    joints = bags.JointStateSeries(names=["joint1", "joint2"], stamps_s=t,
                                   positions_rad=np.stack([t - 50, -(t - 50)], axis=1))
    path = tmp_path / "bag"
    bags.record_frames(path, frames, joint_states=joints)
    return path, frames, joints


def subscribe(probe, msg_type, topic, sink):
    probe.node.create_subscription(msg_type, topic, lambda m: sink.append((time.monotonic(), m)),
                                   QoSProfile(depth=50))


def test_replay_publishes_recorded_messages_in_order_and_timing(launch, ros_node, recorded):
    path, frames, joints = recorded
    colour, joint_msgs = [], []
    subscribe(ros_node, Image, bags.COLOR_TOPIC, colour)
    subscribe(ros_node, JointState, bags.JOINT_STATES_TOPIC, joint_msgs)
    # no fixed start delay: the node waits until both topics have a matched subscriber (this test's)
    node = launch("ifgrasp_ros", "bag_replay", params={"bag_path": str(path),
                                                        "wait_topics": [bags.COLOR_TOPIC, bags.JOINT_STATES_TOPIC]})
    ros_node.spin_until(lambda: len(colour) == N_FRAMES and len(joint_msgs) == len(joints.stamps_s),
                        timeout_s=20.0, what="every replayed colour image and joint state", procs=[node])

    # the recorded messages, in recorded order (bytes differ only in CDR padding, which rosbags
    # does not zero)
    recorded_msgs = [deserialize_message(m.raw_cdr, Image) for m in bags.read_bag(path, [bags.COLOR_TOPIC])]
    assert [m for _, m in colour] == recorded_msgs
    for (_, msg), frame in zip(colour, frames):
        np.testing.assert_array_equal(rgb_from_image(msg), frame.color)
        assert seconds_from_stamp(msg.header.stamp) == pytest.approx(frame.stamp_s)
    np.testing.assert_allclose([m.position[0] for _, m in joint_msgs], joints.positions_rad[:, 0])

    # roughly the recorded spacing: 1.0 s of colour frames arrive over more than half of that
    span = colour[-1][0] - colour[0][0]
    assert 0.5 * (N_FRAMES - 1) * FRAME_DT_S < span < 5.0


def test_replay_rate_and_topic_selection(launch, ros_node, recorded):
    path, frames, _ = recorded
    depth, joint_msgs = [], []
    subscribe(ros_node, Image, bags.DEPTH_TOPIC, depth)
    subscribe(ros_node, JointState, bags.JOINT_STATES_TOPIC, joint_msgs)
    node = launch("ifgrasp_ros", "bag_replay", params={
        "bag_path": str(path), "rate": 4.0, "loop": True, "topics": [bags.DEPTH_TOPIC]})
    ros_node.spin_until(lambda: len(depth) >= 2 * N_FRAMES, timeout_s=20.0,
                        what="two loops of replayed depth images", procs=[node])
    assert joint_msgs == []  # not selected
    recorded_s = [f.stamp_s for f in frames]
    stamps = [seconds_from_stamp(m.header.stamp) for _, m in depth]
    first = recorded_s.index(pytest.approx(stamps[0]))
    expected = [recorded_s[(first + i) % N_FRAMES] for i in range(len(stamps))]  # looped, in order
    assert stamps == pytest.approx(expected), (stamps, recorded_s)
    np.testing.assert_allclose(depth_m_from_image(depth[0][1]), frames[first].depth_m, atol=0.0005 + 1e-6)
    # 4x faster than recorded: frames 0.2 s apart in the bag arrive ~0.05 s apart (median, not a bound)
    gaps = [b[0] - a[0] for (a, b, sa, sb) in zip(depth, depth[1:], stamps, stamps[1:]) if sb > sa]
    assert np.median(gaps) < 0.5 * FRAME_DT_S, gaps


def test_without_subscribers_it_waits_at_most_the_timeout_then_plays(launch, recorded):
    path, _, _ = recorded
    node = launch("ifgrasp_ros", "bag_replay", params={"bag_path": str(path), "wait_for_subscribers_s": 0.5})
    deadline = time.monotonic() + 20.0
    while "bag finished" not in node.stderr and time.monotonic() < deadline:
        node.assert_running()
        time.sleep(0.1)
    assert "no subscriber after 0.5 s on" in node.stderr and bags.COLOR_TOPIC in node.stderr
    assert f"bag finished: {len(list(bags.read_bag(path)))} messages published" in node.stderr


def test_bad_parameters_exit_with_one_clear_line(launch, recorded, tmp_path):
    path, _, _ = recorded
    missing = launch("ifgrasp_ros", "bag_replay", params={"bag_path": str(tmp_path / "nope")}, expect_exit=1)
    wrong = launch("ifgrasp_ros", "bag_replay", params={"bag_path": str(path), "topics": ["/nope"]},
                   expect_exit=1)
    assert missing.wait(30) == 1 and wrong.wait(30) == 1
    assert "no bag at" in missing.stderr
    assert "not in the bag" in wrong.stderr and bags.COLOR_TOPIC in wrong.stderr


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_node_leaves_cleanly_on_signal(launch, ros_node, recorded, sig):
    import signal

    path, _, _ = recorded
    joint_msgs = []
    subscribe(ros_node, JointState, bags.JOINT_STATES_TOPIC, joint_msgs)
    node = launch("ifgrasp_ros", "bag_replay", params={"bag_path": str(path), "loop": True,
                                                        "wait_topics": [bags.JOINT_STATES_TOPIC]})
    ros_node.spin_until(lambda: len(joint_msgs) > 0, timeout_s=20.0,
                        what="the replay node publishing", procs=[node])  # mid-replay, thread running
    node.proc.send_signal(getattr(signal, sig))
    assert node.wait(15) == 0
    assert "Traceback" not in node.stderr and "replaying" in node.stderr


def test_a_robot_bag_with_types_unknown_here_plays_the_rest(launch, ros_node, tmp_path):
    """A real robot's bag carries /tf_static (tf2_msgs, not installed here) and CameraInfo topics
    nobody subscribes to: the unknown type is skipped with one warning, and the start waits only
    for the topics perception reads that the bag has (here none: then every played topic)."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    ts = bags.TYPESTORE
    JS, TF = "sensor_msgs/msg/JointState", "tf2_msgs/msg/TFMessage"
    Time = ts.types["builtin_interfaces/msg/Time"]
    Header = ts.types["std_msgs/msg/Header"]
    path = tmp_path / "robot_bag"
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        tf = w.add_connection("/tf_static", TF, typestore=ts)
        js = w.add_connection("/joint_states", JS, typestore=ts)
        w.write(tf, 1_000, ts.serialize_cdr(ts.types[TF](transforms=[]), TF))
        for i in range(5):
            msg = ts.types[JS](header=Header(stamp=Time(sec=1, nanosec=i * 1000), frame_id=""), name=["joint1"],
                               position=np.array([0.1 * i]), velocity=np.zeros(1), effort=np.zeros(1))
            w.write(js, 2_000 + i * 50_000_000, ts.serialize_cdr(msg, JS))
    joint_msgs = []
    subscribe(ros_node, JointState, bags.JOINT_STATES_TOPIC, joint_msgs)
    t0 = time.monotonic()
    node = launch("ifgrasp_ros", "bag_replay", params={"bag_path": str(path)})
    ros_node.spin_until(lambda: len(joint_msgs) == 5, timeout_s=20.0, what="the joint states", procs=[node])
    assert [m.position[0] for _, m in joint_msgs] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    deadline = time.monotonic() + 10.0
    while "bag finished" not in node.stderr and time.monotonic() < deadline:
        time.sleep(0.1)
    err = node.stderr
    assert err.count("skipping 1 topics") == 1 and "/tf_static (tf2_msgs/msg/TFMessage)" in err, err
    assert "no subscriber after" not in err, err
    print(f"first joint state {joint_msgs[0][0] - t0:.2f} s after the start")
