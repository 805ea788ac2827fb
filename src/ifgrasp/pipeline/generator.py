"""The grasp model seen by the pipeline: the ``GraspModel`` protocol and backends chosen by a registered name.

    gen = make_generator("diffusion", model_path="models/student/student_flow.pt")  # its own 4 steps
    batch = gen.generate(cloud, k=16)   # GraspBatch in the cloud's (camera) frame, best first

One backend today: ``diffusion``, the student's own generator
(``ifgrasp.grasp.diffusion.generator.GraspGenerator.from_checkpoint``; its checkpoint format and
loader are the only ones). The registry stays so that another generator (a teacher-in-the-loop,
a remote service) can be added by name without touching the stages or the nodes.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ifgrasp.errors import ConfigError, ModelError, known
from ifgrasp.types import GraspBatch, ObjectCloud


@runtime_checkable
class GraspModel(Protocol):
    """``generate(cloud, k=..., T_base_camera=...)``: ``k`` LEAP grasps for ``cloud`` (its instructed
    part marked), in ``cloud.frame``, best first, scores set when the generator ranks them.
    ``T_base_camera`` (4, 4), optional, lets a generator reject grasps through the table (z = 0)."""

    def generate(self, cloud: ObjectCloud, k: int, T_base_camera: np.ndarray | None = None) -> GraspBatch: ...


_GENERATORS: dict[str, str] = {
    "diffusion": "ifgrasp.pipeline.generator:student_from_checkpoint",
}


def resolve_model_path(model_path: str | Path) -> Path:
    """``model_path`` as given when it exists (absolute or relative to the working directory), else
    relative to the repository root (so ``models/student/student.pt`` works from any directory)."""
    from ifgrasp.paths import REPO_ROOT

    path = Path(model_path)
    if path.is_absolute() or path.exists() or not str(model_path):
        return path
    return REPO_ROOT / path


def student_from_checkpoint(model_path: str, steps: int | None = None, runtime: str = "auto", onnx_path: str = "",
                            num_candidates: int = 64, seed: int = 0):
    """The student (a ``GraspModel``) from a checkpoint (``ModelError`` when missing, corrupt or for
    another hand). ``steps`` None: the checkpoint's own count (4 Euler steps for the distilled
    ``student_flow.pt``, 8 DDIM steps for ``student.pt``). ``runtime``: auto | torch | onnx | tensorrt;
    ``onnx_path`` "" = the checkpoint's sibling ``.onnx`` when there is one (auto picks TensorRT only when a CUDA GPU offers it)."""
    from ifgrasp.grasp.diffusion.generator import GraspGenerator

    path = resolve_model_path(model_path)
    onnx = resolve_model_path(onnx_path) if onnx_path else path.with_suffix(".onnx")
    return GraspGenerator.from_checkpoint(path, backend=runtime, steps=int(steps) if steps else None,
                                          num_candidates=int(num_candidates), onnx_path=onnx if onnx.is_file() else None, seed=seed)


def register_generator(name: str, target: str) -> None:
    """Register a backend as ``"package.module:factory"`` (a class or function taking keywords)."""
    _GENERATORS[name] = target


def generator_names() -> list[str]:
    return sorted(_GENERATORS)


def make_generator(name: str, **kwargs) -> GraspModel:
    """Build the named generator; ``ConfigError`` lists the names, ``ModelError`` when it cannot load."""
    if name not in _GENERATORS:
        raise ConfigError(f"unknown grasp generator '{name}'; known: {known(_GENERATORS)}")
    module, attr = _GENERATORS[name].split(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"grasp generator '{name}' is not available ({module}:{attr}: {exc})") from exc
    return factory(**kwargs)
