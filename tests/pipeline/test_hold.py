"""The held decision from the hand's own reading (ifgrasp.pipeline.hold): fingers stopped short of
their squeeze targets by an object are held, fingers that reached them are not; motor current and
the camera's view of the object after the lift must agree where they are measured."""

import numpy as np
import pytest

from ifgrasp.hand.joints import CLOSING_MASK, FINGERS, JOINTS, squeezed
from ifgrasp.pipeline.hold import HoldCheck, camera_low_rise_m, camera_rise_m, cloud_height_m, verify_hold

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


def mug_wall(rng, n=2000, radius_m=0.04, height_m=0.10):
    """The near half of a standing cylinder's wall (N, 3), base frame, on the table at x 0.5 m."""
    th, z = rng.uniform(-np.pi / 2, np.pi / 2, n), rng.uniform(0.0, height_m, n)
    return np.c_[0.5 - radius_m * np.cos(th), radius_m * np.sin(th), z]


def test_an_unmoved_object_whose_lower_part_the_hand_hides_has_not_risen():
    """The false "held" of issue 24 (mug by its body, did not move, the median read +6.3 cm): the
    lifted hand hid the mug's lower part, so the visible points' median rose; their top did not."""
    pts = mug_wall(np.random.default_rng(0))
    after = pts[pts[:, 2] > 0.09]  # the same points, all but the rim hidden
    rise, med, top = camera_rise_m(pts, np.eye(4), after, np.eye(4))
    assert med > 0.04 and abs(top) < 0.01 and rise == top
    v = verify_hold(TARGET, blocked_reading(), rise_m=rise)  # fingers blocked by it all the same
    assert not v.held


def test_a_lifted_object_whose_top_the_hand_hides_has_risen():
    pts = mug_wall(np.random.default_rng(1))
    lifted = pts + [0.0, 0.0, 0.11]
    after = lifted[lifted[:, 2] < 0.11 + 0.07]  # the hand over the top 3 cm
    rise, med, top = camera_rise_m(pts, np.eye(4), after, np.eye(4))
    assert 0.07 < rise < 0.11 and verify_hold(TARGET, blocked_reading(), rise_m=rise).held
    stray = np.r_[pts, np.c_[np.full((300, 2), [0.5, 0.0]), np.full(300, 0.2)]]  # hand points above an unmoved mug
    assert camera_rise_m(pts, np.eye(4), stray, np.eye(4))[0] < 0.04


def mug_with_handle(rng, n=3000, n_handle=400):
    """The near half of a standing mug's wall plus its handle (an arc on the +y side), base frame;
    and the handle's centre, where the hand grasps it."""
    th, z = rng.uniform(-np.pi / 2, np.pi / 2, n), rng.uniform(0.0, 0.10, n)
    body = np.c_[0.5 - 0.04 * np.cos(th), 0.04 * np.sin(th), z]
    a = rng.uniform(-np.pi / 2, np.pi / 2, n_handle)
    handle = np.c_[0.5 + rng.uniform(-0.005, 0.005, n_handle), 0.04 + 0.025 * np.cos(a), 0.055 + 0.025 * np.sin(a)]
    return np.r_[body, handle], np.array([0.5, 0.065, 0.055])


def rotated(pts, axis, deg, about):
    from scipy.spatial.transform import Rotation

    return (pts - about) @ Rotation.from_euler(axis, deg, degrees=True).as_matrix().T + about


def camera_reading(before, after):
    rise = camera_rise_m(before, np.eye(4), after, np.eye(4))[0]
    return rise, camera_low_rise_m(before, np.eye(4), after, np.eye(4))


def test_a_mug_sagging_from_its_handle_in_the_fingers_is_held():
    """Issue 24's false DROPPED: a mug held by its handle, lifted 12 cm, its body swung 60 deg down
    under the hand (its origin 9 cm up), the hand hiding everything within 9 cm of the grasp: the
    visible points rose 2.5 cm (< 4 cm: DROPPED before), their lowest 5.7 cm: it hangs off the table."""
    pts, grasp = mug_with_handle(np.random.default_rng(2))
    lift = np.array([0.0, 0.0, 0.12])
    carried = rotated(pts, "x", 60, grasp) + lift
    origin_rise = (rotated(np.zeros((1, 3)), "x", 60, grasp) + lift)[0, 2]
    after = carried[np.linalg.norm(carried - (grasp + lift), axis=1) > 0.09]
    rise, low = camera_reading(pts, after)
    assert 0.085 < origin_rise < 0.10 and 0.02 < rise < 0.04 and low > 0.04
    assert not verify_hold(TARGET, blocked_reading(), rise_m=rise).held  # the rise alone: DROPPED
    v = verify_hold(TARGET, blocked_reading(), rise_m=rise, low_rise_m=low)
    assert v.held and "sagging" in v.evidence
    assert not verify_hold(TARGET, blocked_reading(()), rise_m=rise, low_rise_m=low).held  # no finger holds it


@pytest.mark.parametrize("case", ["pivoting on its base edge", "knocked over", "unmoved, lower part hidden"])
def test_objects_left_on_the_table_are_dropped_though_fingers_are_blocked(case):
    """The sag rule must not turn these into "held": each keeps its lowest points on the table, or
    did not rise (a pinched object pivoting up on its base edge rises by up to 3 cm)."""
    pts, grasp = mug_with_handle(np.random.default_rng(3))
    if case == "pivoting on its base edge":
        after = rotated(pts, "x", 25, np.array([0.5, -0.04, 0.0]))  # the handle side lifted
    elif case == "knocked over":
        after = rotated(pts, "y", 90, np.array([0.5, 0.0, 0.0])) + [0.0, 0.0, 0.04]
    else:
        after = pts[pts[:, 2] > 0.07]
    rise, low = camera_reading(pts, after)
    v = verify_hold(TARGET, blocked_reading(), rise_m=rise, low_rise_m=low)
    assert not v.held, f"{case}: rise {rise:.3f} m, lowest points {low:.3f} m"
