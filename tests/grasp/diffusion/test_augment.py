"""Training-view augmentation: a copy moves the cloud and its grasp targets together, keeps the part,
and the pairs of ``ifgrasp train`` grow by its copies."""

import numpy as np

from ifgrasp.grasp.diffusion.augment import AugmentConfig, augment_view
from ifgrasp.grasp.diffusion.encoding import BPSEncoder
from ifgrasp.grasp.diffusion.train import build_pairs
from ifgrasp.grasp.diffusion.views import ViewConfig, render_object_views


def _view():
    views = render_object_views("mug", 0, ViewConfig(views_per_object=1, n_points=512), np.random.default_rng(0))
    return views["points"][0], views["point_part"][0] == 1, views["T_camera_object"][0]


def test_a_jittered_copy_is_the_object_seen_through_its_own_camera_pose():
    points, mask, T = _view()
    cfg = AugmentConfig(copies=1, jitter_deg=8.0, depth_noise_m=0.0, occlusion_max=0.0)
    out, out_mask, T_copy = augment_view(points, mask, T, np.random.default_rng(3), cfg)
    # the same object points, expressed through the original and the copy's pose, give the two clouds
    object_points = (points - T[:3, 3]) @ T[:3, :3]
    np.testing.assert_allclose(object_points @ T_copy[:3, :3].T + T_copy[:3, 3], out, atol=1e-5)
    np.testing.assert_allclose(T_copy[:3, :3] @ T_copy[:3, :3].T, np.eye(3), atol=1e-9)
    angles = []
    rng = np.random.default_rng(3)
    for _ in range(20):
        _, _, T_copy = augment_view(points, mask, T, rng, cfg)
        R = T_copy[:3, :3] @ T[:3, :3].T
        angles.append(np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1))))
    assert max(angles) <= 8.0 + 1e-6 and max(angles) > 4.0  # turned, by at most jitter_deg
    # turned about the part centroid: the part stays where it was
    np.testing.assert_allclose(out[out_mask].mean(0), points[mask].mean(0), atol=1e-6)


def test_depth_noise_moves_points_along_their_camera_rays():
    points, mask, T = _view()
    cfg = AugmentConfig(copies=1, jitter_deg=0.0, depth_noise_m=0.004, occlusion_max=0.0)
    out, _, _ = augment_view(points, mask, T, np.random.default_rng(1), cfg)
    cross = np.linalg.norm(np.cross(out, points), axis=-1) / np.linalg.norm(points, axis=-1)
    assert cross.max() < 1e-5  # still on the same ray through the camera centre
    shift = np.linalg.norm(out, axis=-1) - np.linalg.norm(points, axis=-1)
    assert 0.003 < shift.std() < 0.005


def test_an_occluding_slab_never_takes_the_part_below_the_minimum():
    points, mask, T = _view()
    cfg = AugmentConfig(copies=1, jitter_deg=0.0, depth_noise_m=0.0, occlusion_max=0.9)
    rng = np.random.default_rng(0)
    shares = []
    for _ in range(20):
        out, out_mask, _ = augment_view(points, mask, T, rng, cfg, min_part_points=16)
        assert out_mask.sum() >= 16 and len(out) == len(out_mask)
        shares.append(1 - len(out) / len(points))
    assert max(shares) > 0.3 and min(shares) < 0.2  # slabs of varying size were cut


def test_build_pairs_adds_the_copies_with_their_own_targets():
    views = render_object_views("box", 0, ViewConfig(views_per_object=2, n_points=256), np.random.default_rng(0))
    n = 5
    rng = np.random.default_rng(0)
    data = {"category": np.array(["box"] * n), "object_seed": np.zeros(n, int), "part": np.array(["body"] * n),
            "wrist_pos_m": rng.normal(scale=0.05, size=(n, 3)), "wrist_rot": np.tile(np.eye(3), (n, 1, 1)),
            "joints_rad": np.zeros((n, 16))}
    keep = np.ones(n, bool)
    enc = BPSEncoder(32, 0.15)
    feats0, _, vec0 = build_pairs(data, {("box", 0): views}, enc, keep, 16)
    feats, idx, vec = build_pairs(data, {("box", 0): views}, enc, keep, 16, augment=AugmentConfig(copies=2))
    assert len(feats) == 3 * len(feats0) and len(vec) == 3 * len(vec0)
    np.testing.assert_allclose(vec[idx == 0], vec0[:n], atol=1e-6)  # the rendered view first, unchanged
    assert not np.allclose(vec[idx == 1][:, 3:9], vec0[:n, 3:9], atol=1e-3)  # a copy's targets turned with it
