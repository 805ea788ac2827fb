"""Energy terms that do not need the hand: force closure, nearest-point distances."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ifgrasp.grasp.synthesis.energy import force_closure_residual, nearest_distance


def test_two_antipodal_pairs_are_in_force_closure():
    # contacts on the +-x and +-y faces of a unit cube, outward normals
    x = torch.tensor([[[1.0, 0, 0], [-1.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0]]])
    residual = force_closure_residual(x, x.clone(), torch.zeros(3))
    assert residual.item() < 1e-6


def test_contacts_on_one_side_are_not_in_force_closure():
    x = torch.tensor([[[1.0, 0, 0], [1.0, 0.1, 0], [1.0, 0, 0.1], [1.0, -0.1, 0]]])
    n = torch.tensor([[[1.0, 0, 0]] * 4])
    assert force_closure_residual(x, n, torch.zeros(3)).item() > 3.0


def test_offset_torque_is_penalised():
    # opposing forces that do not share a line of action produce a couple
    x = torch.tensor([[[1.0, 0.5, 0], [-1.0, -0.5, 0]]])
    n = torch.tensor([[[1.0, 0, 0], [-1.0, 0, 0]]])
    assert force_closure_residual(x, n, torch.zeros(3)).item() > 0.5


def test_thumb_weighting_balances_one_thumb_against_three_fingers():
    # thumb pushes +x on the -x face; three fingers push -x on the +x face at the same height
    x = torch.tensor([[[-1.0, 0, 0], [1.0, 0.2, 0], [1.0, 0, 0], [1.0, -0.2, 0]]])
    n = torch.tensor([[[-1.0, 0, 0], [1.0, 0, 0], [1.0, 0, 0], [1.0, 0, 0]]])
    unweighted = force_closure_residual(x, n, torch.zeros(3))
    weighted = force_closure_residual(x, n, torch.zeros(3), torch.tensor([3.0, 1.0, 1.0, 1.0]))
    assert unweighted.item() > 1.9
    assert weighted.item() < 1e-5


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 4), points=st.sampled_from([4, 30, 300]), targets=st.sampled_from([7, 26, 256]),
       seed=st.integers(0, 2**16))
def test_nearest_distance_matches_cdist_bit_for_bit(batch, points, targets, seed):
    # the synthesis' grasps stay identical to those made with autograd through cdist + min
    gen = torch.Generator().manual_seed(seed)
    p = (0.1 * torch.rand(batch, points, 3, generator=gen)).requires_grad_(True)
    t = 0.1 * torch.rand(targets, 3, generator=gen)
    weight = torch.randn(batch, points, generator=gen)
    reference = torch.cdist(p, t.unsqueeze(0).expand(batch, -1, -1)).min(dim=-1).values
    (grad_reference,) = torch.autograd.grad((weight * reference).sum(), p)
    fast = nearest_distance(p, t)
    (grad_fast,) = torch.autograd.grad((weight * fast).sum(), p)
    assert torch.equal(fast, reference) and torch.equal(grad_fast, grad_reference)


def test_nearest_distance_is_the_distance_to_the_closest_target():
    far = 10.0 + torch.arange(28.0)[:, None].expand(-1, 3)  # 30 targets: the matrix-product path
    t = torch.cat([torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]), far])
    p = torch.tensor([[[0.9, 0.0, 0.0], [0.0, 0.3, 0.4]]], requires_grad=True)
    d = nearest_distance(p, t)
    assert d.detach()[0].tolist() == pytest.approx([0.1, 0.5], abs=1e-6)
    d.sum().backward()  # unit vectors away from each nearest target
    assert p.grad[0].flatten().tolist() == pytest.approx([-1.0, 0, 0, 0, 0.6, 0.8], abs=1e-5)
