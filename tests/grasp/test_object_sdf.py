"""Exact object signed distance: sign, value and gradient against independent references."""

import numpy as np
import pytest
import torch
import trimesh

from ifgrasp.errors import InputError
from ifgrasp.grasp.object_sdf import ObjectSDF


@pytest.fixture(scope="module")
def box_sdf():
    return ObjectSDF.from_trimesh(trimesh.creation.box(extents=(0.1, 0.2, 0.3)), "box")


def test_box_values_match_analytic_distance(box_sdf):
    pts = np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.0, 0.2], [0.04, 0.0, 0.0]])
    sdf = box_sdf(torch.tensor(pts, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(sdf, [-0.05, 0.05, 0.05, -0.01], atol=1e-5)


def test_sign_agrees_with_trimesh_on_a_concave_mesh():
    ring = trimesh.creation.annulus(r_min=0.02, r_max=0.04, height=0.03)
    field = ObjectSDF.from_trimesh(ring)
    pts = np.random.default_rng(0).uniform(-0.05, 0.05, size=(500, 3))
    ours, _ = field.query_np(pts)
    reference = -trimesh.proximity.signed_distance(ring, pts)  # trimesh: positive inside
    np.testing.assert_allclose(ours, reference, atol=1e-4)


def test_gradient_matches_finite_differences(box_sdf):
    pts = torch.tensor([[0.09, 0.03, 0.01], [0.02, -0.15, 0.05], [0.01, 0.02, -0.1]], dtype=torch.float64,
                       requires_grad=True)
    box_sdf(pts).sum().backward()
    eps = 1e-5
    fd = np.zeros((3, 3))
    for k in range(3):
        d = torch.zeros(3, dtype=torch.float64)
        d[k] = eps
        fd[:, k] = ((box_sdf(pts.detach() + d) - box_sdf(pts.detach() - d)) / (2 * eps)).numpy()
    np.testing.assert_allclose(pts.grad.numpy(), fd, atol=1e-3)


def test_open_mesh_is_refused():
    box = trimesh.creation.box()
    open_mesh = trimesh.Trimesh(box.vertices, box.faces[:-2])  # one face of the box removed
    with pytest.raises(InputError, match="not watertight"):
        ObjectSDF.from_trimesh(open_mesh, "open box")


def test_empty_mesh_is_refused():
    with pytest.raises(InputError, match="empty"):
        ObjectSDF(np.zeros((0, 3)), np.zeros((0, 3), int), "nothing")
