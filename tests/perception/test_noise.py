"""Depth noise: axial std against the stereo formula, edge dropout, holes, determinism."""

import numpy as np

from ifgrasp.perception import DepthNoiseConfig, add_depth_noise, axial_sigma_m
from ifgrasp.perception.noise import edge_mask

CLEAN = DepthNoiseConfig(quantum_m=0.0, edge_dropout=0.0, holes_per_mpix=0.0)


def test_axial_std_follows_z_squared():
    rng = np.random.default_rng(0)
    stds = {}
    for z in (0.5, 1.0, 2.0):
        noisy = add_depth_noise(np.full((200, 200), z, np.float32), rng, CLEAN)
        stds[z] = float(np.std(noisy - z))
        np.testing.assert_allclose(stds[z], axial_sigma_m(np.float64(z), CLEAN), rtol=0.05)
    # Quadratic growth (floor removed): sigma(2) - floor = 4 (sigma(1) - floor).
    f = CLEAN.floor_m
    np.testing.assert_allclose((stds[2.0] - f) / (stds[1.0] - f), 4.0, rtol=0.1)
    assert 0.0008 < axial_sigma_m(np.float64(0.5)) < 0.002  # ~1 mm at 0.5 m like a D435


def test_edges_drop_and_flat_regions_do_not():
    d = np.full((100, 100), 0.6, np.float32)
    d[:, 50:] = 0.8  # a step edge between columns 49 and 50
    cfg = DepthNoiseConfig(holes_per_mpix=0.0, edge_dropout=0.5)
    out = add_depth_noise(d, np.random.default_rng(1), cfg)
    edge = edge_mask(d, cfg.edge_jump_m)
    assert edge.sum() == 200
    lost = out == 0
    assert not lost[~edge].any()
    assert 0.35 < lost[edge].mean() < 0.65


def test_holes_invalid_stays_invalid_and_quantised():
    d = np.full((2, 120, 160), 0.7, np.float32)
    d[:, :, :10] = 0.0
    d[:, :, 10:12] = np.nan
    out = add_depth_noise(d, np.random.default_rng(2), DepthNoiseConfig(holes_per_mpix=2000.0))
    assert out.shape == d.shape and out.dtype == np.float32
    assert (out[:, :, :12] == 0).all()
    hole_frac = (out[:, :, 12:] == 0).mean()
    assert 0.01 < hole_frac < 0.9
    valid = out[out > 0]
    np.testing.assert_allclose(valid * 1000, np.round(valid * 1000), atol=1e-3)


def test_same_seed_same_noise():
    d = np.random.default_rng(3).uniform(0.4, 1.2, (60, 80)).astype(np.float32)
    a = add_depth_noise(d, np.random.default_rng(7))
    b = add_depth_noise(d, np.random.default_rng(7))
    c = add_depth_noise(d, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
