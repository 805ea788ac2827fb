"""`ifgrasp eval cell`: the demo's session end to end per checkpoint and scene seed, counted and resumable."""

import json

from ifgrasp.grasp.diffusion.commands import DEFAULT_CHECKPOINT
from ifgrasp.pipeline import cell_eval
from ifgrasp.pipeline.cell_eval import evaluate_in_cell, summarize_cell


def test_a_session_in_the_cell_is_counted_and_a_rerun_resumes(tmp_path, monkeypatch):
    log = tmp_path / "cell.jsonl"
    commands = ("grab the spray bottle by its body", "put it back")
    report = evaluate_in_cell({"release": DEFAULT_CHECKPOINT}, range(1), commands, log_path=log)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["command"] for r in rows] == list(commands)
    grasp, place = rows
    if not grasp["success"]:  # nothing in the hand: putting back is refused, not counted as done
        assert not place["success"] and place["error_code"] == "NOT_HOLDING"
    m = report["release"]["grab the spray bottle by its body"]
    assert m["runs"] == 1 and m["successes"] == int(grasp["success"])

    def no_world(*_a, **_k):
        raise AssertionError("a resumed run must not rebuild a cell it has rows for")

    monkeypatch.setattr("ifgrasp.pipeline.sim.SimWorld.build", no_world)
    assert evaluate_in_cell({"release": DEFAULT_CHECKPOINT}, range(1), commands, log_path=log) == report
    assert cell_eval.CELL_COMMANDS[0] == "pick up the mug by its handle"


def test_cell_summary_counts_failures_by_code_with_a_wilson_interval():
    rows = [{"checkpoint": "a", "command": "c", "success": s, "error_code": e}
            for s, e in [(True, "OK"), (False, "DROPPED"), (False, "DROPPED"), (False, "UNREACHABLE")]]
    m = summarize_cell(rows)["a"]["c"]
    assert (m["runs"], m["successes"], m["rate"]) == (4, 1, 0.25)
    assert m["errors"] == {"DROPPED": 2, "UNREACHABLE": 1}
    assert m["ci95"][0] < 0.25 < m["ci95"][1]


def test_checkpoints_of_eval_cell_are_named_once_and_must_exist(tmp_path):
    from typer.testing import CliRunner

    from ifgrasp.cli import app

    runner = CliRunner()
    twice = runner.invoke(app, ["eval", "cell", "--checkpoint", f"a={DEFAULT_CHECKPOINT},a={DEFAULT_CHECKPOINT}",
                                "--out", str(tmp_path / "r.json")])
    assert twice.exit_code != 0 and "given twice" in str(twice.exception)
    missing = runner.invoke(app, ["eval", "cell", "--checkpoint", f"a={tmp_path / 'none.pt'}",
                                  "--out", str(tmp_path / "r.json")])
    assert missing.exit_code != 0 and "no such file" in str(missing.exception)
    assert not (tmp_path / "r.jsonl").exists()
