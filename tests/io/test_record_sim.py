"""record_sim writes the simulator's camera streams and joint states, in simulated time."""

import numpy as np
import pytest

from ifgrasp.errors import InputError
from ifgrasp.io import bags
from ifgrasp.io.record_sim import record_sim
from ifgrasp.sim.scene_config import SceneConfig
from ifgrasp.types import CameraIntrinsics


def test_record_sim_bag(tmp_path):
    intr = CameraIntrinsics(width=80, height=60, fx=76.875, fy=76.875, cx=39.5, cy=29.5)
    summary = record_sim(tmp_path / "sim", duration_s=0.4, fps=5.0, joint_rate_hz=20.0, intrinsics=intr, t0_s=10.0)
    assert summary.counts[bags.COLOR_TOPIC] == 3 and summary.counts[bags.DEPTH_INFO_TOPIC] == 3
    assert summary.counts[bags.JOINT_STATES_TOPIC] == 9
    assert summary.start_ns == 10_000_000_000 and summary.duration_s == pytest.approx(0.4)

    frames = list(bags.read_frames(tmp_path / "sim"))
    assert [f.stamp_s for f in frames] == pytest.approx([10.0, 10.2, 10.4])
    assert frames[0].intrinsics == intr and frames[0].color.shape == (60, 80, 3)
    valid = frames[-1].depth_m[frames[-1].depth_m > 0]
    assert valid.size > 100 and 0.3 < valid.min() and 0.5 < np.median(valid) < 2.5  # table ~1 m away
    js = [bags.TYPESTORE.deserialize_cdr(m.raw_cdr, bags.JOINT_STATE)
          for m in bags.read_bag(tmp_path / "sim", [bags.JOINT_STATES_TOPIC])]
    assert len(js[0].name) == 23 and js[0].name[0] == "joint1"
    np.testing.assert_allclose(js[0].position[:7], SceneConfig.default().robot.arm_joints_rad, atol=1e-9)
    with pytest.raises(InputError, match="> 0"):
        record_sim(tmp_path / "bad", duration_s=0.0)


def test_record_sim_stamps_are_wall_clock_by_default(tmp_path):
    """A bag like a real driver's: stamps in UNIX time now, not 1970 + simulated seconds."""
    import time

    intr = CameraIntrinsics(width=40, height=30, fx=38.4, fy=38.4, cx=19.5, cy=14.5)
    before = time.time()
    summary = record_sim(tmp_path / "now", duration_s=0.2, fps=5.0, joint_rate_hz=10.0, intrinsics=intr)
    assert before - 1.0 <= summary.start_ns * 1e-9 <= time.time()
