"""A session on the MuJoCo scene with the trained student (in-process, no ROS): grasp the mug by its
body and know it is held from the hand's own reading (the simulator's ground truth only checks
that); a grasp while holding says so; "put it back" sets it down where it stood, opens the hand
and goes home; the next grasp then runs with no manual recover. The neighbours should stay where they stand."""

import numpy as np
import pytest

from ifgrasp.paths import MODELS_DIR
from ifgrasp.pipeline import ErrorCode, PipelineRequest

STUDENT = MODELS_DIR / "student" / "student_flow.pt"  # the default generator
pytestmark = pytest.mark.skipif(not STUDENT.is_file(), reason="trained student models/student/student_flow.pt missing")


@pytest.fixture(scope="module")
def student():
    from ifgrasp.pipeline.generator import make_generator

    return make_generator("diffusion", model_path=str(STUDENT))


def poses(world) -> dict[str, np.ndarray]:
    with world.lock:
        world.arm.read_state()
        return {n: T.copy() for n, T in zip(world.scene.object_names, world.scene.object_poses())}


def test_grasp_holding_put_back_then_the_next_grasp(world, student):
    world.reset()
    pipe = world.pipeline(student, k=16)
    start = poses(world)
    q_home = world.arm_q()
    # by its body: the student's handle grasps on this scene mostly slip off or tip the mug over
    # (docs/experiments.md, issue 24 leftovers); the session, not the grasp, is under test here
    res = pipe.run(PipelineRequest("pick up the mug by its body"))
    mug = next(n for n in start if n.startswith("mug"))
    lifted = poses(world)[mug][2, 3] - start[mug][2, 3]
    assert res.success and res.held and res.error_code == ErrorCode.OK, res.message
    assert lifted > 0.08, f"held decided, but the simulator says the mug rose {lifted:.3f} m"
    assert "fingers stopped short" in res.evidence and "cm higher" in res.evidence
    assert list(res.stage_latencies_s)[-1] == "verify"

    again = pipe.run(PipelineRequest("pick up the spray bottle by its body"))
    assert again.error_code == ErrorCode.HOLDING and "holds the mug" in again.message and "put it back" in again.message

    fb = []
    back = pipe.run(PipelineRequest("put it back"), fb.append)
    assert back.success and back.task == "place" and not back.held, back.message
    assert [f.stage for f in fb if f.stage_progress == 0] == ["place", "release", "home"]
    end = poses(world)[mug]
    assert np.linalg.norm(end[:2, 3] - start[mug][:2, 3]) < 0.04 and abs(end[2, 3] - start[mug][2, 3]) < 0.02
    assert np.abs(world.arm_q() - q_home).max() < 0.03  # home
    assert np.abs(world.hand.read_state().position_rad - world.hand.q_open_rad).max() < 0.1  # open

    nothing = pipe.run(PipelineRequest("put it back"))
    assert nothing.error_code == ErrorCode.NOT_HOLDING and "holds nothing" in nothing.message

    nxt = pipe.run(PipelineRequest("grab the spray bottle by its body"))
    assert nxt.error_code in (ErrorCode.OK, ErrorCode.DROPPED), nxt.message  # it ran to the end: no recover needed
    assert "verify" in nxt.stage_latencies_s


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_neighbours_stay_put(student, seed):
    from ifgrasp.pipeline.sim import SimWorld
    from ifgrasp.sim.scene_config import SceneConfig

    cfg = SceneConfig.default()
    cfg = cfg.replace(objects=[{**o.model_dump(), "seed": o.seed + seed} for o in cfg.objects])
    world = SimWorld.build(cfg, 320, 240)
    try:
        start = poses(world)
        res = world.pipeline(student, k=16).run(PipelineRequest("pick up the mug by its handle"))
        assert "execute" in res.stage_latencies_s, res.message
        moved = {n: float(np.linalg.norm(T[:3, 3] - start[n][:3, 3])) for n, T in poses(world).items()
                 if not n.startswith("mug")}
        assert max(moved.values()) < 0.02, moved
    finally:
        world.close()
