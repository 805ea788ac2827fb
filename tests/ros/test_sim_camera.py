"""sim_camera publishes RealSense-named colour, aligned depth, CameraInfo and joint states that a
subscriber in another process receives; depth back-projects onto the scene's objects."""

import json

import numpy as np
import pytest

pytest.importorskip("ifgrasp_interfaces", reason="ROS 2 workspace not built: run scripts/install.sh")

from rclpy.qos import DurabilityPolicy, QoSProfile  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from ifgrasp.sim.scene_config import SceneConfig  # noqa: E402
from ifgrasp_ros.conversions import (array_from_image, depth_m_from_image, intrinsics_from_camera_info,  # noqa: E402
                                     rgb_from_image)

W, H = 160, 120
TOPICS = {
    "color": ("/camera/camera/color/image_raw", Image),
    "color_info": ("/camera/camera/color/camera_info", CameraInfo),
    "depth": ("/camera/camera/aligned_depth_to_color/image_raw", Image),
    "depth_info": ("/camera/camera/aligned_depth_to_color/camera_info", CameraInfo),
    "joints": ("/joint_states", JointState),
    "objects": ("/ifgrasp/sim/object_labels", Image),
}


def test_sim_camera_publishes_realsense_topics(launch, ros_node):
    got = {key: [] for key in TOPICS}
    for key, (topic, msg_type) in TOPICS.items():
        ros_node.node.create_subscription(msg_type, topic, got[key].append, QoSProfile(depth=10))
    names = []
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    ros_node.node.create_subscription(String, "/ifgrasp/sim/label_names", names.append, latched)

    node = launch("ifgrasp_ros", "sim_camera", params={"width": W, "height": H, "rate_hz": 4.0,
                                                       "joint_state_rate_hz": 20.0})
    ros_node.spin_until(lambda: all(len(v) >= 2 for v in got.values()) and names, timeout_s=90.0,
                        what=f"two messages on each of {[t for t, _ in TOPICS.values()]}", procs=[node])

    color, depth, info = got["color"][-1], got["depth"][-1], got["color_info"][-1]
    assert (color.encoding, color.width, color.height, color.step) == ("rgb8", W, H, 3 * W)
    assert (depth.encoding, depth.width, depth.height, depth.step) == ("16UC1", W, H, 2 * W)
    frames = {m.header.frame_id for m in (color, depth, info, got["depth_info"][-1])}
    assert frames == {"camera_color_optical_frame"}
    assert rgb_from_image(color).std() > 5  # a rendered scene, not a blank image

    # CameraInfo = the scene camera scaled from 640x480 to 160x120 (pixel centres at integers)
    cam = SceneConfig.default().camera
    k = intrinsics_from_camera_info(info)
    assert (k.width, k.height) == (W, H)
    np.testing.assert_allclose([k.fx, k.fy, k.cx, k.cy],
                               [cam.fx / 4, cam.fy / 4, (cam.cx + 0.5) / 4 - 0.5, (cam.cy + 0.5) / 4 - 0.5])
    assert info == got["depth_info"][-1] or info.k.tolist() == got["depth_info"][-1].k.tolist()

    # depth + labels of one frame (same stamp) back-projected into the base frame land on the mug
    stamp = (depth.header.stamp.sec, depth.header.stamp.nanosec)
    labels = next(m for m in got["objects"] if (m.header.stamp.sec, m.header.stamp.nanosec) == stamp)
    assert labels.encoding == "32SC1"
    objects = json.loads(names[0].data)["objects"]
    mug = [o["name"] for o in objects].index("mug_0000")
    assert objects[mug]["category"] == "mug" and set(objects[mug]["parts"]) == {"body", "handle"}
    z = depth_m_from_image(depth)  # (H, W) metres
    ids = array_from_image(labels)  # (H, W) int32
    v, u = np.nonzero((ids == mug) & (z > 0))
    assert len(u) > 20
    p_cam = np.stack([(u - k.cx) / k.fx * z[v, u], (v - k.cy) / k.fy * z[v, u], z[v, u]], axis=1)  # (N, 3)
    p_base = p_cam @ cam.T_base_camera[:3, :3].T + cam.T_base_camera[:3, 3]  # (N, 3)
    placed = SceneConfig.default().objects[0]
    assert placed.category == "mug"
    assert np.linalg.norm(p_base[:, :2].mean(0) - [placed.x_m, placed.y_m]) < 0.06
    assert p_base[:, 2].min() > -0.01 and p_base[:, 2].max() < 0.2  # on the table, mug-sized
    assert np.all(z[ids >= 0] > 0)  # every labelled pixel has valid depth

    js = got["joints"][-1]
    assert list(js.name[:7]) == [f"joint{i}" for i in range(1, 8)] and len(js.name) == 23
    np.testing.assert_allclose(js.position[:7], SceneConfig.default().robot.arm_joints_rad, atol=0.05)
