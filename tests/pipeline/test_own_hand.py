"""The robot's own hand in the camera's view is not an obstacle: fingers left closed (a grasp that
caught nothing, or a scene reset that closed the hand again) are dropped from the scene cloud at
the hand's measured joints, and a scene reset leaves the hand open. Before, 4 of 10 ROS commands
after `ifgrasp ask --reset-sim` ended UNREACHABLE ("approach to pre-grasp" for every candidate):
the reset hand closed again on nothing, and the planner's open-hand sphere cover kept the curled
fingers' points as obstacles around the moving hand (docs/experiments.md, issue 24, fourth session)."""

import time

import numpy as np
import pytest

from ifgrasp.paths import MODELS_DIR
from ifgrasp.pipeline import ErrorCode, PipelineRequest
from ifgrasp.pipeline.stages import HandActions

STUDENT = MODELS_DIR / "student" / "student_flow.pt"
FIST = np.full(16, 1.2)  # every joint closed far past any object: what a grasp on nothing ends at


def close_on_nothing(world) -> None:
    world.reset()
    HandActions(world.hand).close(FIST, lambda: False)  # latched, like the execute stage's squeeze


def settle(world, seconds: float = 1.0) -> np.ndarray:
    """The hand's measured joints (16,) after ``seconds`` of (virtual real) time with no command."""
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        world.read_hand()
        time.sleep(0.02)
    return world.read_hand()[0]


def test_a_scene_reset_leaves_a_hand_that_held_a_grasp_open(world):
    close_on_nothing(world)
    assert np.median(settle(world, 0.3)) > 0.5  # closed (joints reach ~0.9-1.2 rad)
    world.reset()
    q = settle(world)
    # before: the latched hold on recover kept the squeeze goal, one 0.25 rad step from open
    assert np.abs(q - world.hand.q_open_rad).max() < 0.02, f"hand after reset {np.round(q, 2)}"


@pytest.mark.skipif(not STUDENT.is_file(), reason="trained student models/student/student_flow.pt missing")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_hand_left_closed_does_not_make_every_grasp_unreachable(world, seed):
    from ifgrasp.pipeline.generator import make_generator

    close_on_nothing(world)
    pipe = world.pipeline(make_generator("diffusion", model_path=str(STUDENT), seed=seed))
    res = pipe.run(PipelineRequest("pick up the mug by its handle"), execute=False)
    world.reset()
    # before: UNREACHABLE, "approach to pre-grasp" for all 16 candidates (the fingers' own points)
    assert res.success and res.error_code == ErrorCode.OK, res.message


def test_without_a_hand_reading_the_plan_goes_on(world, topdown):
    """A graph that hears no hand (a replayed bag of the arm only) plans as before: the own-hand
    filter is skipped, not the command failed."""
    from ifgrasp.pipeline.errors import StageTimeoutError

    def no_hand():
        raise StageTimeoutError("no fresh /joint_states with joints if_mcp..thumb_dip within 0.0 s", "/joint_states")

    pipe = world.pipeline(topdown, k=2)
    pipe.read_hand = no_hand
    res = pipe.run(PipelineRequest("pick up the mug by its handle"), execute=False)
    assert res.success, res.message
