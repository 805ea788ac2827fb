"""Backends chosen by a registered name from config (``sim``, ``xarm``, ``leap``).

Backend modules are imported only when their name is asked for, so importing ``ifgrasp.drivers``
never imports an SDK.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ifgrasp.errors import ConfigError, known

#: name -> "module:factory"; a factory takes the backend's config section (dict) and keywords.
_BACKENDS: dict[str, str] = {
    "sim_arm": "ifgrasp.drivers.sim.backend:make_sim_arm",
    "sim_hand": "ifgrasp.drivers.sim.backend:make_sim_hand",
    "xarm": "ifgrasp.drivers.xarm.backend:make_xarm",
    "leap": "ifgrasp.drivers.leap.backend:make_leap",
}
_KIND = {"arm": {"sim": "sim_arm", "xarm": "xarm"}, "hand": {"sim": "sim_hand", "leap": "leap"}}


def register(name: str, target: str) -> None:
    """Register a backend factory as ``"package.module:function"``."""
    _BACKENDS[name] = target


def factory(name: str) -> Callable:
    if name not in _BACKENDS:
        raise ConfigError(f"unknown driver backend '{name}'; known: {known(_BACKENDS)}")
    module, func = _BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), func)


def make_driver(kind: str, backend: str, section: dict | None = None, **kwargs):
    """A driver for ``kind`` (``arm``/``hand``) from backend name (``sim``, ``xarm``, ``leap``)."""
    if kind not in _KIND:
        raise ConfigError(f"unknown device kind '{kind}'; known: {known(_KIND)}")
    if backend not in _KIND[kind]:
        raise ConfigError(f"no '{backend}' backend for the {kind}; known: {known(_KIND[kind])}")
    return factory(_KIND[kind][backend])(section or {}, **kwargs)
