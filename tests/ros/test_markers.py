"""The generator's RViz markers: per candidate three wrist-axis arrows and the fingertips, in the
candidates' frame; geometry checked against the rotation's columns and the hand model run per grasp."""

import numpy as np
import pytest

pytest.importorskip("ifgrasp_interfaces", reason="ROS 2 workspace not built: run scripts/install.sh")
pytest.importorskip("visualization_msgs", reason="visualization_msgs not installed (ros-jazzy-visualization-msgs)")

from scipy.spatial.transform import Rotation  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from ifgrasp.hand.model import LeapHandModel  # noqa: E402
from ifgrasp.types import GraspBatch  # noqa: E402
from ifgrasp_ros.conversions import make_header  # noqa: E402
from ifgrasp_ros.markers import AXIS_LENGTH_M, fingertips_m, grasp_marker_array  # noqa: E402


def xyz(p):
    return np.array([p.x, p.y, p.z])


def test_markers_show_wrist_axes_and_fingertips_of_the_top_candidates():
    rng = np.random.default_rng(0)
    b = 7
    batch = GraspBatch(rng.uniform(-0.5, 0.5, (b, 3)), Rotation.random(b, random_state=1).as_matrix(),
                       rng.uniform(0.0, 1.0, (b, 16)), frame="link_base", scores=np.arange(b, dtype=float))
    hand = LeapHandModel()
    msg = grasp_marker_array(batch, make_header("link_base", 1.0), n=3, hand=hand)
    assert msg.markers[0].action == Marker.DELETEALL and len(msg.markers) == 1 + 4 * 3
    assert all(m.header.frame_id == "link_base" for m in msg.markers)
    for i in range(3):
        arrows, tips = msg.markers[1 + 4 * i: 4 + 4 * i], msg.markers[4 + 4 * i]
        for a, m in enumerate(arrows):
            assert m.type == Marker.ARROW and m.id == 4 * i + a
            np.testing.assert_allclose(xyz(m.points[0]), batch.wrist_pos_m[i])
            np.testing.assert_allclose(xyz(m.points[1]) - xyz(m.points[0]), AXIS_LENGTH_M * batch.wrist_rot[i][:, a], atol=1e-12)
        assert tips.type == Marker.SPHERE_LIST and len(tips.points) == 4
        one = batch.select(np.array([i]))
        np.testing.assert_allclose(np.array([xyz(p) for p in tips.points]), fingertips_m(one, hand)[0], atol=1e-6)
    assert msg.markers[1].color.a > msg.markers[-1].color.a  # the best drawn most opaque
    # fingertips lie within a hand's reach of the wrist
    d = np.linalg.norm(fingertips_m(batch, hand) - batch.wrist_pos_m[:, None], axis=-1)  # (B, 4)
    assert np.all((d > 0.03) & (d < 0.25))
    empty = grasp_marker_array(batch.select(np.array([], int)), make_header("link_base", 1.0))
    assert len(empty.markers) == 1


def test_markers_reuse_one_hand_model(monkeypatch):
    """The generator node draws markers inside each request: the hand model (URDF parse, surface
    sampling, ~25 ms) is built once per process, not per request as before."""
    import ifgrasp.hand.model as model

    built = []
    init = model.LeapHandModel.__init__
    monkeypatch.setattr(model.LeapHandModel, "__init__", lambda self, *a, **k: (built.append(1), init(self, *a, **k))[1])
    monkeypatch.setattr(model, "_SHARED", None)
    batch = GraspBatch(np.zeros((2, 3)), np.stack([np.eye(3)] * 2), np.zeros((2, 16)), frame="link_base")
    for _ in range(3):
        grasp_marker_array(batch, make_header("link_base", 1.0), n=2)
    assert len(built) == 1
