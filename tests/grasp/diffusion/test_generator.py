"""GraspGenerator: one interface over torch and ONNX, clear errors for bad input and bad models."""

import numpy as np
import pytest
import torch

from ifgrasp.errors import InputError, ModelError
from ifgrasp.grasp.diffusion.export import export_onnx, max_abs_difference
from ifgrasp.grasp.diffusion.generator import GraspGenerator
from ifgrasp.grasp.diffusion.policy import GRASP_DIM, GraspDiffusion
from ifgrasp.grasp.diffusion.train import save_checkpoint
from ifgrasp.types import ObjectCloud


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("student")
    policy = GraspDiffusion(n_basis=32, width=32, depth=1)
    save_checkpoint(policy, folder / "student.pt")
    export_onnx(policy, folder / "student.onnx", steps=4, n_points=256, k=16)
    return policy, folder


def _cloud(n=500, seed=0):
    rng = np.random.default_rng(seed)
    pts = rng.normal(scale=0.03, size=(n, 3)) + [0.0, 0.0, 0.6]
    return pts, rng.random(n) < 0.3


def test_onnx_matches_torch(tiny):
    policy, folder = tiny
    assert max_abs_difference(policy, folder / "student.onnx", steps=4, n_points=256, k=16) < 1e-4


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_generate_returns_k_ranked_camera_frame_grasps(tiny, backend):
    _, folder = tiny
    gen = GraspGenerator.from_checkpoint(folder / "student.pt", backend=backend, steps=4, num_candidates=16,
                                         n_points=256, onnx_path=folder / "student.onnx")
    pts, mask = _cloud()
    grasps = gen.generate(ObjectCloud(pts.astype(np.float32), mask), k=5)
    assert len(grasps) == 5 and grasps.frame == "camera"
    assert np.all(np.diff(grasps.scores) <= 0)
    assert set(gen.last.timings_s) == {"prepare", "sample", "rank", "refine"} and len(gen.last.candidates) == 16


def test_backends_agree(tiny):
    _, folder = tiny
    pts, mask = _cloud()
    outs = [GraspGenerator.from_checkpoint(folder / "student.pt", backend=b, steps=4, num_candidates=16, n_points=256,
                                           onnx_path=folder / "student.onnx").generate(pts, mask, k=16)
            for b in ("torch", "onnx")]
    np.testing.assert_allclose(outs[0].wrist_pos_m, outs[1].wrist_pos_m, atol=1e-4)


@pytest.mark.parametrize(
    "points, mask, message",
    [
        (np.zeros((0, 3)), np.zeros(0, bool), "empty"),
        (np.full((10, 3), np.nan), np.ones(10, bool), "empty"),
        (_cloud()[0], np.zeros(500, bool), "no point"),
        (_cloud()[0] * 1000.0, _cloud()[1], "millimetres"),
        (_cloud()[0], np.ones(3, bool), "entries"),
        (_cloud(n=10)[0], np.ones(10, bool), "only 10 finite points"),
        (np.where(np.arange(500)[:, None] < 490, np.nan, _cloud()[0]), np.ones(500, bool), "only 10 finite points"),
        (np.full((10, 3), np.nan), np.ones(10, bool), "NaN"),
        (_cloud()[0], np.arange(500) < 3, "only 3 points"),
        (_cloud()[0], np.full(500, np.nan), "booleans"),
        (_cloud()[0] + [0.0, 0.0, 4.4], _cloud()[1], "5.00 m from the camera, outside the working range"),
        (_cloud()[0] - [0.0, 0.0, 0.6], _cloud()[1], "working range"),
    ],
)
def test_bad_clouds_are_refused_clearly(tiny, points, mask, message):
    _, folder = tiny
    gen = GraspGenerator.from_checkpoint(folder / "student.pt", backend="torch", steps=2, num_candidates=4, n_points=64)
    with pytest.raises(InputError, match=message):
        gen.generate(points, mask)


def test_nan_holes_are_dropped_not_fatal(tiny):
    _, folder = tiny
    pts, mask = _cloud()
    pts[:100] = np.nan
    gen = GraspGenerator.from_checkpoint(folder / "student.pt", backend="torch", steps=2, num_candidates=4, n_points=64)
    assert np.isfinite(gen.generate(pts, mask, k=2).wrist_pos_m).all()


def test_missing_and_foreign_models(tmp_path, tiny):
    with pytest.raises(ModelError, match="not found"):
        GraspGenerator.from_checkpoint(tmp_path / "nope.pt")
    policy, _ = tiny
    torch.save({"hand": "shadow_hand", "hyper": policy.hyper, "state_dict": policy.state_dict()}, tmp_path / "x.pt")
    with pytest.raises(ModelError, match="shadow_hand"):
        GraspGenerator.from_checkpoint(tmp_path / "x.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot read"):
        GraspGenerator.from_checkpoint(tmp_path / "junk.pt")


def test_tensorrt_needs_a_gpu(tiny):
    import onnxruntime as ort

    if "TensorrtExecutionProvider" in ort.get_available_providers():
        pytest.skip("TensorRT is available here; the refusal path cannot be exercised")
    policy, folder = tiny
    with pytest.raises(ModelError, match="TensorRT backend unavailable"):
        GraspGenerator(policy, backend="tensorrt", onnx_path=folder / "student.onnx")


def test_foreign_corrupt_or_mismatched_onnx_is_refused(tiny, tmp_path):
    import onnx

    policy, folder = tiny
    model = onnx.load(str(folder / "student.onnx"))
    next(p for p in model.metadata_props if p.key == "ifgrasp_hand").value = "allegro_hand/v1"
    onnx.save(model, str(tmp_path / "allegro.onnx"))
    with pytest.raises(ModelError, match="allegro_hand"):
        GraspGenerator(policy, backend="onnx", steps=4, onnx_path=tmp_path / "allegro.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07garbage")
    with pytest.raises(ModelError, match="cannot read ONNX"):
        GraspGenerator(policy, backend="onnx", steps=4, onnx_path=tmp_path / "junk.onnx")
    with pytest.raises(ModelError, match="unrolls 4 DDIM steps"):
        GraspGenerator(policy, backend="onnx", steps=8, onnx_path=folder / "student.onnx")


def test_checkpoint_whose_weights_do_not_fit_is_refused(tiny, tmp_path):
    policy, _ = tiny
    hyper = dict(policy.hyper, width=64)  # says width 64, holds width-32 weights
    torch.save({"hand": "leap_hand_right/v1", "hyper": hyper, "state_dict": policy.state_dict()}, tmp_path / "x.pt")
    with pytest.raises(ModelError, match="does not match"):
        GraspGenerator.from_checkpoint(tmp_path / "x.pt")


def test_critic_in_the_onnx_graph_matches_the_torch_critic(tiny, tmp_path):
    """One graph for sampler + critic: same P(lift) as the critic run on its own in torch (which
    re-encodes the cloud), and a file holding another critic falls back to the torch critic."""
    from ifgrasp.grasp.diffusion.critic import GraspCritic

    policy, _ = tiny
    torch.manual_seed(1)
    critic = GraspCritic(n_basis=32, width=16).eval()
    path = export_onnx(policy, tmp_path / "with_critic.onnx", steps=4, n_points=256, k=16, critic=critic)
    assert max_abs_difference(policy, path, steps=4, n_points=256, k=16, critic=critic) < 1e-4
    assert not critic.training and not policy.training  # exporting leaves the caller's modules in eval mode
    pts, mask = _cloud()
    gen = GraspGenerator(policy, backend="onnx", steps=4, num_candidates=16, n_points=256, onnx_path=path,
                         critic=critic)
    assert gen.critic_in_graph
    gen.generate(pts, mask, k=4)
    cand = gen.last.candidates
    own = critic.success_probability(gen.last_points, gen.last_mask, cand.wrist_pos_m, cand.wrist_rot, cand.joints_rad)
    np.testing.assert_allclose(cand.extras["learned_lift_probability"], own, atol=1e-4)
    other = GraspCritic(n_basis=32, width=16).eval()
    fallback = GraspGenerator(policy, backend="onnx", steps=4, num_candidates=16, n_points=256, onnx_path=path,
                              critic=other)
    assert not fallback.critic_in_graph
    fallback.generate(pts, mask, k=4)
    cand = fallback.last.candidates
    own = other.success_probability(fallback.last_points, fallback.last_mask, cand.wrist_pos_m, cand.wrist_rot,
                                    cand.joints_rad)
    np.testing.assert_allclose(cand.extras["learned_lift_probability"], own, atol=1e-5)


@pytest.mark.parametrize("steps", [1, 2, 4])
def test_distilled_flow_sampler_exports_with_parity(tiny, tmp_path, steps):
    """The few-step (flow, Euler) sampler + critic as one ONNX graph: onnxruntime equals torch, the
    file says which sampler it holds, and the generator's ONNX and torch paths return the same grasps."""
    import onnxruntime as ort

    from ifgrasp.grasp.diffusion.critic import GraspCritic
    from ifgrasp.grasp.diffusion.distill import student_from_teacher

    policy, _ = tiny
    flow = student_from_teacher(policy).eval()
    torch.manual_seed(2)
    with torch.no_grad():  # weights of its own, so the flow graph is not the DDIM one by accident
        for p in flow.denoiser.parameters():
            p.add_(0.05 * torch.randn_like(p))
    critic = GraspCritic(n_basis=32, width=16).eval()
    path = export_onnx(flow, tmp_path / "flow.onnx", steps=steps, n_points=256, k=16, critic=critic)
    assert max_abs_difference(flow, path, steps=steps, n_points=256, k=16, critic=critic) < 1e-4
    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert meta["sampler"] == "flow" and meta["sampler_steps"] == str(steps) and "ddim_steps" not in meta
    from ifgrasp.grasp.diffusion.physics import PhysicsConfig

    pts, mask = _cloud()
    raw = PhysicsConfig(refine_steps=0, repair_steps=0, reject_self_m=1e9)  # the sampler's own output, unrepaired
    outs = [GraspGenerator(flow, backend=b, steps=steps, num_candidates=16, n_points=256, onnx_path=path,
                           critic=critic, physics=raw).generate(pts, mask, k=16) for b in ("torch", "onnx")]
    np.testing.assert_allclose(outs[0].wrist_pos_m, outs[1].wrist_pos_m, atol=1e-4)
    np.testing.assert_allclose(outs[0].joints_rad, outs[1].joints_rad, atol=1e-4)


def test_flow_onnx_with_a_ddim_checkpoint_is_refused(tiny, tmp_path):
    from ifgrasp.grasp.diffusion.distill import student_from_teacher

    policy, folder = tiny
    flow = student_from_teacher(policy).eval()
    path = export_onnx(flow, tmp_path / "flow.onnx", steps=2, n_points=256, k=16)
    with pytest.raises(ModelError, match="holds a 'flow' sampler, the checkpoint is a 'ddim' model"):
        GraspGenerator(policy, backend="onnx", steps=2, onnx_path=path)
    with pytest.raises(ModelError, match="holds a 'ddim' sampler"):
        GraspGenerator(flow, backend="onnx", steps=4, onnx_path=folder / "student.onnx")
    with pytest.raises(ModelError, match=r"unrolls 2 flow \(Euler\) steps"):
        GraspGenerator(flow, backend="onnx", steps=4, onnx_path=path)


def test_flow_sampler_takes_euler_steps_along_its_velocity():
    """Euler on ds = 1/n: with a velocity that does not depend on x, n steps add the mean of v over the
    grid s = 0, 1/n, ..., (n-1)/n (denormalised at the end); a DDIM model with the same weights differs."""
    torch.manual_seed(0)
    flow = GraspDiffusion(n_basis=32, width=32, depth=1, sampler="flow").eval()
    seen = []

    class Velocity(torch.nn.Module):
        def forward(self, x, t, cond):
            seen.append(t.clone())
            return (t[:, None] / 99.0).expand_as(x) * torch.ones_like(x)  # v = 1 - s at path time s

    flow.denoiser = Velocity()
    noise = torch.zeros(3, GRASP_DIM)
    with torch.no_grad():
        out = flow.sample_from_features(torch.zeros(3, 64), noise, steps=4)
    expected = np.mean([1 - i / 4 for i in range(4)])  # Euler on v = 1 - s
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)
    np.testing.assert_allclose([float(t[0]) for t in seen], [99 * (1 - i / 4) for i in range(4)], atol=1e-4)
