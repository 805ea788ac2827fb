"""Generator registry over the student's own loader (tiny random models saved with the student's
``save_checkpoint``), a normaliser-pinned model as an independent reference for where the samples
land, and benchmark rows from pipeline results."""

import math

import numpy as np
import pytest
import torch

from ifgrasp.errors import ConfigError, ModelError
from ifgrasp.geometry import matrix_to_rot6d
from ifgrasp.grasp.diffusion.physics import PhysicsConfig
from ifgrasp.grasp.diffusion.policy import GraspDiffusion
from ifgrasp.grasp.diffusion.train import save_checkpoint
from ifgrasp.pipeline import ErrorCode, GenerateStage, PipelineResult, generator_names, make_generator
from ifgrasp.pipeline.bench import stage_stats
from ifgrasp.types import ObjectCloud


def tiny_model() -> GraspDiffusion:
    torch.manual_seed(0)
    return GraspDiffusion(n_basis=32, width=32, depth=1, num_train_steps=10)


def pinned_model(offset_m, R, joints) -> GraspDiffusion:
    """A tiny model whose normaliser pins every sample to (part centre + offset_m, R, joints)."""
    model = tiny_model()
    v = np.concatenate([offset_m, matrix_to_rot6d(R[None])[0], joints])
    model.set_normalizer(torch.as_tensor(np.tile(v, (4, 1)), dtype=torch.float32))  # std 0 -> clamped 1e-3
    return model


def cloud_of(seed=0):
    rng = np.random.default_rng(seed)
    pts = (rng.normal(scale=0.03, size=(300, 3)) + [0.0, 0.0, 0.6]).astype(np.float32)
    return ObjectCloud(pts, pts[:, 0] > 0.01, frame="camera", object_name="mug", part_name="handle")


def test_registry_builds_the_students_generator_with_the_requested_settings(tmp_path):
    from ifgrasp.grasp.diffusion.generator import GraspGenerator as Student
    from ifgrasp.pipeline import GraspModel

    save_checkpoint(tiny_model(), tmp_path / "student.pt")
    gen = make_generator("diffusion", model_path=str(tmp_path / "student.pt"), steps=3, num_candidates=12,
                         runtime="torch", seed=5)
    assert isinstance(gen, Student) and isinstance(gen, GraspModel) and (gen.steps, gen.num_candidates, gen.backend) == (3, 12, "torch")
    batch = gen.generate(cloud_of(), k=5)
    assert len(batch) == 5 and batch.frame == "camera" and len(gen.last.candidates) == 12
    np.testing.assert_allclose(np.linalg.det(batch.wrist_rot), 1.0, atol=1e-4)
    assert np.all(np.diff(batch.scores) <= 0)  # best first
    # the same as the student's own generator built directly with the same seed
    direct = Student.from_checkpoint(tmp_path / "student.pt", backend="torch", steps=3, num_candidates=12, seed=5)
    np.testing.assert_allclose(direct.generate(cloud_of(), k=5).wrist_pos_m, batch.wrist_pos_m, atol=1e-6)


def test_pinned_samples_land_where_the_normaliser_says(tmp_path):
    R = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])  # palm facing the camera
    offset = np.array([0.0, 0.02, -0.07])
    save_checkpoint(pinned_model(offset, R, np.full(16, 0.4)), tmp_path / "p.pt")
    gen = make_generator("diffusion", model_path=str(tmp_path / "p.pt"), steps=2, runtime="torch")
    gen.physics_cfg = PhysicsConfig(refine_steps=0, repair_steps=0)  # the sampler's own output, unrefined
    cloud = cloud_of(1)
    centre = cloud.points_m[cloud.part_mask].mean(0)
    batch = gen.generate(cloud, k=4)
    np.testing.assert_allclose(batch.wrist_pos_m, np.tile(centre + offset, (4, 1)), atol=0.01)
    np.testing.assert_allclose(batch.wrist_rot, np.tile(R, (4, 1, 1)), atol=0.02)
    np.testing.assert_allclose(batch.joints_rad, 0.4, atol=0.01)
    # through the pipeline's stage: expressed in the base frame by T_base_camera
    T = np.eye(4)
    T[:3, 3] = [0.1, -0.2, 0.5]
    base = GenerateStage(gen, k=3)(cloud, T)
    assert base.frame == "base" and len(base) == 3
    np.testing.assert_allclose(base.wrist_pos_m, np.tile(centre + offset + T[:3, 3], (3, 1)), atol=0.01)


def test_missing_or_foreign_models_and_unknown_backend(tmp_path):
    with pytest.raises(ModelError, match="student model not found.*none.pt"):
        make_generator("diffusion", model_path=str(tmp_path / "none.pt"))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot read"):
        make_generator("diffusion", model_path=str(tmp_path / "bad.pt"))
    torch.save({"hand": "shadow_hand", "hyper": {}, "state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ModelError, match="shadow_hand"):
        make_generator("diffusion", model_path=str(tmp_path / "other.pt"))
    with pytest.raises(ConfigError, match="known: " + ", ".join(generator_names())):
        make_generator("nope")
    assert generator_names() == ["diffusion"]


def test_relative_model_paths_resolve_against_the_repo_root(tmp_path, monkeypatch):
    from ifgrasp.paths import REPO_ROOT
    from ifgrasp.pipeline.generator import resolve_model_path

    monkeypatch.chdir(tmp_path)
    assert resolve_model_path("models/student/student.pt") == REPO_ROOT / "models/student/student.pt"
    (tmp_path / "here.pt").touch()
    assert resolve_model_path("here.pt") == (tmp_path / "here.pt").relative_to(tmp_path)


def test_stage_stats_rows():
    ok = PipelineResult(True, ErrorCode.OK, "", stage_latencies_s={"ground": 0.001, "perceive": 0.2}, command_to_motion_s=0.5)
    failed = PipelineResult(False, ErrorCode.UNKNOWN_OBJECT, "", "ground", stage_latencies_s={"ground": 0.003})
    stats = {s.name: s for s in stage_stats([ok, failed, ({"ground": 0.002}, math.nan)])}
    assert stats["ground"].median_s == pytest.approx(0.002) and len(stats["perceive"].samples_s) == 1
    assert len(stats["command_to_motion"].samples_s) == 1 and stats["total"].samples_s.max() == pytest.approx(0.201)


def test_each_bench_run_starts_with_an_empty_hand(monkeypatch):
    """The scene reset between runs releases the hand: a run that held the mug must not make
    every later run answer HOLDING."""
    import ifgrasp.pipeline.sim as ps
    from ifgrasp.pipeline.bench import run_sim_bench

    class Pipe:
        holding = None

        def run(self, request, execute=True):
            out = "HOLDING" if self.holding is not None else "ran"
            self.holding = request  # every run holds what it grasped
            return out

    class World:
        def pipeline(self, generator, k):
            return Pipe()

        def reset(self):
            pass

        def close(self):
            pass

    monkeypatch.setattr(ps.SimWorld, "build", classmethod(lambda cls, **kw: World()))
    assert run_sim_bench(None, repeats=3) == ["ran"] * 3
