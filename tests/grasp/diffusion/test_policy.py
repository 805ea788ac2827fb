"""Student policy: rotation representation, sampler shapes, and that it learns a grasp."""

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from ifgrasp.geometry import matrix_to_rot6d, rot6d_to_matrix
from ifgrasp.grasp.diffusion.policy import GRASP_DIM, GraspDiffusion, ddim_timesteps


@given(st.integers(0, 10_000))
def test_rot6d_round_trip(seed):
    R = torch.as_tensor(Rotation.random(4, random_state=seed).as_matrix(), dtype=torch.float64)
    np.testing.assert_allclose(rot6d_to_matrix(matrix_to_rot6d(R)).numpy(), R.numpy(), atol=1e-9)


def test_ddim_timesteps_span_the_schedule():
    assert ddim_timesteps(100, 1) == [99]
    steps = ddim_timesteps(100, 8)
    assert steps[0] == 99 and steps[-1] == 0 and steps == sorted(steps, reverse=True)


def test_sample_shapes_and_frame():
    torch.manual_seed(0)
    policy = GraspDiffusion(n_basis=32, width=32, depth=1)
    pts = torch.randn(1, 100, 3) * 0.03 + torch.tensor([0.0, 0.0, 0.6])
    mask = torch.zeros(1, 100)
    mask[0, :20] = 1
    pos, rot, q = policy.sample(pts, mask, torch.randn(5, GRASP_DIM), steps=4)
    assert pos.shape == (5, 3) and rot.shape == (5, 3, 3) and q.shape == (5, 16)
    # rotations are proper
    np.testing.assert_allclose(torch.det(rot).detach().numpy(), 1.0, atol=1e-5)


def test_policy_learns_one_grasp():
    """Trained on a single (cloud, grasp) pair, the sampler returns that grasp from any noise."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    policy = GraspDiffusion(n_basis=32, width=64, depth=2, num_train_steps=50)
    pts = torch.randn(1, 200, 3) * 0.03 + torch.tensor([0.0, 0.0, 0.6])
    mask = torch.zeros(1, 200)
    mask[0, :50] = 1
    target = torch.cat([torch.tensor([[0.01, -0.02, -0.05]]),
                        matrix_to_rot6d(torch.eye(3)[None]), torch.full((1, 16), 0.4)], -1)
    cond, _ = policy.encoder(pts, mask)
    policy.set_normalizer(target + 0.1 * torch.randn(64, GRASP_DIM))
    opt = torch.optim.Adam(policy.denoiser.parameters(), lr=3e-3)
    for _ in range(400):
        loss = policy.loss_from_features(cond.expand(64, -1), target.expand(64, -1), gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = policy.sample_from_features(cond.expand(8, -1), torch.randn(8, GRASP_DIM, generator=gen), steps=8)
    assert (out - target).abs().max() < 0.05


def test_degenerate_6d_still_gives_a_rotation():
    r6 = torch.tensor([[1.0, 0.0, 0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    R = rot6d_to_matrix(r6[:1])
    np.testing.assert_allclose(torch.det(R).numpy(), 1.0, atol=1e-6)
    np.testing.assert_allclose((R[0].T @ R[0]).numpy(), np.eye(3), atol=1e-6)
