"""numpy <-> ROS message conversions round-trip and agree with independent references."""

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

pytest.importorskip("ifgrasp_interfaces", reason="ROS 2 workspace not built: run scripts/install.sh")

from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from sensor_msgs.msg import Image, PointCloud2, PointField  # noqa: E402

from ifgrasp.errors import InputError  # noqa: E402
from ifgrasp.types import CameraIntrinsics, GraspBatch, ObjectCloud  # noqa: E402
from ifgrasp_interfaces.msg import GraspCandidates  # noqa: E402
from ifgrasp_ros import conversions as cv  # noqa: E402

finite = st.floats(-10.0, 10.0, allow_nan=False, width=32)
quats = arrays(np.float64, 4, elements=st.floats(-1, 1)).filter(lambda q: np.linalg.norm(q) > 0.1)


def rot_from_quat_reference(q):
    """Textbook unit-quaternion (x, y, z, w) -> rotation matrix, written out."""
    x, y, z, w = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def header(frame="camera_color_optical_frame", t=12.5):
    return cv.make_header(frame, t)


@given(quats, arrays(np.float64, 3, elements=st.floats(-5, 5)))
def test_pose_round_trip_and_reference(q, t):
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = rot_from_quat_reference(q), t
    pose = cv.pose_from_matrix(T)
    got = np.array([pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w])
    assert got[3] >= 0 and np.isclose(np.linalg.norm(got), 1.0)
    qn = q / np.linalg.norm(q)
    assert np.allclose(got, qn, atol=1e-7) or np.allclose(got, -qn, atol=1e-7)  # q and -q: same rotation
    np.testing.assert_allclose(cv.matrix_from_pose(pose), T, atol=1e-9)
    np.testing.assert_allclose(cv.matrix_from_quat_xyzw(q), rot_from_quat_reference(q), atol=1e-12)


def test_batched_quaternions_equal_looped():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(5, 7, 4))
    R = cv.matrix_from_quat_xyzw(q)  # (5, 7, 3, 3)
    assert R.shape == (5, 7, 3, 3)
    for i, j in np.ndindex(5, 7):
        np.testing.assert_allclose(R[i, j], rot_from_quat_reference(q[i, j]), atol=1e-12)
    np.testing.assert_allclose(cv.matrix_from_quat_xyzw(cv.quat_xyzw_from_matrix(R)), R, atol=1e-12)
    with pytest.raises(InputError, match="zero length"):
        cv.matrix_from_quat_xyzw(np.zeros(4))


@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 7), st.data())
def test_rgb_and_depth_images_round_trip_with_row_padding(h, w, pad, data):
    rgb = data.draw(arrays(np.uint8, (h, w, 3)))
    msg = cv.image_from_rgb(rgb, header())
    assert (msg.encoding, msg.height, msg.width, msg.step) == ("rgb8", h, w, 3 * w)
    np.testing.assert_array_equal(cv.rgb_from_image(round_trip(msg)), rgb)
    # a producer that pads rows (step > width * 3) and sends bgr8
    padded = np.zeros((h, 3 * w + pad), np.uint8)
    padded[:, : 3 * w] = rgb[:, :, ::-1].reshape(h, 3 * w)
    bgr = Image(height=h, width=w, encoding="bgr8", step=3 * w + pad, data=padded.tobytes())
    np.testing.assert_array_equal(cv.rgb_from_image(bgr), rgb)

    depth = data.draw(arrays(np.float32, (h, w), elements=st.floats(0.0, 9.0, width=32)))
    dmsg = cv.image_from_depth_m(depth, header())
    assert (dmsg.encoding, dmsg.step) == ("16UC1", 2 * w)
    mm = np.frombuffer(bytes(dmsg.data), "<u2").reshape(h, w)  # independent decode
    scaled = depth.astype(np.float64) * 1000
    ref = np.floor(scaled + 0.5).clip(0, 65535)  # round half up; rint may differ only on exact ties
    assert np.all(np.abs(mm - ref) <= (scaled % 1 == 0.5))
    np.testing.assert_allclose(cv.depth_m_from_image(dmsg), depth, atol=0.0005 + 1e-6)


def round_trip(msg):
    return deserialize_message(serialize_message(msg), type(msg))


def test_image_errors_name_the_problem():
    with pytest.raises(InputError, match="known: .*rgb8"):
        cv.image_from_array(np.zeros((2, 2, 3), np.uint8), "yuv422", header())
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        cv.image_from_rgb(np.zeros((2, 2)), header())
    short = Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(10))
    with pytest.raises(InputError, match="too short"):
        cv.rgb_from_image(short)
    with pytest.raises(InputError, match="not a depth encoding"):
        cv.depth_m_from_image(cv.image_from_rgb(np.zeros((2, 2, 3), np.uint8), header()))


def test_camera_info_round_trip():
    k = CameraIntrinsics(width=640, height=480, fx=615.0, fy=616.0, cx=319.5, cy=239.5)
    info = round_trip(cv.camera_info_from_intrinsics(k, header()))
    assert cv.intrinsics_from_camera_info(info) == k
    np.testing.assert_allclose(np.reshape(info.p, (3, 4))[:, :3], k.K)
    assert info.header.frame_id == "camera_color_optical_frame" and info.distortion_model == "plumb_bob"


@given(arrays(np.float32, st.tuples(st.integers(0, 40), st.just(3)), elements=finite), st.data())
def test_cloud_round_trip_with_part_field(points, data):
    part = data.draw(arrays(bool, len(points)))
    msg = round_trip(cv.cloud_from_points(points, part, header("link_base")))
    assert [f.name for f in msg.fields] == ["x", "y", "z", "part"] and msg.point_step == 16
    pts, mask = cv.points_from_cloud(msg)
    np.testing.assert_array_equal(pts, points)
    np.testing.assert_array_equal(mask, part)
    # independent decode of point i with struct
    for i in range(min(len(points), 3)):
        x, y, z, p = struct.unpack_from("<fffB", bytes(msg.data), 16 * i)
        assert (x, y, z, bool(p)) == (*points[i].tolist(), bool(part[i]))


def test_foreign_big_endian_cloud_without_part():
    """A cloud from another producer: big-endian, x y z + rgb, 20-byte points, no part field."""
    pts = np.array([[1.0, 2.0, 3.0], [-0.5, 0.25, 4.0]], np.float32)
    data = b"".join(struct.pack(">fffIxxxx", *p, 0xFF0000) for p in pts)
    fields = [PointField(name=n, offset=o, datatype=PointField.FLOAT32, count=1)
              for n, o in (("x", 0), ("y", 4), ("z", 8))]
    fields.append(PointField(name="rgb", offset=12, datatype=PointField.UINT32, count=1))
    msg = PointCloud2(height=1, width=2, fields=fields, is_bigendian=True, point_step=20, row_step=40, data=data)
    got, mask = cv.points_from_cloud(msg)
    np.testing.assert_array_equal(got, pts)
    assert mask is None
    with pytest.raises(InputError, match="no field"):
        cv.points_from_cloud(PointCloud2(fields=fields[:2], point_step=8))


def test_object_cloud_message_round_trip():
    rng = np.random.default_rng(1)
    oc = ObjectCloud(points_m=rng.normal(size=(50, 3)).astype(np.float32), part_mask=rng.random(50) < 0.3,
                     frame="link_base", object_name="mug", part_name="handle")
    back = cv.object_cloud_from_msg(round_trip(cv.object_cloud_to_msg(oc, header("link_base"))))
    np.testing.assert_array_equal(back.points_m, oc.points_m)
    np.testing.assert_array_equal(back.part_mask, oc.part_mask)
    assert (back.frame, back.object_name, back.part_name) == ("link_base", "mug", "handle")


@given(st.integers(0, 6), st.integers(0, 2**31 - 1))
def test_grasp_batch_round_trip(b, seed):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(b, 4))
    batch = GraspBatch(wrist_pos_m=rng.normal(size=(b, 3)), wrist_rot=cv.matrix_from_quat_xyzw(q).reshape(b, 3, 3),
                       joints_rad=rng.uniform(-1, 2, (b, 16)), frame="link_base",
                       scores=rng.random(b).astype(np.float32).astype(np.float64),
                       extras={"part_contact_share": rng.random(b).astype(np.float32).astype(np.float64)})
    msg = round_trip(cv.grasp_candidates_from_batch(batch, header("link_base"), "mug", "handle"))
    assert isinstance(msg, GraspCandidates) and len(msg.grasps) == b
    assert all(g.part_name == "handle" and g.header.frame_id == "link_base" for g in msg.grasps)
    back = cv.batch_from_grasp_candidates(msg)
    assert back.frame == "link_base" and len(back) == b
    np.testing.assert_allclose(back.wrist_pos_m, batch.wrist_pos_m)
    np.testing.assert_allclose(back.wrist_rot, batch.wrist_rot, atol=1e-12)
    np.testing.assert_allclose(back.joints_rad, batch.joints_rad)
    np.testing.assert_allclose(back.scores, batch.scores)
    np.testing.assert_allclose(back.extras["part_contact_share"], batch.extras["part_contact_share"])
    np.testing.assert_allclose(back.T_frame_wrist, batch.T_frame_wrist, atol=1e-12)


def test_unscored_batch_sends_nan_score_and_no_nan_share():
    batch = GraspBatch(wrist_pos_m=np.zeros((1, 3)), wrist_rot=np.eye(3)[None], joints_rad=np.zeros((1, 16)))
    g = cv.grasp_candidates_from_batch(batch, header("object")).grasps[0]
    assert np.isnan(g.score) and g.part_contact_share == 0.0  # the message says [0, 1]: 0 = no estimate
    nan_share = GraspBatch(wrist_pos_m=np.zeros((1, 3)), wrist_rot=np.eye(3)[None], joints_rad=np.zeros((1, 16)),
                           extras={"part_contact_share": np.array([np.nan])})
    assert cv.grasp_candidates_from_batch(nan_share, header("object")).grasps[0].part_contact_share == 0.0
    assert g.wrist_pose.orientation.w == 1.0


# --- the stage services' conversions -----------------------------------------------------------------
@given(quats, arrays(np.float64, 3, elements=st.floats(-5, 5)))
def test_transform_round_trip(q, t):
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = rot_from_quat_reference(q), t
    tf = round_trip(cv.transform_from_matrix(T))
    assert (tf.translation.x, tf.translation.y, tf.translation.z) == tuple(t)
    np.testing.assert_allclose(cv.matrix_from_transform(tf), T, atol=1e-9)


@given(st.integers(1, 30), st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_joint_trajectory_round_trip(n, j, seed):
    rng = np.random.default_rng(seed)
    t = np.concatenate([[0.0], np.cumsum(rng.uniform(1e-3, 3.0, n - 1))])  # (T,) increasing
    q = rng.uniform(-3, 3, (n, j))
    names = [f"joint{i}" for i in range(1, j + 1)]
    msg = round_trip(cv.joint_trajectory_to_msg(t, q, names))
    assert list(msg.joint_names) == names and len(msg.points) == n
    # independent: time_from_start written out by hand
    for k in range(n):
        d = msg.points[k].time_from_start
        assert abs(d.sec + d.nanosec * 1e-9 - t[k]) <= 1e-9 and 0 <= d.nanosec < 1_000_000_000
    t2, q2 = cv.joint_trajectory_from_msg(msg)
    np.testing.assert_allclose(t2, t, atol=1e-9)
    np.testing.assert_array_equal(q2, q)


words = st.lists(st.sampled_from(["handle", "body", "blade", "red", "left", "spout"]), max_size=3).map(tuple)


@given(st.text(max_size=30), st.sampled_from(["mug", "knife", "teapot"]), st.sampled_from(["handle", "body"]),
       st.booleans(), words, words, words, words, st.sampled_from(["pick", "handover", "use"]))
def test_grounded_instruction_round_trip(text, obj, part, default, contact, avoid, attrs, rels, intent):
    from ifgrasp.grounding import GroundedInstruction

    from ifgrasp_ros.stage_conversions import grounded_from_msg, grounded_to_msg

    g = GroundedInstruction(text=text, category=obj, part=part, part_is_default=default, contact_parts=contact,
                            avoid_parts=avoid, attributes=attrs, relations=rels, intent=intent, other_objects=avoid)
    assert grounded_from_msg(round_trip(grounded_to_msg(g))) == g


def test_parsed_instruction_round_trip():
    from ifgrasp.grounding import parse_instruction

    from ifgrasp_ros.stage_conversions import grounded_from_msg, grounded_to_msg

    g = parse_instruction("hand me the red knife on the left, don't touch the blade")
    assert g.avoid_parts == ("blade",) and g.attributes and g.relations
    assert grounded_from_msg(round_trip(grounded_to_msg(g))) == g


def test_grasp_plan_round_trip_through_the_plan_response():
    from ifgrasp.planning import GraspPlan
    from ifgrasp.planning.trajectory import time_parametrize

    from ifgrasp_interfaces.srv import PlanGrasp
    from ifgrasp_ros.stage_conversions import ARM_JOINTS, plan_from_response, plan_to_response

    rng = np.random.default_rng(3)
    wps = rng.uniform(-1, 1, (3, 7))  # current, pre-grasp, grasp
    approach = time_parametrize(wps, np.full(7, 1.0), np.full(7, 2.0))
    lift = time_parametrize(np.stack([wps[-1], wps[-1] + 0.1]), np.full(7, 1.0), np.full(7, 2.0))
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = cv.matrix_from_quat_xyzw(rng.normal(size=4)), [0.45, 0.02, 0.12]
    plan = GraspPlan(approach, lift, 5, wps[1], wps[2], wps[2] + 0.1, T, rng.uniform(0, 1, 16))
    back = plan_from_response(round_trip(plan_to_response(plan, PlanGrasp.Response())))
    assert back.candidate == 5 and back.approach.joint_names == ARM_JOINTS
    for a, b in ((back.approach, plan.approach), (back.lift, plan.lift)):
        np.testing.assert_allclose(a.times_s, b.times_s, atol=1e-9)
        np.testing.assert_array_equal(a.q, b.q)
        np.testing.assert_array_equal(a.waypoint_index, b.waypoint_index)
    for name in ("q_pregrasp", "q_grasp", "q_lift", "hand_joints_rad"):
        np.testing.assert_array_equal(getattr(back, name), getattr(plan, name))
    np.testing.assert_allclose(back.T_base_hand, plan.T_base_hand, atol=1e-12)
