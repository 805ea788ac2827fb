"""The held decision from the hand's own reading (ifgrasp.pipeline.hold): fingers stopped short of
their squeeze targets by an object are held, fingers that reached them are not; motor current and
the camera's view of the object after the lift must agree where they are measured."""

import numpy as np
import pytest

from ifgrasp.hand.joints import CLOSING_MASK, FINGERS, JOINTS, squeezed
from ifgrasp.pipeline.hold import HoldCheck, cloud_height_m, verify_hold

GRASP = np.full(16, 0.6)
TARGET = squeezed(GRASP)


def blocked_reading(fingers=("thumb", "index"), short_rad=0.12):
    """Joint positions (16,) where the closing joints of ``fingers`` stop ``short_rad`` before the target."""
    q = TARGET.copy()
    for i, j in enumerate(JOINTS):
        if j.finger in fingers and CLOSING_MASK[i]:
            q[i] -= short_rad
    return q


def test_fingers_stopped_by_the_object_mean_held():
    v = verify_hold(TARGET, blocked_reading())
    assert v.held and v.blocked.tolist() == [f in ("thumb", "index") for f in FINGERS]
    assert "2 of 4 fingers" in v.evidence and "thumb 0.12" in v.evidence


def test_fingers_that_reached_their_targets_mean_dropped():
    v = verify_hold(TARGET, TARGET + 0.005 * np.random.default_rng(0).standard_normal(16))
    assert not v.held and "0 of 4 fingers" in v.evidence


def test_sideways_joints_do_not_count():
    q = TARGET.copy()
    q[~CLOSING_MASK] -= 0.5  # side-to-side and thumb rotation far off: not a closing shortfall
    assert not verify_hold(TARGET, q).held


def test_current_must_agree_where_the_hand_reports_it():
    q = blocked_reading()
    assert verify_hold(TARGET, q, np.full(16, 0.3), "A").held
    v = verify_hold(TARGET, q, np.zeros(16), "A")  # no current: a finger stuck on something else, not pressing
    assert not v.held and "current" in v.evidence
    assert verify_hold(TARGET, q, np.zeros(16), "N*m").held  # forces are not currents: position only


@pytest.mark.parametrize("fingers, rise, held", [
    (("thumb", "index"), 0.11, True), (("thumb", "index"), 0.01, False),  # pinched but pivoting on the table
    ((), 0.11, True),  # hooked by the handle: no finger blocked, yet up in the hand
])
def test_where_the_camera_sees_the_object_its_rise_decides(fingers, rise, held):
    v = verify_hold(TARGET, blocked_reading(fingers), rise_m=rise)
    assert v.held == held and "cm higher" in v.evidence and "fingers stopped short" in v.evidence


def test_wrist_load_where_there_is_a_sensor():
    assert not verify_hold(TARGET, blocked_reading(), wrist_load_n=0.2, check=HoldCheck(min_load_n=1.0)).held
    assert verify_hold(TARGET, blocked_reading(), wrist_load_n=2.5).held


def test_bottom_height_in_the_base_frame():
    T = np.eye(4)
    T[:3, :3] = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]  # camera y down = base -z
    T[2, 3] = 0.5
    pts = np.array([[0, y, 1] for y in np.linspace(0.1, 0.3, 101)])
    assert cloud_height_m(pts, T) == pytest.approx(0.5 - 0.2, abs=1e-6)  # the median
    assert cloud_height_m(pts, T, q=10.0) == pytest.approx(0.5 - 0.28, abs=1e-6)
