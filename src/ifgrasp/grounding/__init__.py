"""Language grounding: instruction -> object category, part, parts to avoid, attributes, relations.

    from ifgrasp.grounding import parse_instruction
    g = parse_instruction("pick up the red mug on the left by its handle")
    g.category, g.part, g.attributes, g.relations   # 'mug', 'handle', ('red',), ('left',)
"""

from ifgrasp.grounding.parser import INTENTS, GroundedInstruction, parse_instruction
from ifgrasp.vocabulary import (
    CATEGORIES, COLOURS, RELATIONS, SIZES, CategorySpec, category, check_part, parts_of,
)

__all__ = [
    "CATEGORIES", "COLOURS", "INTENTS", "RELATIONS", "SIZES", "CategorySpec", "GroundedInstruction",
    "category", "check_part", "parse_instruction", "parts_of",
]
