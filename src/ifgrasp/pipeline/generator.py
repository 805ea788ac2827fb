"""The grasp generator seen by the pipeline: a protocol and backends chosen by a registered name.

    gen = make_generator("checkpoint", model_path="models/student.pt")
    batch = gen.generate(cloud, k=16)   # GraspBatch in the cloud's (camera) frame, best first

Backends are imported only when asked for: ``diffusion`` is the student's own generator
(``ifgrasp.grasp.diffusion.generator.GraspGenerator.from_checkpoint``, the lead's), ``checkpoint`` loads a
``GraspDiffusion`` state_dict file (``ifgrasp.pipeline.checkpoint``).
"""

from __future__ import annotations

import importlib
from typing import Protocol, runtime_checkable

from ifgrasp.errors import ConfigError, ModelError, known
from ifgrasp.types import GraspBatch, ObjectCloud


@runtime_checkable
class GraspGenerator(Protocol):
    """``generate(cloud, k)``: ``k`` LEAP grasps for ``cloud`` (its instructed part marked), in
    ``cloud.frame``, scores set when the generator ranks them."""

    def generate(self, cloud: ObjectCloud, k: int) -> GraspBatch: ...


_GENERATORS: dict[str, str] = {
    "diffusion": "ifgrasp.pipeline.generator:student_from_checkpoint",
    "checkpoint": "ifgrasp.pipeline.checkpoint:CheckpointGenerator",
}


def student_from_checkpoint(model_path: str, steps: int = 8, **kwargs):
    """The student's own generator (``ifgrasp.grasp.diffusion.generator.GraspGenerator``) from a file."""
    from pathlib import Path

    if not Path(model_path).is_file():
        raise ModelError(f"grasp model file not found: {model_path} (train one with the student, or pass "
                         "model_path)")
    from ifgrasp.grasp.diffusion.generator import GraspGenerator as StudentGenerator

    return StudentGenerator.from_checkpoint(model_path, steps=steps, **kwargs)


def register_generator(name: str, target: str) -> None:
    """Register a backend as ``"package.module:factory"`` (a class or function taking keywords)."""
    _GENERATORS[name] = target


def generator_names() -> list[str]:
    return sorted(_GENERATORS)


def make_generator(name: str, **kwargs) -> GraspGenerator:
    """Build the named generator; ``ConfigError`` lists the names, ``ModelError`` when it cannot load."""
    if name not in _GENERATORS:
        raise ConfigError(f"unknown grasp generator '{name}'; known: {known(_GENERATORS)}")
    module, attr = _GENERATORS[name].split(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"grasp generator '{name}' is not available ({module}:{attr}: {exc})") from exc
    return factory(**kwargs)
