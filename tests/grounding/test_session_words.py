"""Session commands in words (ifgrasp.grounding.session) and the instruction length limit."""

import pytest

from ifgrasp.errors import InputError
from ifgrasp.grounding import parse_instruction
from ifgrasp.grounding.parser import MAX_INSTRUCTION_CHARS
from ifgrasp.grounding.session import task_of


@pytest.mark.parametrize("text, task", [
    ("put it back", "place"), ("Put the mug back down, please.", "place"), ("set it down", "place"),
    ("let go", "release"), ("let it go!", "release"), ("release the mug", "release"), ("open your hand", "release"),
    ("go home", "home"), ("home", "home"), ("return to the home position", "home"),
    ("pick up the mug by its handle", "grasp"), ("could you lift the cup using the handle please", "grasp"),
    ("hold the spray bottle by its trigger", "grasp"),
])
def test_task_of(text, task):
    assert task_of(text) == task


def test_an_over_long_instruction_is_refused_with_the_limit():
    with pytest.raises(InputError, match=f"10000 characters long; the limit is {MAX_INSTRUCTION_CHARS}"):
        parse_instruction("pick up the mug " * 625)
    assert parse_instruction("pick up the mug by its handle").part == "handle"
