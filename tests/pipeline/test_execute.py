"""Executing a grasp in the simulator: the closing protocol the teacher validates with (pre-shape
during the approach, a short close to the squeeze) lifts the mug by its handle, with physics that
runs through every command (the hand's close is not teleported)."""

import numpy as np
from scipy.spatial.transform import Rotation

from ifgrasp.pipeline.stages import ExecuteStage, HandActions, LiftStage
from ifgrasp.planning import GraspPlanner

# A handle grasp the committed student produced for the default scene (wrist pose in the arm base
# frame, LEAP joints in motor order): pinned so this test does not depend on sampling.
WRIST_M = [0.40730, -0.08402, 0.11332]
WRIST_XYZW = [-0.06843, -0.31421, 0.93155, 0.16972]
JOINTS_RAD = [0.3933, 0.6612, 0.7154, 0.3755, -0.0327, 0.8737, 0.4651, -0.0691,
              -0.6116, 1.0171, 0.0207, 0.6749, 1.5356, 0.2430, 0.8078, 0.5544]


def test_a_handle_grasp_lifts_the_mug_and_holds_it_by_the_handle(world):
    world.reset()
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = Rotation.from_quat(WRIST_XYZW).as_matrix(), WRIST_M
    plan = GraspPlanner().plan(world.arm_q(), T[None], np.array(JOINTS_RAD)[None], None, 0.12)
    z0 = world.object_height_m("mug")
    hands = HandActions(world.hand)
    assert ExecuteStage(world.arm, hands)(plan, lambda: False, lambda: None)
    assert LiftStage(world.arm, hands)(plan, lambda: False)
    with world.lock:
        world.arm.read_state()
        lifted = world.object_height_m("mug") - z0
        mug = next(i for i, o in enumerate(world.scene.objects) if o.category == "mug")
        parts = world.scene.robot_contacts(mug)
    assert lifted >= 0.10, f"mug lifted {lifted:.3f} m"
    handle = world.scene.objects[mug].part_index("handle")
    assert len(parts) and np.mean(parts == handle) >= 0.5, f"contact parts {parts}"


def test_the_arm_starts_at_once_while_the_hand_opens_from_a_latched_grasp(world):
    """The hand's opening (releasing a latched grasp, here a fist that caught nothing) runs during
    the approach's first samples: at the arm's first motion the hand is still closed. Before, the
    arm waited for the opening (over ROS a round trip through the hand's driver node: part of the
    command -> first motion latency). The hand still opens and reaches its pre-shape."""
    from ifgrasp.hand.joints import pregrasp

    world.reset()
    hands = HandActions(world.hand)
    hands.close(np.full(16, 1.2), lambda: False)  # latched
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = Rotation.from_quat(WRIST_XYZW).as_matrix(), WRIST_M
    T[2, 3] += 0.10  # a grasp in the air: nothing touches the hand
    plan = GraspPlanner().plan(world.arm_q(), T[None], np.array(JOINTS_RAD)[None], None, 0.12)
    at_motion, seen = [], []

    def on_motion():
        at_motion.append(world.read_hand()[0])

    def progress(frac):
        seen.append(world.read_hand()[0])

    assert ExecuteStage(world.arm, hands)(plan, lambda: False, on_motion, progress)
    world.reset()
    assert np.median(at_motion[0]) > 0.8, f"hand at the first motion {np.round(at_motion[0], 2)}"
    shaped = pregrasp(np.array(JOINTS_RAD))
    # (as from an open hand: two joints stop short of this grasp's pre-shape, 0.19 and 0.35 rad, either way)
    err = min(np.median(np.abs(q - shaped)) for q in seen)
    assert err < 0.02, f"the hand never reached its pre-shape (closest median {err:.3f} rad, {len(seen)} readings)"
