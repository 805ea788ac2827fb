"""Typed configuration loaded from YAML.

Each stage defines its own ``Config`` subclass next to the code it configures, with a comment
(a ``Field(description=...)``) per field and validation on load; unknown keys are refused so a typo
in a YAML file fails loudly instead of being ignored.

    class SynthesisConfig(Config):
        steps: int = Field(6000, gt=0, description="annealing iterations")

    cfg = SynthesisConfig.from_yaml("config/synthesis.yaml")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ifgrasp.errors import ConfigError

C = TypeVar("C", bound="Config")


class Config(BaseModel):
    """Base of every typed config: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any] | None) -> C:
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            raise ConfigError(f"invalid {cls.__name__}: {exc}") from exc

    @classmethod
    def from_yaml(cls: type[C], path: str | Path, section: str | None = None) -> C:
        """Load from a YAML file, optionally from one top-level ``section`` of it."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        data = yaml.safe_load(path.read_text()) or {}
        if section is not None:
            if section not in data:
                raise ConfigError(f"{path} has no section '{section}'; has: {', '.join(data)}")
            data = data[section]
        return cls.from_dict(data)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def replace(self: C, **changes: Any) -> C:
        """A copy with some fields changed (validated again)."""
        return type(self).from_dict({**self.model_dump(), **changes})
