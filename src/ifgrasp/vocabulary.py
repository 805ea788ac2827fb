"""The object vocabulary: one table of categories, their parts, default parts and synonyms.

The one vocabulary of the project: grounding parses into these names, the simulator builds these
categories with these parts in this label order (``ifgrasp.sim.objects``), and perception's part
labels are these parts (``ifgrasp.perception.trained.vocab``).

Default part (the part a functional grasp targets when the instruction names none), per category:
  mug -> handle (drinking posture), hammer -> handle, knife -> handle (never the blade),
  frying_pan -> handle, teapot -> handle (pouring), power_drill -> grip (index finger reaches the
  trigger from there), spray_bottle -> body (palm on the body, finger on the trigger only when
  asked), bottle -> body, box / cylinder / sphere -> body.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ifgrasp.errors import UnknownObjectError, UnknownPartError, known


@dataclass(frozen=True)
class CategorySpec:
    """One category: its parts (simulation / label names), default part and phrases.

    ``synonyms``: phrases naming the object (lower case, single spaces);
    ``part_synonyms``: phrase -> part name, for phrases whose meaning depends on the category
    (``grip`` is the ``handle`` of a hammer but the ``grip`` of a drill). Each part's own name is
    always a phrase for itself.
    """

    name: str
    parts: tuple[str, ...]
    default_part: str
    synonyms: tuple[str, ...]
    part_synonyms: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.default_part not in self.parts:
            raise ValueError(f"{self.name}: default part {self.default_part} not in {self.parts}")
        for phrase, part in self.part_synonyms.items():
            if part not in self.parts:
                raise ValueError(f"{self.name}: synonym {phrase!r} -> unknown part {part!r}")

    def part_phrases(self) -> dict[str, str]:
        """Every phrase (part names included) -> part name."""
        return {**{p.replace("_", " "): p for p in self.parts}, **self.part_synonyms}


_HANDLE = {"grip": "handle", "handgrip": "handle", "hand grip": "handle", "haft": "handle"}

#: The vocabulary table. Part order is the label order the simulator and part networks use.
CATEGORIES: dict[str, CategorySpec] = {
    c.name: c
    for c in (
        CategorySpec("mug", ("body", "handle"), "handle",
                     ("mug", "cup", "coffee cup", "coffee mug", "tea cup", "teacup"),
                     {**_HANDLE, "ear": "handle", "side": "body", "rim": "body"}),
        CategorySpec("hammer", ("handle", "head"), "handle",
                     ("hammer", "mallet", "claw hammer"),
                     {**_HANDLE, "shaft": "handle", "striking end": "head", "face": "head"}),
        CategorySpec("spray_bottle", ("body", "trigger", "nozzle"), "body",
                     ("spray bottle", "sprayer", "spray can", "mister", "spritzer"),
                     {"lever": "trigger", "head": "nozzle", "spray head": "nozzle", "tip": "nozzle",
                      "bottle": "body", "reservoir": "body"}),
        CategorySpec("power_drill", ("body", "grip", "trigger"), "grip",
                     ("power drill", "drill", "cordless drill", "drill driver", "electric drill"),
                     {"handle": "grip", "hand grip": "grip", "pistol grip": "grip",
                      "switch": "trigger", "button": "trigger", "motor": "body", "housing": "body"}),
        CategorySpec("knife", ("blade", "handle"), "handle",
                     ("knife", "kitchen knife", "chef's knife", "chef knife", "blade knife"),
                     {**_HANDLE, "edge": "blade", "sharp part": "blade", "sharp end": "blade",
                      "cutting edge": "blade", "point": "blade", "tip": "blade"}),
        CategorySpec("frying_pan", ("pan", "handle"), "handle",
                     ("frying pan", "pan", "skillet", "fry pan", "frypan", "saucepan", "wok"),
                     {**_HANDLE, "bowl": "pan", "rim": "pan", "cooking surface": "pan", "body": "pan"}),
        CategorySpec("bottle", ("body", "cap"), "body",
                     ("bottle", "water bottle", "wine bottle", "flask"),
                     {"lid": "cap", "top": "cap", "neck": "cap", "cork": "cap", "side": "body"}),
        CategorySpec("teapot", ("body", "handle", "spout"), "handle",
                     ("teapot", "tea pot", "kettle", "tea kettle"),
                     {**_HANDLE, "snout": "spout", "pot": "body"}),
        CategorySpec("box", ("body",), "body", ("box", "carton", "cube", "block", "package"), {}),
        CategorySpec("cylinder", ("body",), "body", ("cylinder", "can", "tin", "tube", "canister"), {}),
        CategorySpec("sphere", ("body",), "body", ("sphere", "ball", "orb", "globe"), {}),
    )
}

#: Colour words -> canonical colour name.
COLOURS: dict[str, str] = {
    **{c: c for c in ("red", "green", "blue", "yellow", "white", "black", "orange", "purple",
                      "pink", "brown", "grey", "silver")},
    "gray": "grey", "violet": "purple", "dark": "black", "golden": "yellow", "gold": "yellow",
}
#: Size words -> canonical size attribute.
SIZES: dict[str, str] = {"big": "large", "large": "large", "huge": "large", "small": "small",
                         "little": "small", "tiny": "small", "tall": "tall", "short": "short"}
#: Spatial words -> relation. Robot view, REP-103 base frame: left = +y, right = -y,
#: front = nearer to the robot along x, back = farther; nearest / farthest from the robot base.
RELATIONS: dict[str, str] = {
    "left": "left", "leftmost": "left", "right": "right", "rightmost": "right",
    "nearest": "nearest", "closest": "nearest", "closer": "nearest",
    "farthest": "farthest", "furthest": "farthest", "far": "farthest", "farther": "farthest",
    "further": "farthest", "front": "front", "frontmost": "front", "back": "back",
    "behind": "back", "rear": "back", "middle": "middle", "center": "middle", "centre": "middle",
}


def category(name: str) -> CategorySpec:
    """The spec of a category by its canonical name; ``UnknownObjectError`` lists the known ones."""
    try:
        return CATEGORIES[name]
    except KeyError:
        raise UnknownObjectError(f"unknown object category '{name}'; known: {known(CATEGORIES)}") from None


def parts_of(name: str) -> tuple[str, ...]:
    """Part names of a category, in label order."""
    return category(name).parts


def check_part(category_name: str, part: str) -> str:
    """``part`` if ``category_name`` has it, else ``UnknownPartError`` listing its parts."""
    parts = parts_of(category_name)
    if part not in parts:
        raise UnknownPartError(f"object '{category_name}' has no part '{part}'; known: {known(parts)}")
    return part


def object_phrases() -> dict[str, str]:
    """Every object phrase -> category name (category names with spaces included)."""
    out: dict[str, str] = {}
    for spec in CATEGORIES.values():
        out[spec.name.replace("_", " ")] = spec.name
        for s in spec.synonyms:
            out.setdefault(s, spec.name)
    return out


def all_part_phrases() -> set[str]:
    """Every phrase that names some part of some category."""
    return {p for spec in CATEGORIES.values() for p in spec.part_phrases()}
