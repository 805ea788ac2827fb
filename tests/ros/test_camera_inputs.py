"""The camera as real drivers send it (``ifgrasp_ros.ros_clients.CameraCache``, what the perception
node reads): a best-effort (sensor-data QoS) publisher is heard, colour and depth stamped 1 ms
apart make one frame (ApproximateTime with ``slop_s``), 20 ms apart do not and the error names the
parameter; RealSense-style 16UC1 millimetre depth arrives in metres."""

import threading

import numpy as np
import pytest

pytest.importorskip("ifgrasp_interfaces", reason="ROS 2 workspace not built: run scripts/install.sh")

from builtin_interfaces.msg import Time  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from ifgrasp.pipeline.errors import NoCameraDataError  # noqa: E402
from ifgrasp.types import CameraIntrinsics  # noqa: E402
from ifgrasp_ros.conversions import camera_info_from_intrinsics, image_from_depth_m, image_from_rgb  # noqa: E402
from ifgrasp_ros.ros_clients import CameraCache  # noqa: E402

TOPICS = {"color": "/cam/color", "info": "/cam/info", "depth": "/cam/depth", "objects": "", "parts": "", "names": ""}
INTR = CameraIntrinsics(width=8, height=6, fx=10.0, fy=10.0, cx=3.5, cy=2.5)


def header(sec: int, nanosec: int) -> Header:
    return Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id="camera_color_optical_frame")


@pytest.fixture
def camera(ros_node):
    """A best-effort camera publishing on the test's node, and a cache reading it (slop 10 ms)."""
    node = ros_node.node
    pubs = {k: node.create_publisher(t, TOPICS[k], qos_profile_sensor_data)
            for k, t in (("color", Image), ("info", CameraInfo), ("depth", Image))}
    cache = CameraCache(node, TOPICS, np.eye(4), labels=False, slop_s=0.01)
    stop = threading.Event()
    spin = threading.Thread(target=lambda: [ros_node.executor.spin_once(timeout_sec=0.02) for _ in iter(stop.is_set, True)])
    spin.start()

    def send(color_stamp: Header, depth_stamp: Header, depth_m: np.ndarray) -> None:
        pubs["color"].publish(image_from_rgb(np.full((6, 8, 3), 90, np.uint8), color_stamp))
        pubs["info"].publish(camera_info_from_intrinsics(INTR, color_stamp))
        pubs["depth"].publish(image_from_depth_m(depth_m, depth_stamp))

    ros_node.spin_until(lambda: all(p.get_subscription_count() for p in pubs.values()), 10.0, "subscriptions")
    yield cache, send
    stop.set()
    spin.join(5.0)


def test_stamps_a_millisecond_apart_make_a_frame_twenty_do_not(camera):
    cache, send = camera
    depth = np.linspace(0.4, 1.2, 48).reshape(6, 8).astype(np.float32)
    send(header(100, 0), header(100, 1_000_000), depth)  # 1 ms apart: one frame
    frame = cache.get_frame(5.0)
    np.testing.assert_allclose(frame.depth_m, np.round(depth * 1000) / 1000, atol=1e-6)  # 16UC1 mm -> m
    send(header(101, 0), header(101, 20_000_000), depth)  # 20 ms apart: refused, naming the parameter
    with pytest.raises(NoCameraDataError, match="stamps within 10 ms \\(parameter sync_slop_s\\)"):
        cache.get_frame(1.0, after=(101, 0))


def test_perceive_uses_the_frame_taken_after_the_robot_came_to_rest_without_waiting(camera, ros_node):
    """The commander's perceive asks for frames stamped after the robot's last motion
    (``RemoteStages`` with its ``RestWatch``), not after the command: the frame already there is
    used at once. Before, only a frame stamped after the command would do, and a 2 Hz camera made
    the perceive stage wait for the next one (command -> first arm motion: docs/experiments.md)."""
    from ifgrasp.pipeline.frames import RestWatch
    from ifgrasp_ros.remote_stages import RemoteStages

    cache, send = camera
    now = ros_node.node.get_clock().now().nanoseconds * 1e-9
    rest = RestWatch()
    rest.update(now - 3.0, np.zeros(23))
    rest.update(now - 1.0, np.full(23, 0.2))  # the arm's last move ended a second ago
    rest.update(now - 0.5, np.full(23, 0.2))  # at rest since
    p = {"service_wait_s": 1.0, "max_frame_age_s": 2.0, **{f"{s}_service": f"/test/{s}" for s in
                                                             ("ground", "perceive", "generate", "plan")}}
    stages = RemoteStages(ros_node.node, p, rest=rest)
    shot = now - 0.6  # the camera's latest frame, taken at rest
    stamp = header(int(shot), int(round((shot - int(shot)) * 1e9)))
    send(stamp, stamp, np.full((6, 8), 0.8, np.float32))
    after = stages._not_before(rest)
    assert cache.get_frame(5.0, after=(after.sec, after.nanosec)).stamp_s == pytest.approx(shot, abs=1e-6)
    old = stages._not_before()  # frames after the command only: this one is refused
    with pytest.raises(NoCameraDataError):
        cache.get_frame(0.5, after=(old.sec, old.nanosec))
    moving = RestWatch()
    moving.update(now - 0.1, np.zeros(23))  # still moving 0.1 s ago: the frame shows it elsewhere
    late = stages._not_before(moving)
    with pytest.raises(NoCameraDataError):
        cache.get_frame(0.5, after=(late.sec, late.nanosec))
