"""The ROS 2 session verbs: ``ifgrasp launch sim|replay|robot`` and ``ifgrasp ask "INSTRUCTION"``.

Both run under the colcon workspace's environment (``ifgrasp.rosenv``: re-executed under
``install/setup.bash`` when the shell did not source it); the work lives in
``ifgrasp_ros.launcher`` and ``ifgrasp_ros.ask``.
"""

from __future__ import annotations

import sys

import typer

from ifgrasp.cli.apps import app
from ifgrasp.errors import InputError


@app.command(context_settings={"allow_extra_args": False})
def launch(
    graph: str = typer.Argument(..., help="which launch file: sim | replay | robot"),
    args: list[str] = typer.Argument(None, help="launch arguments, name:=value (e.g. model_path:=... backend:=...)"),
) -> None:
    """Start a launch file's nodes, say when the graph is ready, stream their logs; Ctrl-C stops all.

    Example: ``ifgrasp launch sim`` (then ``ifgrasp ask "pick up the mug by its handle"`` in another
    terminal); ``ifgrasp launch replay bag_path:=out/bags/sim``. With apt ROS 2 the same files run
    with ``ros2 launch ifgrasp_ros sim.launch.xml``.
    """
    from ifgrasp.paths import REPO_ROOT
    from ifgrasp.rosenv import ensure_ros

    known = [p.name.removesuffix(".launch.xml") for p in sorted((REPO_ROOT / "launch").glob("*.launch.xml"))]
    if graph not in known:
        raise InputError(f"unknown graph '{graph}'; known: {', '.join(known)}")
    ensure_ros()
    from ifgrasp_ros.launch_xml import launch_arguments
    from ifgrasp_ros.launcher import launch_file, parse_overrides, run_graph

    path = launch_file(graph, REPO_ROOT)
    try:
        overrides = parse_overrides(list(args or []), launch_arguments(path), path)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    raise typer.Exit(run_graph(path, overrides, echo=lambda line: print(line, flush=True), cwd=REPO_ROOT))


@app.command()
def ask(
    instruction: str = typer.Argument("", help='what to do: "pick up the mug by its handle", "put it back", "let go", "go home"'),
    plan_only: bool = typer.Option(False, "--plan-only", help="ground, perceive, generate and plan; move nothing"),
    lift: float = typer.Option(0.0, help="lift height in metres (0: the commander's default)"),
    timeout: float = typer.Option(300.0, help="seconds to wait for the result (then the goal is cancelled)"),
    recover: bool = typer.Option(False, "--recover", help="clear the drivers' faults (/ifgrasp/arm/recover, /ifgrasp/hand/recover)"),
    reset_sim: bool = typer.Option(False, "--reset-sim", help="put the simulated scene back as it started (/ifgrasp/sim/reset)"),
) -> None:
    """Send one command to the running graph and print each stage as it happens, then the outcome.

    Exit code 0 only when it did what it says (a grasp: the object is held), 1 when it failed, 2
    when it was rejected or nothing answers. Example: ``ifgrasp ask "pick up the mug by its handle"``,
    then ``ifgrasp ask "put it back"``.
    """
    from ifgrasp.grounding.parser import MAX_INSTRUCTION_CHARS

    if not (recover or reset_sim) and not instruction.strip():
        raise InputError('give an instruction, e.g. ifgrasp ask "pick up the mug by its handle" (or --recover / --reset-sim)')
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        raise InputError(f"instruction is {len(instruction)} characters long; the limit is {MAX_INSTRUCTION_CHARS}")
    from ifgrasp.rosenv import ensure_ros

    ensure_ros()
    from ifgrasp_ros import ask as client

    echo = lambda line: print(line, flush=True)  # noqa: E731
    services = (["/ifgrasp/arm/recover", "/ifgrasp/hand/recover"] if recover else []) + (
        ["/ifgrasp/sim/reset"] if reset_sim else [])
    code = client.trigger(services, echo) if services else 0
    if instruction.strip() and code == 0:
        code = (client.plan_only(instruction, echo, timeout_s=timeout) if plan_only
                else client.execute(instruction, echo, timeout_s=timeout, lift_height_m=lift))
    sys.stdout.flush()
    raise typer.Exit(code)
