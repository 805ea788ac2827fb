"""Procedural household objects with named functional parts (issue 2 item 5).

Each object is the watertight union of convex pieces tagged with parts; the same pieces become
MuJoCo collision geoms. Typical use::

    from ifgrasp.sim.objects import make_object, object_family, add_object_to_spec
    mug = make_object("mug", 3)
    pts, normals, part = mug.sample_surface(1024, np.random.default_rng(0))
    sdf = mug.signed_distance(pts)                    # negative inside, metres
    for category, seed in object_family("train"): ...
"""

from ifgrasp.sim.objects.base import GraspObject
from ifgrasp.sim.objects.gallery import render_object_gallery
from ifgrasp.sim.objects.mujoco_export import PART_RGBA, add_object_to_spec, geom_part_map
from ifgrasp.sim.objects.registry import (
    CATEGORIES,
    HELDOUT_SEED_BASE,
    PARTS,
    is_heldout,
    make_object,
    object_family,
)

__all__ = [
    "CATEGORIES",
    "HELDOUT_SEED_BASE",
    "PARTS",
    "PART_RGBA",
    "GraspObject",
    "add_object_to_spec",
    "geom_part_map",
    "is_heldout",
    "make_object",
    "object_family",
    "render_object_gallery",
]
