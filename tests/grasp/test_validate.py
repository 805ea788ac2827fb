"""MuJoCo validation: a grasp that holds lifts the object with the hand; a hand that misses does
not; the mug's handle opening stays open to a finger (convex pieces, not one hull)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ifgrasp.grasp.synthesis.synthesize import SynthesisConfig, synthesize
from ifgrasp.grasp.validate import ValidationConfig, _lift_and_shake, min_jerk, shake_offset, validate
from ifgrasp.hand import LeapHandModel
from ifgrasp.hand.joints import OPEN_JOINTS_RAD
from ifgrasp.sim.objects import make_object
from ifgrasp.types import GraspBatch

FAST = ValidationConfig(lift_s=0.6, shake_s_per_axis=0.3, gravity_test_s=0.5, max_copies=16)
FAST_V1 = ValidationConfig.v1(lift_s=0.6, shake_s_per_axis=0.3, gravity_test_s=0.5, max_copies=16)


def test_hand_far_from_the_object_fails_every_test():
    obj = make_object("box", 0)
    T = np.eye(4)
    T[:3, 3] = [0.0, 0.3, 0.3]  # 30 cm away
    g = GraspBatch(T[None, :3, 3], T[None, :3, :3], OPEN_JOINTS_RAD[None], frame="object")
    r = validate(obj, g, FAST)
    assert not r.lift[0] and not r.shake[0] and not r.six_dir[0]
    assert r.six_dir_held.shape == (1, 6) and not r.six_dir_held.any()  # never lifted: no push was held
    assert r.lift_displacement_m[0] > 0.75 * FAST.lift_height_m  # the object stayed on the table
    assert r.label[0] == 0.0


@pytest.mark.slow
def test_synthesised_cylinder_grasps_lift_it_under_the_v1_judge():
    """The v1 judge stays reachable (side-by-side numbers). Under v2 (the real hand's 0.18-0.28 N m and
    TPU friction, motion from before closing) these short-optimised grasps lift 0 of 8."""
    FAST = FAST_V1  # noqa: N806
    hand = LeapHandModel(n_surface_points=300)
    obj = make_object("cylinder", 0)
    g = synthesize(hand, obj, "body", (), SynthesisConfig(batch=8).replace(refine={"steps": 120}), seed=0)
    r = validate(obj, g, FAST, six_dir=False, part="body")
    assert r.lift.sum() >= 2  # measured 5/8 with these seeds
    held = r.lift
    assert np.all(r.lift_displacement_m[held] < FAST.success_displacement_m)
    assert np.all(r.part_force_share[held] == pytest.approx(1.0))  # a cylinder has one part
    # the perturbed copies stop after the lift: the same lift verdicts and displacements as with the shake
    lift_only = _lift_and_shake(obj, g, FAST, shake=False)
    np.testing.assert_array_equal(lift_only["lift"], r.lift)
    np.testing.assert_allclose(lift_only["lift_disp"], r.lift_displacement_m)


@settings(deadline=None, max_examples=30)
@given(periods=st.floats(1.0, 4.0), frequency_hz=st.floats(0.5, 5.0))
def test_hand_motions_start_and_end_at_rest(periods, frequency_hz):
    """The lift and the shake move the hand like an arm would: no jump to full speed, which
    jerked the hand at 40-60 m/s^2 and shook good grasps loose."""
    duration_s = periods / frequency_hz
    dt = 1e-4
    t = np.arange(0.0, duration_s + dt / 2, dt)
    x = shake_offset(t, duration_s, frequency_hz)
    v = np.gradient(x, dt)
    peak_speed = 2 * np.pi * frequency_hz  # of a plain unit sine
    assert abs(x[0]) < 1e-9 and abs(x[-1]) < 1e-6 and np.all(np.abs(x) <= 1.0 + 1e-9)
    assert abs(v[0]) < 0.02 * peak_speed and abs(v[-1]) < 0.02 * peak_speed
    a = np.gradient(v, dt)
    assert np.abs(a).max() < 4 * peak_speed**2  # bounded: a sine's own peak is peak_speed^2
    s = min_jerk(np.linspace(0, 1, 101))
    assert s[0] == 0 and s[-1] == 1 and np.all(np.diff(s) >= 0)


def test_shake_reaches_its_full_amplitude():
    t = np.linspace(0, 0.5, 5001)
    assert np.abs(shake_offset(t, 0.5, 2.0)).max() > 0.99


def test_frame_must_be_the_object_frame():
    g = GraspBatch(np.zeros((1, 3)), np.eye(3)[None], OPEN_JOINTS_RAD[None], frame="camera")
    with pytest.raises(ValueError, match="object frame"):
        validate(make_object("box", 0), g, FAST)
