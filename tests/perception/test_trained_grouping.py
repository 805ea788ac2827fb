"""Grouping of per-point labels into objects: kNN vote smoothing against brute force (never
across clusters) and the hidden-gap test on a synthetic depth image with and without an occluder."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ifgrasp.perception.trained.grouping import occluded_gaps, smooth_probs
from ifgrasp.types import CameraIntrinsics


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 9))
def test_smoothing_is_the_mean_over_the_k_nearest_of_the_same_cluster(seed, k):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 0.1, (3, 20, 3))  # (K, n, 3): clusters overlap in space
    prob = rng.dirichlet(np.ones(5), (3, 20))  # (K, n, C)
    got = smooth_probs(pts, prob, k)
    for c in range(3):  # looped brute-force reference
        d = np.linalg.norm(pts[c][:, None] - pts[c][None], axis=-1)  # (n, n)
        nb = np.argsort(d, axis=1, kind="stable")[:, :k]
        np.testing.assert_allclose(got[c], prob[c][nb].mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-9)  # still distributions


def test_smoothing_with_every_neighbour_gives_the_cluster_mean():
    rng = np.random.default_rng(0)
    pts, prob = rng.normal(size=(2, 12, 3)), rng.dirichlet(np.ones(4), (2, 12))
    got = smooth_probs(pts, prob, 12)
    np.testing.assert_allclose(got, np.broadcast_to(prob.mean(axis=1, keepdims=True), got.shape), atol=1e-12)
    assert smooth_probs(pts, prob, 1) is prob


INTR = CameraIntrinsics(160, 120, 100.0, 100.0, 79.5, 59.5)


def _depth(occluder: bool) -> np.ndarray:
    """Camera looking along +z at a wall 1.0 m away; optionally a box face at 0.5 m over the middle."""
    d = np.full((120, 160), 1.0, np.float32)
    if occluder:
        d[40:80, 60:100] = 0.5
    return d


def test_gap_behind_an_occluder_is_hidden_and_an_open_gap_is_not():
    # two pieces at 0.8 m, left and right of the image centre (base frame = optical frame here)
    a = np.array([[-0.12, 0.0, 0.8]])
    b = np.array([[0.12, 0.0, 0.8]])
    eye = np.eye(4)
    assert occluded_gaps(_depth(True), INTR, eye, a, b, tol_m=0.01, steps=30)[0]  # the box hides the gap
    assert not occluded_gaps(_depth(False), INTR, eye, a, b, tol_m=0.01)[0]  # the wall shows through
    # batched = looped, and a segment nobody can see (behind the camera) is not hidden
    a2, b2 = np.vstack([a, a, [[0, 0, -1.0]]]), np.vstack([b, [[0.0, 0.0, 0.8]], [[0.1, 0, -1.0]]])
    got = occluded_gaps(_depth(True), INTR, eye, a2, b2)
    ref = [occluded_gaps(_depth(True), INTR, eye, a2[i:i + 1], b2[i:i + 1])[0] for i in range(3)]
    np.testing.assert_array_equal(got, ref)
    assert not got[2]


def test_gap_test_uses_the_camera_pose():
    # the same scene seen from a camera 0.3 m further back along z: base points shift by +0.3 m
    T_camera_base = np.eye(4)
    T_camera_base[2, 3] = 0.3
    a = np.array([[-0.12 * 0.5 / 0.8, 0.0, 0.5]])  # base frame: 0.8 m from that camera
    b = np.array([[0.12 * 0.5 / 0.8, 0.0, 0.5]])
    assert occluded_gaps(_depth(True), INTR, T_camera_base, a, b)[0]
    assert not occluded_gaps(_depth(False), INTR, T_camera_base, a, b)[0]
