"""A small reader of ROS 2 XML launch files, for machines without the ``launch`` package (the
PyPI wheels have none): the tests start exactly the graph a launch file describes from it.
Reads
``<arg>`` defaults, ``<node pkg exec name args if unless>`` with ``<param from>``, ``<param name value>``
and ``<remap from to>``, substitutions ``$(var x)``, ``$(find-pkg-share pkg)`` and ``$(command '...')``
(nested ones inside out; a command runs only with ``run_commands``, else it stays as text)."""

from __future__ import annotations

import re
import shlex
import subprocess
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
    args: list[str] = field(default_factory=list)

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


def _subst(text: str, args: dict[str, str], run_commands: bool = False) -> str:
    kept: list[str] = []  # unevaluated commands, put back at the end

    def one(m: re.Match) -> str:
        kind, _, value = m.group(1).partition(" ")
        if kind == "var":
            if value not in args:
                raise KeyError(f"launch argument '{value}' has no value and no default")
            return args[value]
        if kind == "find-pkg-share":
            return str(install_prefix(value) / "share" / value)
        if kind == "command":
            cmd = shlex.split(value)[0] if value.strip() else ""
            if not run_commands:
                kept.append(f"$(command '{cmd}')")
                return f"\0{len(kept) - 1}\0"
            return subprocess.run(shlex.split(cmd), check=True, capture_output=True, text=True).stdout
        raise ValueError(f"unsupported substitution $({m.group(1)})")

    pattern = re.compile(r"\$\(([^()]*)\)")  # innermost first, then the ones around them
    while pattern.search(text):
        text = pattern.sub(one, text)
    return re.sub(r"\0(\d+)\0", lambda m: kept[int(m.group(1))], text)


def launch_arguments(path: Path) -> dict[str, str | None]:
    """The ``<arg>`` names of a launch file and their defaults (None: required)."""
    root = ET.parse(path).getroot()
    return {a.get("name"): a.get("default") for a in root.findall("arg")}


def _enabled(n: ET.Element, args: dict[str, str]) -> bool:
    """A node's ``if`` / ``unless`` condition (true/false/1/0 after substitution)."""
    for attr, want in (("if", True), ("unless", False)):
        if n.get(attr) is not None:
            v = _subst(n.get(attr), args).strip().lower()
            if v not in ("true", "false", "1", "0"):
                raise ValueError(f"node condition {attr}='{n.get(attr)}' is '{v}', not true/false")
            if (v in ("true", "1")) != want:
                return False
    return True


def parse_launch(path: Path, overrides: dict[str, str] | None = None,
                 run_commands: bool = False) -> tuple[dict[str, str | None], list[LaunchNode]]:
    """Arguments (name -> value, None when required and not given) and the nodes of a launch file
    whose ``if`` / ``unless`` hold."""
    root = ET.parse(path).getroot()
    assert root.tag == "launch", f"{path}: root element is <{root.tag}>, not <launch>"
    args: dict[str, str | None] = {a.get("name"): a.get("default") for a in root.findall("arg")}
    args.update(overrides or {})
    known = {k: v for k, v in args.items() if v is not None}
    nodes = []
    for n in root.findall("node"):
        if not _enabled(n, known):
            continue
        node = LaunchNode(n.get("pkg"), n.get("exec"), n.get("name") or n.get("exec"))
        node.args = shlex.split(_subst(n.get("args", ""), known))
        for p in n.findall("param"):
            if p.get("from") is not None:
                node.param_files.append(Path(_subst(p.get("from"), known)))
            else:
                node.params[p.get("name")] = _subst(p.get("value"), known, run_commands)
        for r in n.findall("remap"):
            node.remaps[r.get("from")] = r.get("to")
        nodes.append(node)
    return args, nodes
