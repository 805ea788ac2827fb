"""One object vocabulary: grounding, the simulator and perception all use ``ifgrasp.vocabulary``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ifgrasp import vocabulary
from ifgrasp.grounding import parse_instruction
from ifgrasp.paths import REPO_ROOT
from ifgrasp.perception.trained.vocab import PART_ALLOWED, PART_VOCAB
from ifgrasp.sim.objects import CATEGORIES, PARTS, make_object


def test_simulator_builds_every_vocabulary_category_with_its_parts_in_label_order():
    assert CATEGORIES == tuple(vocabulary.CATEGORIES)
    for name, spec in vocabulary.CATEGORIES.items():
        obj = make_object(name, 0)
        assert obj.part_names == spec.parts == PARTS[name]


@pytest.mark.parametrize("name", list(vocabulary.CATEGORIES))
def test_grounding_names_what_the_simulator_builds(name):
    spec = vocabulary.CATEGORIES[name]
    for part in spec.parts:
        phrase = name.replace("_", " ")
        g = parse_instruction(f"pick up the {phrase} by its {part.replace('_', ' ')}")
        assert (g.category, g.part) == (name, part)
        assert g.part in make_object(name, 0).part_names


def test_perception_labels_are_the_vocabulary_parts():
    assert set(PART_VOCAB) == {p for spec in vocabulary.CATEGORIES.values() for p in spec.parts}
    for c, spec in enumerate(vocabulary.CATEGORIES.values()):
        assert {PART_VOCAB[i] for i in np.flatnonzero(PART_ALLOWED[c])} == set(spec.parts)


def test_the_committed_perception_network_was_trained_on_this_vocabulary():
    meta = json.loads((REPO_ROOT / "models" / "perception" / "trained.json").read_text())
    meta = meta.get("meta", meta)
    assert tuple(meta["categories"]) == tuple(vocabulary.CATEGORIES)
    assert tuple(meta["parts"]) == PART_VOCAB
