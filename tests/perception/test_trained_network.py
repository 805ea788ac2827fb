"""PartNet: shapes, the factorised edge convolution against explicit edges, k-NN against brute
force, permutation equivariance, batch = looped, input normalisation, the loss."""

import copy

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ifgrasp.perception.trained.network import EdgeConv, PartNet, gather, knn
from ifgrasp.perception.trained.train import losses
from ifgrasp.perception.trained.vocab import PART_ALLOWED, PART_VOCAB, SCALE_M, normalise
from ifgrasp.sim.objects import CATEGORIES, PARTS

torch.manual_seed(0)
NET = PartNet(len(CATEGORIES), len(PART_VOCAB), k=8, width=16, global_width=32).eval()


def test_forward_shapes_on_random_input():
    x = torch.randn(3, 100, 3)
    c, p = NET(x)
    assert c.shape == (3, 100, len(CATEGORIES)) and p.shape == (3, 100, len(PART_VOCAB))
    assert torch.isfinite(c).all() and torch.isfinite(p).all()


def test_knn_matches_brute_force():
    x = torch.rand(2, 64, 3, dtype=torch.float64)
    idx = knn(x, 5)
    d = torch.cdist(x, x)
    ref = d.topk(5, largest=False).values
    got = torch.gather(d, 2, idx)
    torch.testing.assert_close(got.sort(-1).values, ref.sort(-1).values)


def test_edgeconv_equals_explicit_edge_mlp():
    ec = EdgeConv(4, 8).double()
    f = torch.randn(2, 30, 4, dtype=torch.float64)
    idx = knn(f[..., :3], 6)
    fj = gather(f, idx)  # (B, N, k, 4)
    fi = f[:, :, None].expand_as(fj)
    # one linear layer on [f_i, f_j - f_i]: W = [A, B] with A = center + neigh, B = neigh
    A = ec.center.weight + ec.neigh.weight
    e = fi @ A.T + (fj - fi) @ ec.neigh.weight.T + ec.center.bias  # (B, N, k, 8)
    ref = ec.post(e.max(dim=2).values)
    torch.testing.assert_close(ec(f, idx), ref)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 1000))
def test_permutation_equivariant_and_batch_equals_loop(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 40, 3, generator=g, dtype=torch.float64)
    net = copy.deepcopy(NET).double()
    perm = torch.randperm(40, generator=g)
    c, p = net(x)
    c2, p2 = net(x[:, perm])
    torch.testing.assert_close(c[:, perm], c2)
    torch.testing.assert_close(p[:, perm], p2)
    c1, _ = net(x[1:])
    torch.testing.assert_close(c[1:], c1)


@settings(max_examples=20, deadline=None)
@given(dx=st.floats(-1, 1), dy=st.floats(-1, 1))
def test_normalise_ignores_xy_shift_keeps_height(dx, dy):
    p = np.random.default_rng(0).uniform(0, 0.2, (50, 3)).astype(np.float32)
    a, b = normalise(p), normalise(p + np.array([dx, dy, 0], np.float32))
    np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(a[:, 2], p[:, 2] / SCALE_M, rtol=1e-6)


def test_part_table_and_loss():
    for c, cat in enumerate(CATEGORIES):
        assert {PART_VOCAB[i] for i in np.flatnonzero(PART_ALLOWED[c])} == set(PARTS[cat])
    x = torch.randn(2, 32, 3)
    cat = torch.full((2, 32), CATEGORIES.index("mug"))
    cat[0, :4] = -1  # off-object points are ignored
    part = torch.full((2, 32), PART_VOCAB.index("handle"))
    net = PartNet(len(CATEGORIES), len(PART_VOCAB), k=4, width=8, global_width=8)
    total, lc, lp = losses(net, x, cat, part)
    total.backward()
    assert torch.isfinite(total) and lc > 0 and lp > 0
    assert all(p.grad is not None for p in net.parameters())
    # part logits are masked to the mug's two parts: loss <= log(2) + margin at init scale
    assert lp < np.log(len(PART_VOCAB))
