"""Generator registry and the checkpoint loader (a tiny random GraspDiffusion saved by the test);
benchmark rows from pipeline results."""

import math

import numpy as np
import pytest

from ifgrasp.errors import ConfigError, ModelError
from ifgrasp.pipeline import ErrorCode, PipelineResult, generator_names, make_generator
from ifgrasp.pipeline.bench import stage_stats
from ifgrasp.pipeline.checkpoint import save_checkpoint
from ifgrasp.types import ObjectCloud


def tiny_model():
    from ifgrasp.grasp.diffusion.policy import GraspDiffusion

    return GraspDiffusion(n_basis=16, radius_m=0.15, width=32, depth=1, num_train_steps=10)


def test_checkpoint_round_trip(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = tiny_model()
    path = save_checkpoint(model, tmp_path / "student.pt")
    gen = make_generator("checkpoint", model_path=str(path), steps=3, seed=1)
    rng = np.random.default_rng(0)
    pts = (rng.normal(scale=0.03, size=(200, 3)) + [0, 0, 0.6]).astype(np.float32)
    cloud = ObjectCloud(pts.astype(np.float32), pts[:, 0] > 0, frame="camera", object_name="mug", part_name="handle")
    batch = gen.generate(cloud, 5)
    assert len(batch) == 5 and batch.frame == "camera"
    np.testing.assert_allclose(np.linalg.det(batch.wrist_rot), 1.0, atol=1e-4)
    # same as sampling the saved model directly with the same noise
    noise = torch.randn((5, 25), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        pos, _, joints = model.eval().sample(torch.as_tensor(pts[None]), torch.as_tensor((pts[:, 0] > 0)[None]).float(),
                                             noise, 3)
    np.testing.assert_allclose(batch.wrist_pos_m, pos.numpy(), atol=1e-5)
    np.testing.assert_allclose(batch.joints_rad, joints.numpy(), atol=1e-5)


def test_missing_model_and_unknown_backend(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        make_generator("checkpoint", model_path=str(tmp_path / "none.pt"))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot load"):
        make_generator("checkpoint", model_path=str(tmp_path / "bad.pt"))
    with pytest.raises(ConfigError, match="known: " + ", ".join(generator_names())):
        make_generator("nope")


def test_stage_stats_rows():
    ok = PipelineResult(True, ErrorCode.OK, "", stage_latencies_s={"ground": 0.001, "perceive": 0.2}, command_to_motion_s=0.5)
    failed = PipelineResult(False, ErrorCode.UNKNOWN_OBJECT, "", "ground", stage_latencies_s={"ground": 0.003})
    stats = {s.name: s for s in stage_stats([ok, failed, ({"ground": 0.002}, math.nan)])}
    assert stats["ground"].median_s == pytest.approx(0.002) and len(stats["perceive"].samples_s) == 1
    assert len(stats["command_to_motion"].samples_s) == 1 and stats["total"].samples_s.max() == pytest.approx(0.201)


def test_diffusion_backend_is_the_students_generator(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        make_generator("diffusion", model_path=str(tmp_path / "none.pt"))
    from ifgrasp.grasp.diffusion import generator as student

    assert callable(student.GraspGenerator.from_checkpoint)
