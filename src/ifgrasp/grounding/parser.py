"""Instruction -> object category, part, parts to avoid, attributes and spatial relations.

Deterministic and rule based: the text is normalised, split into clauses (punctuation, ``but``,
``so``, ``then``), and matched longest-phrase-first against the vocabulary table. The first object
phrase names the target; part phrases are resolved against the target's own synonyms; a part
named after a negation (``don't touch``, ``avoid``, ``not``, ``without``) inside its clause is to be
avoided; a part named in a purpose clause (``so you can pull the trigger``) is the functional part
and wins over one named elsewhere (``by the grip``).

    >>> parse_instruction("hand me the knife, don't touch the blade").avoid_parts
    ('blade',)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ifgrasp.errors import InputError, UnknownObjectError, UnknownPartError, known
from ifgrasp.vocabulary import (
    CATEGORIES, COLOURS, RELATIONS, SIZES, all_part_phrases, category, object_phrases,
)

INTENTS = ("pick", "handover", "use")
MAX_INSTRUCTION_CHARS = 300
"""Longest instruction accepted (characters): a spoken command is a sentence, not a page."""
_TOKEN = re.compile(r"[a-z0-9]+|'s|[,.;:!?]")
_BOUNDARY_WORDS = {"but", "so", "then", "while", "instead"}
_NEGATIONS = {"dont", "never", "avoid", "avoiding", "without", "not", "except", "no", "nor"}
_PURPOSE_VERBS = {"pull", "press", "squeeze", "use", "pour", "spray", "cut", "drill", "operate",
                  "fire", "push", "activate", "slice", "chop", "screw", "drink", "serve"}
_HANDOVER_BIGRAMS = {("hand", "me"), ("give", "me"), ("pass", "me"), ("bring", "me"), ("hand", "over"),
                     ("hand", "it"), ("to", "me"), ("fetch", "me"), ("get", "me"), ("hand", "the")}
_USE_WORDS = {"use", "pour", "spray", "cut", "slice", "drill", "squeeze", "operate"}
_PRONOUNS = {"you", "i", "we", "they", "it", "he", "she"}
_STOP = {"the", "a", "an", "its", "his", "her", "their", "my", "your", "this", "that", "one", "me",
         "it", "to", "of", "on", "in", "at", "by", "and", "with", "from", "up", "please", "'s"}
#: Canonical part words: naming one the target lacks is an error, not something to ignore.
_STRONG_PART_WORDS = {p for spec in CATEGORIES.values() for p in spec.parts}


@dataclass(frozen=True)
class GroundedInstruction:
    """What an instruction asks for, in vocabulary names.

    ``category``: target object category; ``part``: the part to grasp (``part_is_default`` when the
    text named none); ``contact_parts``: every part named to be touched, ``part`` first;
    ``avoid_parts``: parts not to touch; ``attributes``: colour / size words (canonical);
    ``relations``: spatial words (``left``, ``right``, ``nearest``, ``farthest``, ``front``, ``back``,
    ``middle``); ``intent``: ``pick`` | ``handover`` | ``use``; ``other_objects``: further
    categories mentioned (reference objects); ``text``: the original instruction.
    """

    text: str
    category: str
    part: str
    part_is_default: bool = False
    contact_parts: tuple[str, ...] = ()
    avoid_parts: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    relations: tuple[str, ...] = ()
    intent: str = "pick"
    other_objects: tuple[str, ...] = ()

    @property
    def colours(self) -> tuple[str, ...]:
        return tuple(a for a in self.attributes if a in COLOURS.values())

    @property
    def object_phrase(self) -> str:
        """A short noun phrase for open-vocabulary detectors: ``'red mug'``."""
        return " ".join([*self.attributes, self.category.replace("_", " ")])

    @property
    def part_phrase(self) -> str:
        """``'handle of a mug'``, for text-prompted part detectors."""
        return f"{self.part.replace('_', ' ')} of a {self.category.replace('_', ' ')}"


@dataclass(frozen=True)
class _Match:
    start: int  # token index
    end: int  # one past the last token
    phrase: str
    kinds: dict[str, str]  # kind -> canonical value, kinds: object, part, colour, size, relation
    clause: int
    negated: bool
    purpose: bool


def _normalise(text: str) -> str:
    t = text.lower().replace("\u2019", "'").replace("`", "'")
    t = re.sub(r"\b(do not|don't|dont|do n't|doesn't|does not|shouldn't|should not|must not)\b", " dont ", t)
    t = re.sub(r"\b(you|i|we|they|it|he|she) can\b", r"\1 _can_", t)  # the verb, not the object
    t = t.replace("-", " ").replace("_can_", "modalcan")
    return t


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@lru_cache(maxsize=1)
def _lexicon() -> tuple[dict[tuple[str, ...], dict[str, str]], int]:
    lex: dict[tuple[str, ...], dict[str, str]] = {}

    def add(phrase: str, kind: str, value: str) -> None:
        key = tuple(_tokens(_normalise(phrase)))
        lex.setdefault(key, {}).setdefault(kind, value)

    for phrase, cat in object_phrases().items():
        add(phrase, "object", cat)
    for phrase in all_part_phrases():
        add(phrase, "part", phrase)  # resolved per target category later
    for table, kind in ((COLOURS, "colour"), (SIZES, "size"), (RELATIONS, "relation")):
        for word, value in table.items():
            add(word, kind, value)
    return lex, max(len(k) for k in lex)


def _scan(tokens: list[str]) -> list[_Match]:
    """Greedy longest-phrase matching, with clause, negation and purpose flags per match."""
    lex, longest = _lexicon()
    matches: list[_Match] = []
    clause, negated, purpose = 0, False, False
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ",.;:!?" or tok in _BOUNDARY_WORDS:
            clause, negated, purpose = clause + 1, False, tok == "so"
            i += 1
            continue
        if tok in _NEGATIONS or (tok == "away" and tokens[i + 1 : i + 2] == ["from"]):
            negated = True
        if (tok == "to" and tokens[i + 1 : i + 2] and tokens[i + 1] in _PURPOSE_VERBS) or tok == "order":
            purpose, negated = True, False
        for n in range(min(longest, len(tokens) - i), 0, -1):
            kinds = lex.get(tuple(tokens[i : i + n]))
            if kinds:
                matches.append(_Match(i, i + n, " ".join(tokens[i : i + n]), kinds, clause, negated, purpose))
                i += n
                break
        else:
            i += 1
    return matches


def _unknown_object_message(text: str, tokens: list[str]) -> str:
    lex, _ = _lexicon()
    guess = ""
    for a, b in zip(tokens, tokens[1:]):
        if a in ("the", "a", "an", "that", "this") and b not in _STOP and (b,) not in lex and b.isalpha():
            guess = f" ('{b}'?)"
            break
    return f"no known object in {text!r}{guess}; known: {known(CATEGORIES)}"


def _outside_objects(tokens: list[str], object_matches: list[_Match]) -> list[str]:
    """Tokens not inside an object phrase (``spray`` in ``spray bottle`` is no verb)."""
    inside = {i for m in object_matches for i in range(m.start, m.end)}
    return [t for i, t in enumerate(tokens) if i not in inside]


def parse_instruction(text: str) -> GroundedInstruction:
    """Parse a natural-language command; raises ``UnknownObjectError`` / ``UnknownPartError`` /
    ``InputError`` (contradictions, non-text) with the valid choices in the message."""
    if not isinstance(text, str):
        raise InputError(f"instruction must be a string, got {type(text).__name__}")
    if len(text) > MAX_INSTRUCTION_CHARS:
        raise InputError(f"instruction is {len(text)} characters long; the limit is {MAX_INSTRUCTION_CHARS}: "
                         "say it in one sentence, e.g. 'pick up the mug by its handle'")
    tokens = _tokens(_normalise(text))
    matches = _scan(tokens)
    target = next((m for m in matches if "object" in m.kinds), None)
    if target is None:
        raise UnknownObjectError(_unknown_object_message(text, tokens))
    cat = target.kinds["object"]
    spec = category(cat)
    phrases = spec.part_phrases()
    # "the pan of the frying pan": a first phrase that is also a part of a later-named same object.
    later = next((m for m in matches if m.start > target.start and m.kinds.get("object") == cat), None)
    if later is not None and target.phrase in phrases:
        target = later

    contact: list[tuple[bool, str]] = []  # (purpose, part)
    avoid: list[str] = []
    others: list[str] = []
    object_matches = [m for m in matches if "object" in m.kinds]
    attributes: list[str] = []
    relations: list[str] = []
    for m in matches:
        if m is target:
            continue
        if "part" in m.kinds and m.phrase in phrases:
            part = phrases[m.phrase]
            (avoid.append(part) if m.negated else contact.append((m.purpose, part)))
        elif "part" in m.kinds and m.phrase in _STRONG_PART_WORDS and "object" not in m.kinds:
            raise UnknownPartError(f"object '{cat}' has no part '{m.phrase}'; known: {known(spec.parts)}")
        elif "object" in m.kinds:
            if m.kinds["object"] != cat and m.kinds["object"] not in others:
                others.append(m.kinds["object"])
        elif ("colour" in m.kinds or "size" in m.kinds) and not m.negated:
            # An adjective belongs to the next object phrase in its clause (or to the target).
            nxt = next((o for o in object_matches if o.start >= m.end and o.clause == m.clause), None)
            if nxt is None or nxt is target:
                value = m.kinds.get("colour") or m.kinds["size"]
                if value not in attributes:
                    attributes.append(value)
        elif "relation" in m.kinds and m.kinds["relation"] not in relations:
            relations.append(m.kinds["relation"])

    # "by its <word>" names a part even when the word is not in the vocabulary.
    for i, tok in enumerate(tokens[:-2]):
        if tok == "by" and tokens[i + 1] == "its":
            word = tokens[i + 2]
            if not any(m.start == i + 2 and "part" in m.kinds for m in matches) and word.isalpha():
                raise UnknownPartError(f"object '{cat}' has no part '{word}'; known: {known(spec.parts)}")

    avoid_t = tuple(dict.fromkeys(avoid))
    ordered = [p for purpose, p in contact if purpose] + [p for purpose, p in contact if not purpose]
    contact_t = tuple(dict.fromkeys(ordered))
    if contact_t:
        part, is_default = contact_t[0], False
        clash = set(contact_t) & set(avoid_t)
        if clash:
            raise InputError(f"{text!r} asks both to touch and to avoid {known(clash)} of the {cat}")
    else:
        free = [p for p in (spec.default_part, *spec.parts) if p not in avoid_t]
        if not free:
            raise InputError(f"{text!r} avoids every part of the {cat} ({known(spec.parts)}); nothing to grasp")
        part, is_default, contact_t = free[0], True, (free[0],)

    bigrams = set(zip(tokens, tokens[1:]))
    if bigrams & _HANDOVER_BIGRAMS or "handover" in tokens:
        intent = "handover"
    elif any(purpose for purpose, _ in contact) or _USE_WORDS & set(_outside_objects(tokens, object_matches)):
        intent = "use"
    else:
        intent = "pick"
    return GroundedInstruction(
        text=text, category=cat, part=part, part_is_default=is_default, contact_parts=contact_t,
        avoid_parts=avoid_t, attributes=tuple(attributes), relations=tuple(relations), intent=intent,
        other_objects=tuple(others),
    )
