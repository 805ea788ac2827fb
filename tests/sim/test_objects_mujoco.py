"""Object library in MuJoCo: export compiles, objects settle on a plane, a finger fits through a
mug handle (convex pieces, not one hull), geoms map back to parts, the gallery renders."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from PIL import Image

from ifgrasp.errors import SimulationError
from ifgrasp.sim.objects import (
    CATEGORIES,
    PART_RGBA,
    add_object_to_spec,
    geom_part_map,
    make_object,
    render_object_gallery,
)

FINGER_RADIUS_M = 0.0065  # a 13 mm thick finger segment


def _scene(objs, spacing_m=1.0, drop_m=0.03, free=True):
    spec = mujoco.MjSpec()
    spec.option.timestep = 0.002
    spec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[20, 20, 0.1])
    for i, obj in enumerate(objs):
        add_object_to_spec(spec, obj, obj.name, pos=(i * spacing_m, 0.0, drop_m), free=free)
    return spec


def test_export_matches_object_and_every_object_settles_on_the_floor():
    objs = [make_object(c, 0) for c in CATEGORIES] + [make_object("mug", 1000), make_object("knife", 1000)]
    model = _scene(objs).compile()
    data = mujoco.MjData(model)
    for obj in objs:
        bid = model.body(obj.name).id
        assert model.body_mass[bid] == pytest.approx(obj.mass_kg, rel=1e-6)
        parts = geom_part_map(model, obj.name)
        assert len(parts) == len(obj.collision_pieces)
        assert sorted(set(parts.values())) == list(range(len(obj.part_names)))
        for g, p in parts.items():  # names say the part, friction is the object's
            assert model.geom(g).name.split("/")[1] == obj.part_names[p]
            assert model.geom_friction[g, 0] == pytest.approx(obj.friction)
    for _ in range(500):  # 1 s
        mujoco.mj_step(model, data)
    assert np.all(np.isfinite(data.qpos))
    for i, obj in enumerate(objs):
        adr = model.jnt_qposadr[model.body(obj.name).jntadr[0]]
        dadr = model.jnt_dofadr[model.body(obj.name).jntadr[0]]
        pos, vel = data.qpos[adr : adr + 3], data.qvel[dadr : dadr + 6]
        assert np.linalg.norm(vel[:3]) < 0.05 and np.linalg.norm(vel[3:]) < 1.0, (obj.name, vel)
        assert np.linalg.norm(pos[:2] - [i * 1.0, 0.0]) < 0.1, obj.name  # did not fly off
        lowest = data.geom_xpos[list(geom_part_map(model, obj.name))][:, 2].min()
        assert lowest > -0.01, obj.name  # geom centres stay above the floor: no sinking through


def _finger_contacts(obj, finger_pos, hull_instead=False) -> tuple[int, set[int]]:
    """Contacts between a mug and a capsule finger along y at ``finger_pos`` (object frame).

    The mug is free (MuJoCo never collides two bodies welded to the world) and is not stepped.
    """
    spec = mujoco.MjSpec()
    if hull_instead:  # the wrong way: one convex hull of the whole mug
        hull = obj.mesh.convex_hull
        spec.add_mesh(name="hull", uservert=hull.vertices.ravel().tolist(), userface=hull.faces.ravel().tolist())
        body = spec.worldbody.add_body(name=obj.name)
        body.add_freejoint()
        body.add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname="hull")
    else:
        add_object_to_spec(spec, obj, obj.name, free=True)
    finger = spec.worldbody.add_body(name="finger", pos=list(finger_pos), mocap=True)
    finger.add_geom(
        name="finger", type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=[FINGER_RADIUS_M, 0.05, 0],
        quat=[np.cos(np.pi / 4), np.sin(np.pi / 4), 0, 0],  # capsule axis z -> y
    )
    model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    fid = model.geom("finger").id
    touching = {int(c.geom1 if c.geom2 == fid else c.geom2) for c in data.contact[: data.ncon] if fid in (c.geom1, c.geom2)}
    return len(touching), touching


def test_centre_of_mass_is_the_one_mujoco_simulates():
    """The synthesis's torque reference is where MuJoCo puts the centre of mass (parts of different
    density): a hammer's steel head pulls it 8-9 cm from the one-density centroid toward the head."""
    objs = [make_object(c, 1000) for c in CATEGORIES]
    model = _scene(objs, drop_m=0.0).compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    for obj in objs:
        bid = model.body(obj.name).id
        np.testing.assert_allclose(data.xipos[bid] - data.xpos[bid], obj.center_of_mass_m, atol=1e-6, err_msg=obj.name)
    hammer = objs[CATEGORIES.index("hammer")]
    head = hammer.mesh.triangles[hammer.face_part == hammer.part_index("head")].reshape(-1, 3).mean(0)
    shift = hammer.center_of_mass_m - hammer.mesh.center_mass
    assert np.linalg.norm(shift) > 0.05 and shift @ (head - hammer.mesh.center_mass) > 0


@pytest.mark.parametrize("seed", [0, 3, 1000])
def test_finger_passes_through_mug_handle_but_not_through_its_material(seed):
    mug = make_object("mug", seed)
    handle = np.concatenate([p.vertices for p, k in mug.collision_pieces if k == 1])
    body = np.concatenate([p.vertices for p, k in mug.collision_pieces if k == 0])
    z_mid = 0.5 * (handle[:, 2].min() + handle[:, 2].max())
    wall_x, outer_x = body[:, 0].max(), handle[:, 0].max()
    opening = np.array([wall_x + FINGER_RADIUS_M + 0.004, 0.0, z_mid])
    # independent check: the finger's axis is clear of the mesh by more than its radius
    axis = opening + np.linspace(-0.05, 0.05, 21)[:, None] * [0, 1, 0]
    assert mug.signed_distance(axis).min() > FINGER_RADIUS_M
    n, _ = _finger_contacts(mug, opening)
    assert n == 0
    # the same finger in the handle's material touches it, and only handle geoms
    n, geoms = _finger_contacts(mug, [outer_x - 0.004, 0.0, z_mid])
    parts = geom_part_map(_scene([mug]).compile(), mug.name)
    assert n > 0 and {parts[g] for g in geoms} == {1}
    # and one convex hull of the mug would have blocked the opening
    assert _finger_contacts(mug, opening, hull_instead=True)[0] > 0


def test_geom_part_map_unknown_body_and_duplicate_body():
    mug = make_object("mug", 0)
    model = _scene([mug]).compile()
    with pytest.raises(SimulationError, match="no object body 'cup'.*mug_0000"):
        geom_part_map(model, "cup")
    spec = _scene([mug])
    with pytest.raises(SimulationError, match="already has a body named 'mug_0000'"):
        add_object_to_spec(spec, mug, "mug_0000")


def test_gallery_shows_every_part_colour(tmp_path):
    out = render_object_gallery(tmp_path / "gallery.png", split="heldout")
    img = np.asarray(Image.open(out).convert("RGB")).astype(float) / 255.0
    assert img.shape == (960, 1280, 3)
    # lit part colours keep their hue: count pixels whose chromaticity matches each part colour
    chroma = img / np.maximum(img.sum(axis=-1, keepdims=True), 1e-6)
    for rgba in PART_RGBA[:3]:
        ref = rgba[:3] / rgba[:3].sum()
        near = np.linalg.norm(chroma - ref, axis=-1) < 0.02
        assert near.sum() > 500, rgba
