"""How each category of the object vocabulary (``ifgrasp.vocabulary``) is built: builder, materials,
friction; and the train / held-out families.

Seeds ``0 .. HELDOUT_SEED_BASE - 1`` make training instances; seeds ``>= HELDOUT_SEED_BASE`` make
held-out instances, which also use shape variants no training instance has (e.g. a squarish
mug handle, a claw hammer, a square bottle). The same (category, seed) always gives the same mesh.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from ifgrasp import vocabulary
from ifgrasp.errors import InputError, UnknownObjectError, known
from ifgrasp.sim.objects import plain, tools, vessels
from ifgrasp.sim.objects.base import GraspObject, assemble
from ifgrasp.sim.objects.vessels import Pieces

#: First held-out seed; training seeds lie below it.
HELDOUT_SEED_BASE = 1000
#: Default instances per category in each family.
DEFAULT_PER_CATEGORY = {"train": 6, "heldout": 3}


@dataclass(frozen=True)
class Recipe:
    """How to build one category: builder (pieces tagged with the vocabulary's parts), density per
    part (kg/m^3), friction."""

    build: Callable[[np.random.Generator, bool], Pieces]
    density_kg_m3: dict[str, float]
    friction: float


# Densities: ceramic ~2300, steel 7850, aluminium 2700, wood ~700, hard plastic ~1000-1300;
# liquid-filled containers ~1000 as a whole; power-tool housings with motor and battery ~1000.
# Resulting masses over the train + held-out instances (g) beside a real reference: YCB = the YCB
# object set's measured masses (Calli et al., "The YCB Object and Model Set", IEEE RAM 2015):
#   mug 342-387 (ceramic mugs 300-400; YCB 025_mug, plastic, 118)   hammer 471-686 (YCB 048_hammer 665)
#   spray_bottle 524-669 (YCB 022_windex_bottle, 765 ml filled, 1022)   power_drill 776-964 (YCB 035_power_drill 895)
#   knife 121-178 (chef's knives 150-250; YCB 032_knife, a table knife, 31)   frying_pan 592-908 (YCB 027_skillet 950)
#   bottle 545-719 (YCB 006_mustard_bottle 603)   teapot 468-913 (empty ceramic teapots 0.5-1 kg)
#   box 40-162 (light packets; YCB 003_cracker_box 411)   cylinder 92-275 (YCB 005_tomato_soup_can 349)
#   sphere 59-175 (YCB 056_tennis_ball 58, 054_softball 191)
_RECIPES: dict[str, Recipe] = {
    "mug": Recipe(vessels.mug, {"body": 2300, "handle": 2300}, 0.6),
    "hammer": Recipe(tools.hammer, {"handle": 700, "head": 7850}, 0.6),
    "spray_bottle": Recipe(tools.spray_bottle, {"body": 900, "trigger": 1000, "nozzle": 1000}, 0.5),
    "power_drill": Recipe(tools.power_drill, {"body": 1000, "grip": 800, "trigger": 1100}, 0.7),
    "knife": Recipe(tools.knife, {"blade": 7850, "handle": 1200}, 0.5),
    "frying_pan": Recipe(vessels.frying_pan, {"pan": 2700, "handle": 1300}, 0.5),
    "bottle": Recipe(vessels.bottle, {"body": 1000, "cap": 1000}, 0.5),
    "teapot": Recipe(vessels.teapot, {"body": 450, "handle": 2300, "spout": 2300}, 0.6),
    "box": Recipe(plain.box, {"body": 400}, 0.6),
    "cylinder": Recipe(plain.cylinder, {"body": 600}, 0.5),
    "sphere": Recipe(plain.sphere, {"body": 500}, 0.6),
}

#: Category names and their parts in label order: the vocabulary's, in its order.
CATEGORIES: tuple[str, ...] = tuple(vocabulary.CATEGORIES)
PARTS: dict[str, tuple[str, ...]] = {c: vocabulary.CATEGORIES[c].parts for c in CATEGORIES}
if set(_RECIPES) != set(CATEGORIES):  # a category added to the vocabulary needs a recipe here, and back
    raise RuntimeError(f"object recipes {sorted(_RECIPES)} differ from the vocabulary {sorted(CATEGORIES)}")
for _c, _r in _RECIPES.items():
    if set(_r.density_kg_m3) != set(PARTS[_c]):
        raise RuntimeError(f"{_c}: densities for {sorted(_r.density_kg_m3)}, vocabulary parts {PARTS[_c]}")


def is_heldout(seed: int) -> bool:
    """True for seeds of the held-out family."""
    return seed >= HELDOUT_SEED_BASE


def make_object(category: str, seed: int) -> GraspObject:
    """Build instance ``seed`` of ``category`` (deterministic: the same seed gives the same mesh).

    Raises UnknownObjectError for an unknown category, InputError for a negative seed or a
    degenerate result (empty or non-watertight union, a part with no surface).
    """
    if category not in _RECIPES:
        raise UnknownObjectError(f"unknown object category '{category}'; known: {known(CATEGORIES)}")
    if int(seed) != seed or seed < 0:
        raise InputError(f"object seed must be a non-negative integer, got {seed!r} for '{category}'")
    seed = int(seed)
    spec = _RECIPES[category]
    rng = np.random.default_rng([zlib.crc32(category.encode()), seed])
    pieces = spec.build(rng, is_heldout(seed))
    return assemble(category, seed, PARTS[category], pieces, spec.density_kg_m3, spec.friction)


def object_family(
    split: Literal["train", "heldout"], per_category: int | None = None
) -> list[tuple[str, int]]:
    """(category, seed) pairs of a family: ``per_category`` seeds per category (6 train, 3 held-out
    by default); train seeds are 0, 1, ...; held-out seeds HELDOUT_SEED_BASE, +1, ... (disjoint)."""
    if split not in DEFAULT_PER_CATEGORY:
        raise InputError(f"unknown object split '{split}'; known: {known(DEFAULT_PER_CATEGORY)}")
    n = DEFAULT_PER_CATEGORY[split] if per_category is None else int(per_category)
    if not 0 < n <= HELDOUT_SEED_BASE:
        raise InputError(f"per_category must be in 1..{HELDOUT_SEED_BASE}, got {per_category}")
    base = 0 if split == "train" else HELDOUT_SEED_BASE
    return [(c, base + i) for c in CATEGORIES for i in range(n)]
