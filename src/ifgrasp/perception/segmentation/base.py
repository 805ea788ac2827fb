"""Segmentation backend interface and registry: ``oracle`` | ``trained`` | ``pretrained``.

A backend takes one RGB-D frame and a grounded instruction and returns the target's object mask,
its instructed part's mask, the candidates it weighed, and a debug overlay for RViz.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ifgrasp.errors import IfgraspError, known
from ifgrasp.grounding import GroundedInstruction
from ifgrasp.perception.errors import TargetCandidate
from ifgrasp.types import RGBDFrame

OBJECT_RGB = np.array([40, 120, 255], np.uint8)  # blue tint on the object
PART_RGB = np.array([255, 60, 40], np.uint8)  # red tint on the instructed part


@dataclass
class SegmentationResult:
    """``object_mask`` / ``part_mask`` (H, W) bool (part within object); ``scores`` (K,) match score
    per candidate (same order as ``candidates``); ``chosen``: index of the target in ``candidates``;
    ``overlay`` (H, W, 3) uint8 colour image with object and part tinted; ``backend``: its name."""

    object_mask: np.ndarray
    part_mask: np.ndarray
    scores: np.ndarray
    candidates: list[TargetCandidate]
    chosen: int
    overlay: np.ndarray
    backend: str
    object_name: str = ""
    part_name: str = ""
    extras: dict = field(default_factory=dict)


def make_overlay(color: np.ndarray, object_mask: np.ndarray, part_mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """(H, W, 3) uint8: ``color`` with the object tinted blue and the part red (only the tinted
    pixels are converted to float)."""
    out = np.array(color, dtype=np.uint8, copy=True)
    tint = object_mask | part_mask
    f = out[tint].astype(np.float32)  # (N, 3)
    on_obj, on_part = object_mask[tint], part_mask[tint]
    f[on_obj] = (1 - alpha) * f[on_obj] + alpha * OBJECT_RGB
    f[on_part] = (1 - alpha) * f[on_part] + alpha * PART_RGB
    out[tint] = np.clip(f, 0, 255).astype(np.uint8)
    return out


class SegmentationBackend(ABC):
    """Find the instructed object and part: ``segment(frame, grounded) -> SegmentationResult``.

    Raises ``TargetNotFoundError`` when nothing in view matches and ``AmbiguousTargetError``
    (with its candidates) when several match equally; never guesses.
    """

    name: str = ""

    @abstractmethod
    def segment(self, frame: RGBDFrame, grounded: GroundedInstruction) -> SegmentationResult: ...

    def _result(self, frame: RGBDFrame, grounded: GroundedInstruction, object_mask: np.ndarray,
                part_mask: np.ndarray, candidates: list[TargetCandidate], chosen: int, **extras) -> SegmentationResult:
        part_mask = part_mask & object_mask
        return SegmentationResult(
            object_mask=object_mask, part_mask=part_mask,
            scores=np.array([c.score for c in candidates], np.float32), candidates=candidates, chosen=chosen,
            overlay=make_overlay(frame.color, object_mask, part_mask), backend=self.name,
            object_name=grounded.category, part_name=grounded.part, extras=extras)


_REGISTRY: dict[str, Callable[..., SegmentationBackend]] = {}


def register_backend(name: str):
    """Class decorator: make a backend constructible by ``make_backend(name, **kwargs)``."""
    def deco(cls):
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return deco


def backend_names() -> list[str]:
    import ifgrasp.perception.segmentation  # noqa: F401  (registers the built-in backends)
    import ifgrasp.perception.trained  # noqa: F401

    return sorted(_REGISTRY)


def make_backend(name: str, **kwargs) -> SegmentationBackend:
    """Construct a registered backend by name; ``IfgraspError`` lists the known names."""
    import ifgrasp.perception.segmentation  # noqa: F401  (registers the built-in backends)
    import ifgrasp.perception.trained  # noqa: F401  (registers "trained"; imported here to avoid a cycle)

    if name not in _REGISTRY:
        raise IfgraspError(f"unknown segmentation backend '{name}'; known: {known(_REGISTRY)}")
    return _REGISTRY[name](**kwargs)
