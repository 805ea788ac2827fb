"""Object library: geometry, parts, sizes, determinism, signed distance, families, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from hypothesis import given, settings
from hypothesis import strategies as st

from ifgrasp.errors import InputError, UnknownObjectError, UnknownPartError
from ifgrasp.sim.objects import (
    CATEGORIES,
    HELDOUT_SEED_BASE,
    PARTS,
    GraspObject,
    is_heldout,
    make_object,
    object_family,
)
from ifgrasp.sim.objects import primitives as P
from ifgrasp.sim.objects.base import assemble

# (min, max) of the bounding-box extents (x, y, z) in metres, from typical household objects.
SIZE_M = {
    "mug": ((0.09, 0.075, 0.08), (0.145, 0.11, 0.11)),
    "hammer": ((0.25, 0.08, 0.02), (0.35, 0.13, 0.04)),
    "spray_bottle": ((0.08, 0.04, 0.2), (0.13, 0.09, 0.28)),
    "power_drill": ((0.15, 0.05, 0.15), (0.26, 0.08, 0.25)),
    "knife": ((0.24, 0.03, 0.014), (0.36, 0.055, 0.022)),
    "frying_pan": ((0.3, 0.15, 0.05), (0.46, 0.3, 0.09)),
    "bottle": ((0.05, 0.05, 0.17), (0.08, 0.08, 0.26)),
    "teapot": ((0.18, 0.12, 0.1), (0.3, 0.17, 0.17)),
    "box": ((0.04, 0.04, 0.04), (0.09, 0.08, 0.1)),
    "cylinder": ((0.05, 0.05, 0.06), (0.08, 0.08, 0.14)),
    "sphere": ((0.058, 0.058, 0.058), (0.09, 0.09, 0.09)),
}
MASS_KG = (0.05, 1.3)
FAMILY = object_family("train", 2) + object_family("heldout", 1)


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, int], GraspObject]:
    return {key: make_object(*key) for key in FAMILY}


def test_vocabulary_matches_the_shared_list():
    assert set(CATEGORIES) == set(SIZE_M)
    assert PARTS["mug"] == ("body", "handle") and PARTS["spray_bottle"] == ("body", "trigger", "nozzle")
    assert PARTS["power_drill"] == ("body", "grip", "trigger") and PARTS["teapot"] == ("body", "handle", "spout")
    assert all(PARTS[c] == ("body",) for c in ("box", "cylinder", "sphere"))


@pytest.mark.parametrize("key", FAMILY, ids=[f"{c}_{s}" for c, s in FAMILY])
def test_object_is_a_labelled_plausible_solid(objects, key):
    obj = objects[key]
    m = obj.mesh
    assert m.is_watertight and m.is_volume and m.volume > 0
    assert m.body_count == 1  # one solid, no pieces that merely touch
    assert obj.name == f"{key[0]}_{key[1]:04d}" and obj.part_names == PARTS[key[0]]
    assert obj.face_part.shape == (len(m.faces),)
    # resting frame: bottom on z = 0, bounding box centred in x-y
    assert m.bounds[0, 2] == pytest.approx(0.0, abs=1e-9)
    assert np.allclose(m.bounds[:, :2].mean(axis=0), 0.0, atol=1e-9)
    lo, hi = SIZE_M[key[0]]
    assert np.all(m.extents >= lo) and np.all(m.extents <= hi), m.extents
    assert MASS_KG[0] <= obj.mass_kg <= MASS_KG[1]
    assert 0.3 <= obj.friction <= 1.0
    # every part has faces and at least 1 cm^2 (a trigger or a nozzle is small, not a sliver)
    area = np.bincount(obj.face_part, weights=m.area_faces, minlength=len(obj.part_names))
    assert np.all(area > 1e-4), dict(zip(obj.part_names, area))
    # a few dozen convex pieces at most, each convex, and their masses sum to the object's mass
    assert 1 <= len(obj.collision_pieces) <= 40
    assert all(p.is_convex and p.is_watertight for p, _ in obj.collision_pieces)
    assert obj.piece_masses_kg().sum() == pytest.approx(obj.mass_kg)
    # pieces cover the whole solid: union volume <= sum of piece volumes
    assert m.volume <= sum(p.volume for p, _ in obj.collision_pieces) + 1e-9


@pytest.mark.parametrize("key", [("mug", 0), ("teapot", 1000), ("power_drill", 0), ("spray_bottle", 1000)])
def test_face_labels_match_nearest_part_by_exact_distance(objects, key):
    """Independent reference: exact point-to-mesh distance to each part's own union."""
    obj = objects[key]
    cent = obj.mesh.triangles_center  # (F, 3)
    dist = np.stack(
        [
            trimesh.proximity.closest_point(
                trimesh.boolean.union([p for p, k in obj.collision_pieces if k == i], engine="manifold"), cent
            )[1]
            for i in range(len(obj.part_names))
        ],
        axis=1,
    )  # (F, P)
    agree = (dist.argmin(axis=1) == obj.face_part) | (dist.min(axis=1) == dist[np.arange(len(cent)), obj.face_part])
    area = obj.mesh.area_faces
    assert area[agree].sum() / area.sum() > 0.99


def test_same_seed_same_mesh_other_seed_other_mesh():
    a, b, c = make_object("mug", 3), make_object("mug", 3), make_object("mug", 4)
    assert np.array_equal(a.mesh.vertices, b.mesh.vertices) and np.array_equal(a.mesh.faces, b.mesh.faces)
    assert np.array_equal(a.face_part, b.face_part) and a.mass_kg == b.mass_kg
    assert not np.allclose(a.mesh.extents, c.mesh.extents)


@settings(max_examples=12, deadline=None)
@given(category=st.sampled_from(CATEGORIES), seed=st.integers(0, 3 * HELDOUT_SEED_BASE))
def test_any_seed_builds_a_valid_object(category, seed):
    obj = make_object(category, seed)
    assert obj.mesh.is_watertight and obj.mesh.volume > 0
    assert set(np.unique(obj.face_part)) == set(range(len(obj.part_names)))


def test_signed_distance_sign_and_magnitude(objects):
    rng = np.random.default_rng(0)
    for key in [("mug", 0), ("hammer", 1000), ("knife", 0), ("teapot", 0)]:
        obj = objects[key]
        # centroids of the convex pieces lie inside the solid
        centres = np.array([p.centroid for p, _ in obj.collision_pieces])
        assert np.all(obj.signed_distance(centres) < 0)
        # far points: positive and at least their distance to the bounding box
        far = rng.normal(size=(64, 3))
        far = far / np.linalg.norm(far, axis=1, keepdims=True) * 1.0 + obj.mesh.centroid
        sd = obj.signed_distance(far)
        lo, hi = obj.mesh.bounds
        box_dist = np.linalg.norm(np.maximum(0, np.maximum(lo - far, far - hi)), axis=1)
        assert np.all(sd > 0) and np.all(sd >= box_dist - 1e-9)
        # near points against independent references: brute-force exact distance to every
        # triangle, and trimesh's ray-test containment for the sign
        pts, normals, _ = obj.sample_surface(60, rng)
        probe = pts + normals * rng.uniform(-0.003, 0.003, size=(60, 1))  # (60, 3)
        tri = obj.mesh.triangles  # (F, 3, 3)
        close = trimesh.triangles.closest_point(np.repeat(tri, 60, axis=0), np.tile(probe, (len(tri), 1)))
        brute = np.linalg.norm(close - np.tile(probe, (len(tri), 1)), axis=1).reshape(len(tri), 60).min(axis=0)
        sd = obj.signed_distance(probe)
        assert np.allclose(np.abs(sd), brute, atol=2e-6)
        ok = brute > 1e-4  # away from the surface, where the ray test is reliable
        assert np.array_equal(sd[ok] < 0, obj.mesh.contains(probe[ok]))


def test_mug_is_an_open_cup():
    mug = make_object("mug", 0)
    lo, hi = mug.mesh.bounds
    body = np.array([p.centroid for p, k in mug.collision_pieces if k == 0]).mean(axis=0)
    cavity = np.array([[body[0], body[1], 0.5 * hi[2]], [body[0], body[1], hi[2] - 0.005]])
    assert np.all(mug.signed_distance(cavity) > 0.02)  # the inside of the cup is air


def test_sample_surface_points_normals_parts(objects):
    obj = objects[("spray_bottle", 0)]
    pts, normals, part = obj.sample_surface(4000, np.random.default_rng(1))
    assert pts.shape == (4000, 3) and normals.shape == (4000, 3) and part.shape == (4000,)
    assert np.allclose(np.linalg.norm(normals, axis=1), 1.0)
    assert np.abs(obj.signed_distance(pts[:300])).max() < 1e-6
    # parts are sampled in proportion to their area
    area = np.bincount(obj.face_part, weights=obj.mesh.area_faces)
    share = np.bincount(part, minlength=len(area)) / len(part)
    assert np.allclose(share, area / area.sum(), atol=0.02)
    # outward normals: a small step along them leaves the solid
    assert np.all(obj.signed_distance(pts[:300] + 1e-3 * normals[:300]) > 0)
    again = obj.sample_surface(4000, np.random.default_rng(1))
    assert np.array_equal(again[0], pts)


def test_part_index_and_unknown_part():
    mug = make_object("mug", 0)
    assert mug.part_index("handle") == 1
    with pytest.raises(UnknownPartError, match="no part 'blade'.*body, handle"):
        mug.part_index("blade")


def test_families_are_disjoint_and_large_enough():
    train, held = object_family("train"), object_family("heldout")
    assert len(train) >= 40 and len(held) >= len(CATEGORIES)
    assert not set(train) & set(held)
    assert all(not is_heldout(s) for _, s in train) and all(is_heldout(s) for _, s in held)
    assert len(object_family("train", 2)) == 2 * len(CATEGORIES)
    # held-out instances use shape variants: the held-out mug's handle is squarer than the training one
    def handle_fill(obj):  # handle area / its bounding-box side area in x-z: higher for a D handle
        pts = np.concatenate([p.vertices for p, k in obj.collision_pieces if k == 1])
        return obj.mesh.area_faces[obj.face_part == 1].sum() / np.prod(np.ptp(pts[:, [0, 2]], axis=0))
    assert handle_fill(make_object("mug", HELDOUT_SEED_BASE)) > 1.1 * handle_fill(make_object("mug", 0))


def test_bad_input_errors_name_the_problem():
    with pytest.raises(UnknownObjectError, match="'cup'.*known: .*mug"):
        make_object("cup", 0)
    with pytest.raises(InputError, match="seed"):
        make_object("mug", -1)
    with pytest.raises(InputError, match="split"):
        object_family("test")
    with pytest.raises(InputError, match="per_category"):
        object_family("train", 0)
    with pytest.raises(InputError, match="convex piece"):
        P.hull(np.zeros((3, 3)))
    with pytest.raises(InputError, match="mug_0042.*no pieces"):
        assemble("mug", 42, ("body", "handle"), [], {"body": 1.0, "handle": 1.0}, 0.5)
    big, small = P.box((0.1, 0.1, 0.1)), P.box((0.01, 0.01, 0.01))  # handle hidden inside the body
    with pytest.raises(InputError, match="mug_0042.*handle.*no surface"):
        assemble("mug", 42, ("body", "handle"), [(big, "body"), (small, "handle")], {"body": 1, "handle": 1}, 0.5)
