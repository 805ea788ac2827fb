"""A small reader of ROS 2 XML launch files, for machines without the ``launch`` package (the
PyPI wheels have none): the tests start exactly the graph a launch file describes from it.
Reads
``<arg>`` defaults, ``<node pkg exec name>`` with ``<param from>``, ``<param name value>`` and
``<remap from to>``, substitutions ``$(var x)`` and ``$(find-pkg-share pkg)``."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


def install_prefix(pkg: str) -> Path:
    """Install prefix of ``pkg`` (its ``share/<pkg>`` holds the launch and config files)."""
    from ament_index_python.packages import get_package_prefix

    return Path(get_package_prefix(pkg))


@dataclass
class LaunchNode:
    pkg: str
    exe: str
    name: str
    param_files: list[Path] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    remaps: dict[str, str] = field(default_factory=dict)

    def ros_args(self) -> list[str]:
        """Command-line ``--ros-args`` items after the executable's own ``--ros-args``."""
        out = ["-r", f"__node:={self.name}"]
        for f in self.param_files:
            out += ["--params-file", str(f)]
        for k, v in self.params.items():
            out += ["-p", f"{k}:={v}"]
        for a, b in self.remaps.items():
            out += ["-r", f"{a}:={b}"]
        return out


def _subst(text: str, args: dict[str, str]) -> str:
    def one(m: re.Match) -> str:
        kind, _, value = m.group(1).partition(" ")
        if kind == "var":
            if value not in args:
                raise KeyError(f"launch argument '{value}' has no value and no default")
            return args[value]
        if kind == "find-pkg-share":
            return str(install_prefix(value) / "share" / value)
        raise ValueError(f"unsupported substitution $({m.group(1)})")

    return re.sub(r"\$\(([^)]*)\)", one, text)


def launch_arguments(path: Path) -> dict[str, str | None]:
    """The ``<arg>`` names of a launch file and their defaults (None: required)."""
    root = ET.parse(path).getroot()
    return {a.get("name"): a.get("default") for a in root.findall("arg")}


def parse_launch(path: Path, overrides: dict[str, str] | None = None) -> tuple[dict[str, str | None], list[LaunchNode]]:
    """Arguments (name -> value, None when required and not given) and the nodes of a launch file."""
    root = ET.parse(path).getroot()
    assert root.tag == "launch", f"{path}: root element is <{root.tag}>, not <launch>"
    args: dict[str, str | None] = {a.get("name"): a.get("default") for a in root.findall("arg")}
    args.update(overrides or {})
    known = {k: v for k, v in args.items() if v is not None}
    nodes = []
    for n in root.findall("node"):
        node = LaunchNode(n.get("pkg"), n.get("exec"), n.get("name") or n.get("exec"))
        for p in n.findall("param"):
            if p.get("from") is not None:
                node.param_files.append(Path(_subst(p.get("from"), known)))
            else:
                node.params[p.get("name")] = _subst(p.get("value"), known)
        for r in n.findall("remap"):
            node.remaps[r.get("from")] = r.get("to")
        nodes.append(node)
    return args, nodes
