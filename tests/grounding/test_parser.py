"""Grounding: examples from the issue, synonyms, errors, and properties over the whole vocabulary."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ifgrasp.errors import IfgraspError, InputError, UnknownObjectError, UnknownPartError
from ifgrasp.grounding import CATEGORIES, INTENTS, parse_instruction


@pytest.mark.parametrize(
    "text, category, part, avoid, attributes, relations, intent",
    [
        ("the red mug by its handle", "mug", "handle", (), ("red",), (), "pick"),
        ("hand me the knife, don't touch the blade", "knife", "handle", ("blade",), (), (), "handover"),
        ("the bottle on the left", "bottle", "body", (), (), ("left",), "pick"),
        ("grab the coffee cup", "mug", "handle", (), (), (), "pick"),
        ("pick up the skillet", "frying_pan", "handle", (), (), (), "pick"),
        ("take the pan by the grip", "frying_pan", "handle", (), (), (), "pick"),
        ("get the drill by its handle", "power_drill", "grip", (), (), (), "pick"),
        ("hold the sprayer so you can pull the trigger", "spray_bottle", "trigger", (), (), (), "use"),
        ("hold the drill by the grip so you can pull the trigger", "power_drill", "trigger", (), (), (), "use"),
        ("pass me the big hammer on the right", "hammer", "handle", (), ("large",), ("right",), "handover"),
        ("pick up the nearest teapot by the spout", "teapot", "spout", (), (), ("nearest",), "pick"),
        ("grasp the knife by the handle, not the blade", "knife", "handle", ("blade",), (), (), "pick"),
        ("lift the spray bottle", "spray_bottle", "body", (), (), (), "pick"),
        ("open the bottle by its lid", "bottle", "cap", (), (), (), "pick"),
        ("pick up the farthest green ball", "sphere", "body", (), ("green",), ("farthest",), "pick"),
        ("the knife, avoid the handle", "knife", "blade", ("handle",), (), (), "pick"),
    ],
)
def test_examples(text, category, part, avoid, attributes, relations, intent):
    g = parse_instruction(text)
    assert (g.category, g.part, g.avoid_parts, g.attributes, g.relations, g.intent) == (
        category, part, avoid, attributes, relations, intent)
    assert g.text == text


def test_default_part_flag_and_contact_parts():
    g = parse_instruction("hold the drill by the grip so you can pull the trigger")
    assert not g.part_is_default and g.contact_parts == ("trigger", "grip")
    d = parse_instruction("give me the mug")
    assert d.part_is_default and d.part == CATEGORIES["mug"].default_part


def test_attribute_of_reference_object_is_not_the_targets():
    g = parse_instruction("the red mug next to the blue bottle")
    assert g.category == "mug" and g.attributes == ("red",) and g.other_objects == ("bottle",)


def test_modal_can_is_not_a_cylinder():
    g = parse_instruction("hold the drill so you can press the switch")
    assert g.other_objects == () and g.part == "trigger"
    assert parse_instruction("pick up the can").category == "cylinder"


def test_spray_in_object_name_is_not_a_use_verb():
    assert parse_instruction("pick up the spray bottle by the bottle").intent == "pick"


def test_unknown_object_lists_known_categories():
    with pytest.raises(UnknownObjectError, match="banana.*known: bottle, box, cylinder"):
        parse_instruction("pick up the banana")


@pytest.mark.parametrize("text", ["the mug by its blade", "the mug by its wheel", "hammer, the trigger please"])
def test_unknown_part_lists_the_objects_parts(text):
    with pytest.raises(UnknownPartError, match="known: "):
        parse_instruction(text)


def test_contradiction_and_all_parts_avoided():
    with pytest.raises(InputError, match="touch and to avoid"):
        parse_instruction("hold the knife by the handle, avoid the handle")
    with pytest.raises(InputError, match="avoids every part"):
        parse_instruction("the ball but don't touch the body")


def test_not_a_string():
    with pytest.raises(InputError, match="string"):
        parse_instruction(42)  # type: ignore[arg-type]


_TEMPLATES = (
    "pick up the {obj} by its {part}",
    "grab the {obj} by the {part}",
    "Please hold the {part} of the {obj}.",
    "hand me the {obj}, hold it at the {part}",
    "take the {obj}'s {part}",
    "grasp the {part} on the {obj}",
)
_PAIRS = [(c, p) for c, spec in CATEGORIES.items() for p in spec.parts]


@given(pair=st.sampled_from(_PAIRS), template=st.sampled_from(_TEMPLATES), data=st.data())
def test_every_category_and_part_parse_back(pair, template, data):
    cat, part = pair
    phrases = [s for s in CATEGORIES[cat].synonyms] + [cat.replace("_", " ")]
    obj = data.draw(st.sampled_from(phrases))
    g = parse_instruction(template.format(obj=obj, part=part.replace("_", " ")))
    assert (g.category, g.part, g.part_is_default) == (cat, part, False)


@given(pair=st.sampled_from([(c, p) for c, p in _PAIRS if len(CATEGORIES[c].parts) > 1]))
def test_avoided_part_is_never_the_grasped_part(pair):
    cat, part = pair
    g = parse_instruction(f"pick up the {cat.replace('_', ' ')}, don't touch the {part}")
    assert g.avoid_parts == (part,) and g.part != part and g.part in CATEGORIES[cat].parts


@given(st.text(max_size=200))
def test_garbage_never_crashes(text):
    try:
        g = parse_instruction(text)
    except IfgraspError:
        return
    assert g.category in CATEGORIES and g.part in CATEGORIES[g.category].parts


@given(st.lists(st.sampled_from(["the", "mug", "handle", "blade", "don't", "red", ",", "left", "by", "its",
                                 "so", "you", "can", "pull", "trigger", "drill", "not", "hand", "me"]),
                max_size=12))
def test_word_salad_is_deterministic(words):
    text = " ".join(words)

    def outcome():
        try:
            return parse_instruction(text)
        except IfgraspError as exc:
            return type(exc).__name__, str(exc)

    assert outcome() == outcome()
