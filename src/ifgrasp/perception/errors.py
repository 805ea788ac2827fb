"""Perception errors (under the project's one root, ``IfgraspError``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ifgrasp.errors import IfgraspError


@dataclass(frozen=True)
class TargetCandidate:
    """One object in view that matches the instruction: backend-specific ``instance`` id, match
    ``score`` in [0, 1], ``centroid_base_m`` (3,) in the robot base frame, estimated ``colour``."""

    instance: int
    category: str
    score: float
    centroid_base_m: tuple[float, float, float]
    colour: str = ""
    pixels: int = 0
    extras: dict = field(default_factory=dict, compare=False)

    def describe(self) -> str:
        x, y, z = self.centroid_base_m
        col = f"{self.colour} " if self.colour else ""
        return f"#{self.instance} {col}{self.category} at ({x:.2f}, {y:.2f}, {z:.2f}) m, score {self.score:.2f}"


class TargetNotFoundError(IfgraspError):
    """Nothing in view matches the instruction; no grasp should be attempted."""


class AmbiguousTargetError(IfgraspError):
    """Several objects match equally well; ``candidates`` lists them so the caller can ask."""

    def __init__(self, message: str, candidates: list[TargetCandidate]):
        super().__init__(message + "; candidates: " + "; ".join(c.describe() for c in candidates)
                         + " (add a colour or left/right/nearest/farthest/front/back)")
        self.candidates = list(candidates)
