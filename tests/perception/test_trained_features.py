"""Geometry features of the trained perception network: local-PCA normals and curvature against
analytic surfaces, rotation equivariance, batched = looped, the training augmentation keeping
normals on their surface, and the 7-channel network input."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from ifgrasp.perception.trained.features import (CURVATURE_SCALE, FEATURE_CHANNELS, instance_normals,
                                                 local_normals, network_input)
from ifgrasp.perception.trained.network import PartNet
from ifgrasp.perception.trained.train import TrainConfig, _instances, sample_batch
from ifgrasp.perception.trained.vocab import PART_VOCAB
from ifgrasp.sim.objects import CATEGORIES

VIEW = np.array([1.0, -0.5, 0.6])


def plane(rng, n=400, normal=(0.3, -0.2, 1.0), centre=(0.5, 0.0, 0.05)):
    """(n, 3) points on a 10 cm square patch of the plane through ``centre`` with ``normal``."""
    nrm = np.asarray(normal, float) / np.linalg.norm(normal)
    u = np.cross(nrm, [1.0, 0.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(nrm, u)
    ab = rng.uniform(-0.05, 0.05, (n, 2))
    return np.asarray(centre) + ab[:, :1] * u + ab[:, 1:] * v, nrm


def sphere_cap(rng, n=600, radius=0.04, centre=(0.5, 0.0, 0.04)):
    """(n, 3) points on the half of a sphere facing ``VIEW``."""
    d = rng.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    d[(d @ (VIEW - centre)) < 0] *= -1
    return np.asarray(centre) + radius * d, d


def test_plane_normals_face_the_camera_and_are_flat():
    pts, nrm = plane(np.random.default_rng(0))
    n, c = local_normals(pts[None], np.array([len(pts)]), VIEW, k=16)
    sign = np.sign((VIEW - pts[0]) @ nrm)
    np.testing.assert_allclose(n[0], np.broadcast_to(sign * nrm, n[0].shape), atol=1e-6)
    assert c.max() < 1e-9


def test_sphere_normals_are_radial_and_curved():
    rng = np.random.default_rng(1)
    pts, d = sphere_cap(rng)
    n, c = local_normals(pts[None], np.array([len(pts)]), VIEW, k=16)
    assert np.median(np.sum(n[0] * d, axis=1)) > 0.99  # outward (towards the camera side)
    flat = local_normals(plane(rng)[0][None], np.array([400]), VIEW, k=16)[1]
    assert np.median(c) > 100 * max(np.median(flat), 1e-12) and np.median(c) > 1e-4


@settings(max_examples=10, deadline=None)
@given(quat=st.tuples(*[st.floats(-1, 1)] * 4).filter(lambda q: np.linalg.norm(q) > 0.1))
def test_rotating_the_scene_rotates_the_normals(quat):
    R = Rotation.from_quat(quat).as_matrix()
    pts, _ = sphere_cap(np.random.default_rng(2), n=200)
    n, c = local_normals(pts[None], np.array([200]), VIEW, k=12)
    n2, c2 = local_normals((pts @ R.T)[None], np.array([200]), R @ VIEW, k=12)
    np.testing.assert_allclose(n2[0], n[0] @ R.T, atol=1e-6)
    np.testing.assert_allclose(c2, c, atol=1e-9)


def test_batched_padded_equals_looped_and_query_prefix():
    rng = np.random.default_rng(3)
    a, _ = sphere_cap(rng, n=150)
    b, _ = plane(rng, n=90, centre=(0.5, 0.004, 0.05))  # overlaps the sphere in space
    pad = np.zeros((2, 150, 3))
    pad[0], pad[1, :90] = a, b
    views = np.stack([VIEW, VIEW + 0.1])
    n, c = local_normals(pad, np.array([150, 90]), views, k=10)
    for i, (p, m) in enumerate(((a, 150), (b, 90))):
        ni, ci = local_normals(p[None], np.array([m]), views[i], k=10)
        np.testing.assert_allclose(n[i, :m], ni[0], atol=1e-9)
        np.testing.assert_allclose(c[i, :m], ci[0], atol=1e-12)
    assert not n[1, 90:].any() and not c[1, 90:].any()  # padding stays zero
    nq, cq = local_normals(pad, np.array([150, 90]), views, k=10, n_query=40)
    assert nq.shape == (2, 40, 3)
    np.testing.assert_allclose(nq, n[:, :40], atol=1e-12)
    # fewer points than k: neighbours stay inside the instance (nearest repeated), no NaN
    ns, cs = local_normals(pad, np.array([150, 4]), views, k=10)
    assert np.isfinite(ns).all() and np.isfinite(cs).all()
    assert np.allclose(np.linalg.norm(ns[1, :4], axis=1), 1)


def test_instance_normals_match_per_instance_calls():
    rng = np.random.default_rng(4)
    a, _ = sphere_cap(rng, n=120)
    b, _ = plane(rng, n=70)
    pts = np.concatenate([b[:30], a, b[30:]])  # instance rows interleaved
    inst = np.concatenate([np.ones(30), np.zeros(120), np.ones(40)]).astype(np.int32)
    rows = _instances({"instance": inst})
    n, c = instance_normals(pts, rows, VIEW, k=8, batch=1)
    n2, c2 = instance_normals(pts, rows, VIEW, k=8, batch=64)
    np.testing.assert_allclose(n, n2, atol=1e-6)
    ref = local_normals(a[None], np.array([120]), VIEW, k=8)[0][0]
    np.testing.assert_allclose(n[30:150], ref, atol=1e-6)


def test_augmented_batch_keeps_normals_on_their_surface():
    rng = np.random.default_rng(5)
    pts, nrm = plane(rng, n=300, normal=(1.0, 0.4, 0.2))
    n, c = instance_normals(pts, [np.arange(300)], VIEW, k=12)
    data = {"points": pts.astype(np.float32), "category": np.full(300, 8, np.int8), "part": np.zeros(300, np.int8),
            "instance": np.zeros(300, np.int32), "features": np.concatenate([n, c[:, None]], 1).astype(np.float32)}
    cfg = TrainConfig(point_jitter_m=0.0, scale_jitter=0.05)
    x, cat, part = sample_batch(data, [np.arange(300)] * 3, 64, rng, cfg)
    assert x.shape == (3, 64, FEATURE_CHANNELS) and cat.shape == part.shape == (3, 64)
    xyz, normals = x[..., :3].numpy(), x[..., 3:6].numpy()
    # each augmented cloud is still a plane, and its normals are perpendicular to it
    diff = xyz - xyz[:, :1]
    assert np.abs(np.einsum("bnj,bj->bn", diff, normals[:, 0])).max() < 1e-4
    np.testing.assert_allclose(np.linalg.norm(normals, axis=-1), 1.0, atol=1e-5)
    assert not np.allclose(normals[0, 0], normals[1, 0])  # yaws differ per instance


def test_network_input_and_seven_channel_partnet():
    rng = np.random.default_rng(6)
    pts, _ = sphere_cap(rng, n=50)
    n, c = local_normals(pts[None], np.array([50]), VIEW, k=8)
    x = network_input(pts[None], n, c)
    assert x.shape == (1, 50, FEATURE_CHANNELS) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 6], CURVATURE_SCALE * c, rtol=1e-6)
    assert network_input(pts).shape == (50, 3)
    net = PartNet(len(CATEGORIES), len(PART_VOCAB), k=8, width=16, global_width=32, in_channels=FEATURE_CHANNELS)
    cl, pl = net(torch.from_numpy(x))
    assert cl.shape == (1, 50, len(CATEGORIES)) and pl.shape == (1, 50, len(PART_VOCAB))
    # the features matter: flipping the normals changes the output
    x2 = x.copy()
    x2[..., 3:6] *= -1
    assert not torch.allclose(net(torch.from_numpy(x2))[0], cl)


def test_warm_start_adds_zero_input_channels(tmp_path):
    from ifgrasp.errors import InputError
    from ifgrasp.perception.trained.train import NetworkConfig, save, warm_start

    torch.manual_seed(0)
    net3 = PartNet(len(CATEGORIES), len(PART_VOCAB), k=8, width=16, global_width=32)
    cfg3 = NetworkConfig(k=8, width=16, global_width=32)
    save(tmp_path / "xyz.pt", net3, cfg3, TrainConfig(), [], 0, [])
    net7 = PartNet(len(CATEGORIES), len(PART_VOCAB), k=8, width=16, global_width=32, in_channels=FEATURE_CHANNELS)
    warm_start(net7, tmp_path / "xyz.pt")
    x = torch.randn(2, 40, FEATURE_CHANNELS)
    ref = PartNet(len(CATEGORIES), len(PART_VOCAB), k=8, width=16, global_width=32)
    ref.load_state_dict({k: v.half().float() for k, v in net3.state_dict().items()})  # checkpoints are float16
    torch.testing.assert_close(net7(x)[0], ref(x[..., :3])[0])
    wide = PartNet(len(CATEGORIES), len(PART_VOCAB), k=8, width=24, global_width=32)
    with pytest.raises(InputError, match="cannot start from"):
        warm_start(wide, tmp_path / "xyz.pt")


def test_yaw_copies_turn_points_and_normals_together():
    from ifgrasp.perception.trained.features import yaw_copies

    rng = np.random.default_rng(7)
    pts, _ = sphere_cap(rng, n=60)
    n, c = local_normals(pts[None], np.array([60]), VIEW, k=8)
    x = network_input(pts[None], n, c)  # (1, 60, 7)
    out = yaw_copies(x, 4)  # (4, 1, 60, 7)
    np.testing.assert_array_equal(out[0], x)
    quarter = out[1, 0]  # 90 degrees: (x, y) -> (-y, x)
    np.testing.assert_allclose(quarter[:, [0, 1, 3, 4]], np.stack([-x[0, :, 1], x[0, :, 0], -x[0, :, 4], x[0, :, 3]], 1),
                               atol=1e-6)
    np.testing.assert_array_equal(out[..., [2, 5, 6]], np.broadcast_to(x[..., [2, 5, 6]], out[..., [2, 5, 6]].shape))
    # equivalent to recomputing the features on the turned points (normalised centre is the mean)
    R = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    centre = pts.mean(0) * np.array([1, 1, 0])
    turned = (pts - centre) @ R.T + centre
    n2, c2 = local_normals(turned[None], np.array([60]), R @ (VIEW - centre) + centre, k=8)
    np.testing.assert_allclose(quarter, network_input(turned[None], n2, c2)[0], atol=1e-5)
    assert yaw_copies(network_input(pts[None]), 2).shape == (2, 1, 60, 3)


def test_one_cycle_lr_matches_torch():
    from ifgrasp.perception.trained.train import one_cycle_lr

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    steps = 200
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps, pct_start=0.05, final_div_factor=20,
                                                cycle_momentum=False)
    ref = []
    for _ in range(steps):
        ref.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # torch's phases end at step pct * steps - 1 and steps - 1
    ours = [one_cycle_lr(s / (steps - 1), 2e-3, warmup=(0.05 * steps - 1) / (steps - 1)) for s in range(steps)]
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
