"""Energy terms that do not need the hand: force closure."""

import torch

from ifgrasp.grasp.synthesis.energy import force_closure_residual


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
