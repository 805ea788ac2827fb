"""Session commands in words: which task an instruction asks for (grasp, place, release, home).

    task_of("put it back")          # 'place'
    task_of("let go")               # 'release'
    task_of("pick up the mug")      # 'grasp'

A command that names no session verb is a grasp (``parse_instruction`` then grounds it). A place,
release or home command needs no object: it acts on what the hand holds.
"""

from __future__ import annotations

import re

TASKS = ("grasp", "place", "release", "home")

_PATTERNS = (  # first match wins: "put it back" must not read as a grasp of "it"
    ("place", r"\b(put|place|set|lay|return)\b.*\b(back|down)\b|\bput it\b|\bplace it\b|\bput back\b"),
    ("release", r"\blet (it )?go\b|\brelease\b|\bopen (the |your )?hand\b|\bdrop it\b|\bunhand\b"),
    ("home", r"\b(go|move|return|back)( to)?( the)? home\b|^\s*home\s*[.!]?\s*$|\bhome position\b"),
)


def task_of(instruction: str) -> str:
    """One of ``TASKS`` for an instruction (lower/upper case and punctuation ignored)."""
    text = " ".join(instruction.lower().replace("\u2019", "'").split())
    for task, pattern in _PATTERNS:
        if re.search(pattern, text):
            return task
    return "grasp"
