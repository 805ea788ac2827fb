"""The perception node alone on the simulated camera (sim_world, oracle backend), as sim.launch.xml
starts both: a Perceive request for the mug's handle answers a cloud on the handle, and the part
mask and debug overlay it publishes are pixel-aligned with the colour image; an unknown object, or
an unknown part, or a known object that is not in view, fails with a clear message and its error code.

References independent of the node: the simulator's own label images (same stamp as the mask),
the CameraInfo intrinsics (projecting the cloud back into the image), and the mug's pose in the
scene config.
"""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ifgrasp_interfaces", reason="ROS 2 workspace not built: run scripts/install.sh")

from ifgrasp_ros.conversions import array_from_image, matrix_from_transform, object_cloud_from_msg  # noqa: E402
from ifgrasp_ros.conversions import points_from_cloud  # noqa: E402
from ifgrasp_ros.launch_xml import parse_launch  # noqa: E402
from ifgrasp_ros.stage_conversions import grounded_to_msg  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from ifgrasp.pipeline import ErrorCode, ground  # noqa: E402
from ifgrasp.sim.scene_config import SceneConfig  # noqa: E402
from ifgrasp_interfaces.msg import GroundedInstruction, ObjectCloud  # noqa: E402
from ifgrasp_interfaces.srv import Perceive  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SIM_LAUNCH = REPO / "launch" / "sim.launch.xml"


def stamp(msg):
    return (msg.header.stamp.sec, msg.header.stamp.nanosec)


@pytest.fixture
def perception(launch, ros_node, pinned_model):
    """sim_world + perception as sim.launch.xml starts them; the probe keeps every image it sees."""
    _, nodes = parse_launch(SIM_LAUNCH, {"model_path": str(pinned_model)})
    procs = [launch(n.pkg, n.exe, args=n.ros_args()) for n in nodes if n.name in ("sim_world", "perception")]
    assert len(procs) == 2
    node, seen = ros_node.node, {"color": {}, "objects": {}, "parts": {}}
    for key, topic in (("color", "/camera/camera/color/image_raw"), ("objects", "/ifgrasp/sim/object_labels"),
                       ("parts", "/ifgrasp/sim/part_labels")):
        node.create_subscription(Image, topic, lambda m, k=key: seen[k].__setitem__(stamp(m), m), 10)
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    for key, msg_type, topic in (("mask", Image, "/ifgrasp/part_mask"), ("debug", Image, "/ifgrasp/perception/debug_image"),
                                 ("cloud", ObjectCloud, "/ifgrasp/target_cloud"),
                                 ("names", String, "/ifgrasp/sim/label_names")):
        node.create_subscription(msg_type, topic, lambda m, k=key: seen.__setitem__(k, m), latched)
    node.create_subscription(CameraInfo, "/camera/camera/color/camera_info", lambda m: seen.__setitem__("info", m), 5)
    client = node.create_client(Perceive, "/ifgrasp/perceive")
    ros_node.spin_until(lambda: client.service_is_ready() and "info" in seen, 90.0,
                        "the perception service and the camera", procs)
    return client, seen, procs


def call(ros_node, client, grounded: GroundedInstruction, procs):
    fut = client.call_async(Perceive.Request(grounded=grounded, timeout_s=10.0))
    ros_node.spin_until(fut.done, 40.0, "the Perceive response", procs)
    return fut.result()


def test_perceive_mug_handle_then_bad_requests(perception, ros_node):
    client, seen, procs = perception
    resp = call(ros_node, client, grounded_to_msg(ground("", "mug", "handle")), procs)
    assert resp.success and resp.error_code == 0, resp.message
    ros_node.spin_until(lambda: all(k in seen for k in ("mask", "debug", "cloud", "names")), 10.0,
                        "the part mask, debug image and target cloud", procs)
    mask_msg, debug_msg = seen["mask"], seen["debug"]
    ros_node.spin_until(lambda: stamp(mask_msg) in seen["objects"] and stamp(mask_msg) in seen["color"], 10.0,
                        "the labels of the perceived frame")
    color = array_from_image(seen["color"][stamp(mask_msg)])
    h, w = color.shape[:2]

    # part mask: mono8, the colour image's size, 255 exactly on the mug's handle pixels, 128 on the rest of the mug
    mask = array_from_image(mask_msg)
    assert mask_msg.encoding == "mono8" and mask.shape == (h, w) and stamp(debug_msg) == stamp(mask_msg)
    assert set(np.unique(mask).tolist()) == {0, 128, 255}
    names = json.loads(seen["names"].data)["objects"]
    mug = next(i for i, o in enumerate(names) if o["category"] == "mug")
    obj = array_from_image(seen["objects"][stamp(mask_msg)]) == mug
    part = obj & (array_from_image(seen["parts"][stamp(mask_msg)]) == names[mug]["parts"].index("handle"))
    np.testing.assert_array_equal(mask == 255, part)
    np.testing.assert_array_equal(mask == 128, obj & ~part)

    # debug overlay: rgb8, same size, tinted only on the object
    debug = array_from_image(debug_msg)
    assert debug_msg.encoding == "rgb8" and debug.shape == (h, w, 3)
    changed = np.any(debug != color, axis=2)
    background = ~obj
    background[:20] = False  # the top rows carry a caption
    assert changed[part].mean() > 0.9 and not changed[background].any()

    # target cloud (camera frame): its part points project onto the handle's pixels
    cloud = object_cloud_from_msg(resp.target)
    assert (cloud.object_name, cloud.part_name) == ("mug", "handle")
    assert resp.target.cloud.header.frame_id == "camera_color_optical_frame"
    assert object_cloud_from_msg(seen["cloud"]).points_m.shape == cloud.points_m.shape  # the latched copy
    k = np.asarray(seen["info"].k).reshape(3, 3)
    p = cloud.points_m[cloud.part_mask]  # (M, 3)
    assert len(p) >= 8
    uv = np.rint(p[:, :2] / p[:, 2:] * [k[0, 0], k[1, 1]] + [k[0, 2], k[1, 2]]).astype(int)  # (M, 2)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    assert inside.all() and part[uv[:, 1], uv[:, 0]].mean() > 0.9

    # base frame: the mug stands where the scene config puts it; the scene cloud is the table-top view
    T = matrix_from_transform(resp.t_base_camera)
    pts_base = cloud.points_m @ T[:3, :3].T + T[:3, 3]  # (N, 3)
    spec = SceneConfig.default().objects[0]
    assert spec.category == "mug"
    assert np.linalg.norm(pts_base[:, :2].mean(0) - [spec.x_m, spec.y_m]) < 0.08 and pts_base[:, 2].min() > -0.01
    scene, _ = points_from_cloud(resp.scene)
    assert resp.scene.header.frame_id == "link_base" and len(scene) > 1000 and np.median(np.abs(scene[:, 2])) < 0.05

    # bad requests (same nodes: one start for both halves keeps the suite short)
    banana = GroundedInstruction(text="the banana", object_name="banana", part_name="body")
    resp = call(ros_node, client, banana, procs)
    assert not resp.success and resp.error_code == ErrorCode.UNKNOWN_OBJECT
    assert "banana" in resp.message and "known:" in resp.message and "mug" in resp.message
    resp = call(ros_node, client, GroundedInstruction(object_name="mug", part_name="blade"), procs)
    assert not resp.success and resp.error_code == ErrorCode.UNKNOWN_PART and "handle" in resp.message
    resp = call(ros_node, client, grounded_to_msg(ground("", "hammer", "handle")), procs)  # in the vocabulary, not in view
    assert not resp.success and resp.error_code == ErrorCode.UNKNOWN_OBJECT and "hammer" in resp.message


def test_perception_refuses_to_start_without_pretrained_weights(launch):
    """robot.launch.xml's default backend on a machine without the weights: one line, exit 1."""
    _, nodes = parse_launch(REPO / "launch" / "robot.launch.xml", {})
    node = next(n for n in nodes if n.name == "perception")
    assert node.params["backend"] == "pretrained"
    if (REPO / "models" / "pretrained" / "owlv2" / "config.json").is_file():
        pytest.skip("pretrained weights are installed on this machine")
    proc = launch(node.pkg, node.exe, args=node.ros_args(), expect_exit=1)
    assert proc.wait(60.0) == 1
    assert "pretrained weights missing" in proc.stderr and "ifgrasp download-models" in proc.stderr
