"""`ifgrasp distill`: the flow student follows the DDIM teacher's many-step sampler in 1-2 steps
(where the teacher's own 1-2 step DDIM does not), is a loadable checkpoint, and resumes exactly."""

import json

import numpy as np
import pytest
import torch

from ifgrasp.errors import ModelError
from ifgrasp.grasp.diffusion.distill import DistillConfig, distill, endpoint_rmse, student_from_teacher
from ifgrasp.grasp.diffusion.generator import GraspGenerator
from ifgrasp.grasp.diffusion.policy import GRASP_DIM, GraspDiffusion
from ifgrasp.grasp.diffusion.train import load_checkpoint, save_checkpoint
from ifgrasp.grasp.diffusion.views import ViewConfig, load_views, render_object_views


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill")
    (root / "views").mkdir()
    views = render_object_views("box", 0, ViewConfig(views_per_object=2, n_points=256), np.random.default_rng(0))
    np.savez(root / "views" / "box_0000.npz", **views)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    teacher = GraspDiffusion(n_basis=32, width=64, depth=2, num_train_steps=20)
    # a teacher that learned two grasps per view (two modes): its many-step DDIM lands on one of them
    modes = torch.randn(2, 2, GRASP_DIM, generator=gen)  # (view, mode, 25)
    cond = _conds(root, teacher)
    teacher.set_normalizer(modes.reshape(-1, GRASP_DIM))
    opt = torch.optim.Adam(teacher.denoiser.parameters(), lr=3e-3)
    for _ in range(300):
        view = torch.randint(0, 2, (128,), generator=gen)
        mode = torch.randint(0, 2, (128,), generator=gen)
        target = modes[view, mode] + 0.05 * torch.randn(128, GRASP_DIM, generator=gen)
        loss = teacher.loss_from_features(cond[view], target, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_checkpoint(teacher.eval(), root / "teacher.pt")
    return root


def _cfg(root, **kw):
    base = dict(teacher=str(root / "teacher.pt"), views=str(root / "views"), teacher_steps=20,
                noises_per_condition=64, steps=300, batch_size=128, lr=3e-3, holdout_share=0.0,
                checkpoint_every=100, chunk_conditions=1, grid_steps=(1, 2))
    return DistillConfig(**{**base, **kw})


def _conds(root, policy):
    v = load_views(root / "views")[("box", 0)]
    with torch.no_grad():
        return torch.cat([policy.encoder(torch.as_tensor(v["points"][i])[None],
                                         torch.as_tensor(v["point_part"][i] == 0)[None])[0] for i in range(2)])


def test_few_flow_steps_follow_the_many_step_teacher(setup, tmp_path):
    summary = distill(_cfg(setup), tmp_path, progress=False)
    assert summary["conditions"] == 2 and summary["couplings_train"] == 128
    student = load_checkpoint(tmp_path / "student_flow.pt")
    teacher = load_checkpoint(setup / "teacher.pt")
    assert student.sampler == "flow" and teacher.sampler == "ddim"
    assert torch.load(tmp_path / "student_flow.pt", weights_only=True)["extra"]["default_steps"] == 4
    # fresh noise, not the couplings it was trained on
    cond = _conds(setup, teacher).repeat_interleave(32, 0)
    z = torch.randn(len(cond), GRASP_DIM, generator=torch.Generator().manual_seed(123))
    x = teacher.normalize(teacher.sample_from_features(cond, z, 20))
    for n in (1, 2):
        base, flow = endpoint_rmse(teacher, cond, z, x, n), endpoint_rmse(student, cond, z, x, n)
        assert base > 0.3, "the teacher's few-step DDIM should be far from its many-step sampler"
        assert flow < 0.5 * base, (n, flow, base)
    # the distilled checkpoint drives the generator like any student
    v = load_views(setup / "views")[("box", 0)]
    gen = GraspGenerator.from_checkpoint(tmp_path / "student_flow.pt", backend="torch", steps=2, num_candidates=8,
                                         n_points=128)
    assert np.isfinite(gen.generate(v["points"][0], v["point_part"][0] == 0, k=2).wrist_pos_m).all()
    # no step count given: the checkpoint's own (4 for the distilled model, 8 for a DDIM student)
    assert GraspGenerator.from_checkpoint(tmp_path / "student_flow.pt", backend="torch").steps == 4
    assert GraspGenerator.from_checkpoint(setup / "teacher.pt", backend="torch").steps == 8


def test_distillation_resumes_where_it_stopped(setup, tmp_path, monkeypatch):
    cfg = _cfg(setup, steps=12, checkpoint_every=5, noises_per_condition=16, batch_size=16)
    distill(cfg, tmp_path / "whole", progress=False)
    calls = {"n": 0}
    step = torch.optim.AdamW.step

    def interrupted(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return step(self, *a, **kw)

    monkeypatch.setattr(torch.optim.AdamW, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        distill(cfg, tmp_path / "cut", progress=False)
    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    summary = distill(cfg, tmp_path / "cut", progress=False)
    assert summary["resumed_from"] == 5
    a = load_checkpoint(tmp_path / "whole" / "student_flow.pt").state_dict()
    b = load_checkpoint(tmp_path / "cut" / "student_flow.pt").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = json.loads((tmp_path / "cut" / "distill_log.json").read_text())
    assert log["summary"]["steps"] == 12


def test_a_flow_model_is_not_a_teacher(setup):
    flow = student_from_teacher(load_checkpoint(setup / "teacher.pt"))
    with pytest.raises(ModelError, match="must be a DDIM student"):
        student_from_teacher(flow)


def test_bench_generate_times_the_old_and_the_new_paths_in_one_run(setup, tmp_path, capsys):
    from ifgrasp.grasp.diffusion.commands import bench_generate_command

    torch.manual_seed(0)
    base = GraspDiffusion(n_basis=32, width=32, depth=1)
    base.grasp_std[9:] = 0.1  # joints near the flat hand: most samples admissible
    save_checkpoint(base, tmp_path / "student.pt")
    flow = student_from_teacher(base)
    save_checkpoint(flow, tmp_path / "student_flow.pt", {"default_steps": 2})
    rows = bench_generate_command(tmp_path / "student_flow.pt", tmp_path / "student.pt", candidates=8, base_steps=4,
                                  repeats=2, threads=1)
    names = {r.name for r in rows}
    for path in ("old onnx, ranking in torch (4 ddim)", "old torch (4 ddim)", "old onnx 1-graph (4 ddim)",
                 "new torch (2 flow)", "new onnx 1-graph (2 flow)"):
        assert {f"{path} ranked", f"{path} total", f"{path} physics"} <= names, path
    assert all(len(r.samples_s) == 2 for r in rows)
    out = capsys.readouterr().out
    assert "new onnx 1-graph / old onnx path, to ranked candidates: median" in out and "86.6" in out
    assert "load average" in out and "goal <= 30 ms median" in out and "TensorRT" in out
