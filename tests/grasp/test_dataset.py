"""Teacher dataset: shards on disk, resumable, deterministic per seed, clear errors."""

import shutil

import numpy as np
import pytest

from ifgrasp.errors import InputError, UnknownObjectError
from ifgrasp.grasp.dataset import (
    DatasetConfig, config_digest, generate, load_dataset, plan_shards, revalidate, shard_files, stale_shards,
)
from ifgrasp.grasp.validate import ValidationConfig
from ifgrasp.hand import LeapHandModel

TINY = DatasetConfig(
    per_category=1, categories=("box",),
    synthesis={"batch": 2, "refine": {"steps": 10}},
    validation=ValidationConfig(lift_s=0.3, shake_s_per_axis=0.1, gravity_test_s=0.2, perturbations=1),
)


@pytest.fixture(scope="module")
def hand():
    return LeapHandModel(n_surface_points=200)


def test_plan_covers_every_task_of_the_family():
    shards = plan_shards(DatasetConfig(per_category=1))
    assert any(s.category == "mug" and s.part == "handle" for s in shards)
    assert {s.category for s in shards} >= {"mug", "knife", "teapot", "box"}
    knife = [s for s in shards if s.category == "knife"][0]
    assert knife.part == "handle" and knife.avoid == ("blade",)


def test_generate_writes_resumes_and_repeats(tmp_path, hand):
    a = tmp_path / "a"
    generate(hand, TINY, a, progress=False)
    files = sorted(p.name for p in a.glob("*.npz"))
    assert files == ["box_0000_body_r00.npz"]
    before = a.joinpath(files[0]).stat().st_mtime_ns
    generate(hand, TINY, a, progress=False)  # nothing left to do: the shard is not rewritten
    assert a.joinpath(files[0]).stat().st_mtime_ns == before
    data = load_dataset(a)
    assert len(data["lift"]) == 2 and set(data["category"]) == {"box"}
    assert data["wrist_rot"].shape == (2, 3, 3) and data["joints_rad"].shape == (2, 16)
    generate(hand, TINY, tmp_path / "b", progress=False)  # same seed, same dataset
    again = load_dataset(tmp_path / "b")
    np.testing.assert_allclose(again["wrist_pos_m"], data["wrist_pos_m"])


def test_each_shard_names_the_settings_that_made_it(tmp_path, hand):
    generate(hand, TINY, tmp_path, progress=False)
    digest = config_digest(TINY)
    assert set(load_dataset(tmp_path)["config"]) == {digest}
    kept_file = tmp_path / "configs" / f"{digest}.yaml"
    assert "rounds" not in kept_file.read_text()  # settings only: later runs with more rounds keep it as is
    kept = DatasetConfig.from_yaml(kept_file)
    assert config_digest(kept) == digest  # the kept file reproduces the settings
    # a synthesis change is a new generation; a bookkeeping change (rounds) is not
    assert config_digest(TINY.model_copy(update={"rounds": 3})) == digest
    other = DatasetConfig(**{**TINY.model_dump(), "synthesis": {**TINY.synthesis.model_dump(), "batch": 3}})
    assert config_digest(other) != digest


def test_parts_restrict_the_plan_and_an_absent_part_is_named():
    from ifgrasp.grasp.commands import synth_command

    shards = plan_shards(DatasetConfig(per_category=1, categories=("mug", "spray_bottle", "box"),
                                       parts=("handle", "trigger")))
    assert {(s.category, s.part) for s in shards} == {("mug", "handle"), ("spray_bottle", "trigger")}
    with pytest.raises(InputError, match="spout.*parts there: body, handle"):
        synth_command(None, None, 1, 1, 2, 2, "mug", parts="handle,spout")


def test_unknown_category_is_named():
    from ifgrasp.grasp.commands import synth_command

    with pytest.raises(UnknownObjectError, match="known: "):
        synth_command(None, None, 1, 1, 2, 2, "spoon")


def test_steps_override_reaches_the_method_that_runs():
    from ifgrasp.grasp.commands import _dataset_config

    cfg = _dataset_config(None, steps=7, batch=3)
    assert cfg.synthesis.batch == 3
    method = cfg.synthesis.refine if cfg.synthesis.method == "antipodal" else cfg.synthesis.annealing
    assert method.steps == 7


def test_synth_logs_each_run_in_the_card(tmp_path, monkeypatch):
    import json

    from ifgrasp.grasp import commands

    monkeypatch.setattr(commands, "_dataset_config", lambda *_a, **_k: TINY)
    commands.synth_command(None, tmp_path, None, None, None, None, None)
    commands.synth_command(None, tmp_path, None, None, None, None, None)  # resumed: nothing to add
    runs = json.loads((tmp_path / "runs.json").read_text())
    assert [r["shards_added"] for r in runs] == [1, 0]
    card = (tmp_path / "CARD.md").read_text()
    assert card.count("| box | 1 |") == 2 and "2 optimised" in card


def test_a_stopped_synth_keeps_its_finished_shards_and_logs_the_partial_run(tmp_path, monkeypatch):
    import json
    import os
    import signal

    from ifgrasp.grasp import commands, dataset

    monkeypatch.setattr(commands, "_dataset_config", lambda *_a, **_k: TINY.model_copy(update={"rounds": 3}))
    real_run_shard, calls = dataset.run_shard, []

    def killed_during_the_second_shard(*args):
        calls.append(args)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # `kill <pid>`: stops like Ctrl-C
        return real_run_shard(*args)

    monkeypatch.setattr(dataset, "run_shard", killed_during_the_second_shard)
    with pytest.raises(SystemExit) as stopped:
        commands.synth_command(None, tmp_path, None, None, None, None, None)
    assert stopped.value.code == 130
    assert [p.name for p in tmp_path.glob("*.npz")] == ["box_0000_body_r00.npz"]  # nothing half-written
    runs = json.loads((tmp_path / "runs.json").read_text())
    assert runs[-1]["shards_added"] == 1 and runs[-1]["interrupted"] is True
    assert "2 optimised" in (tmp_path / "CARD.md").read_text()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is the command's only
    monkeypatch.setattr(dataset, "run_shard", real_run_shard)
    commands.synth_command(None, tmp_path, None, None, None, None, None)  # the same command resumes
    assert len(list(tmp_path.glob("*.npz"))) == 3


def test_card_shows_the_settings_and_the_heldout_evaluation(tmp_path, monkeypatch):
    from ifgrasp.grasp import commands

    monkeypatch.setattr(commands, "_dataset_config", lambda *_a, **_k: TINY)
    commands.synth_command(None, tmp_path, None, None, None, None, None)
    digest = config_digest(TINY)
    assert f"| `{digest}` | 2 |" in (tmp_path / "CARD.md").read_text()
    # a copy of the dataset's shard stands in for the held-out family, kept beside the dataset
    heldout = tmp_path / commands.HELDOUT_DIR
    heldout.mkdir()
    for shard in shard_files(tmp_path):
        shutil.copy(shard, heldout / shard.name)
    commands.eval_teacher_command(heldout, "heldout", None, None, None, tmp_path / commands.HELDOUT_METRICS)
    commands.synth_command(None, tmp_path, None, None, None, None, None)  # rewrites the card
    card = (tmp_path / "CARD.md").read_text()
    assert "## Held-out objects" in card and f"1 objects, settings `{digest}`" in card
    assert "grasps and labels are in `heldout/`" in card
    assert "2 optimised" in card  # the held-out shards are not counted as training grasps
    # per instructed part, for the dataset and for the held-out family, in the metrics and the judge tables
    assert card.count("| task | set | N | lift |") == 2 and card.count("| task | set | N | kept v1 | kept v2 |") == 2
    assert card.count("| box/body | validated |") == 4


def test_revalidate_relabels_stale_shards_and_keeps_the_grasps(tmp_path, hand, capsys):
    import json

    from ifgrasp.grasp import commands

    generate(hand, TINY, tmp_path, progress=False)
    before = load_dataset(tmp_path)
    assert stale_shards(tmp_path, TINY) == []  # labels made under TINY's validation are current
    harder = DatasetConfig(**{**TINY.model_dump(), "validation": {**TINY.validation.model_dump(), "lift_height_m": 0.1}})
    assert [p.name for p in stale_shards(tmp_path, harder)] == ["box_0000_body_r00.npz"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(commands, "_dataset_config", lambda *_a, **_k: harder)
        commands.synth_command(None, tmp_path, None, None, None, None, None)  # nothing to add, but says so
        assert "1 shards carry labels from other validation settings" in " ".join(capsys.readouterr().out.split())
        (tmp_path / "config.yaml").write_text(TINY.to_yaml())  # as the last synth under the old settings left it
        commands.revalidate_command(None, tmp_path, 0, 1)
    after = load_dataset(tmp_path)
    np.testing.assert_array_equal(after["joints_rad"], before["joints_rad"])  # same grasps
    np.testing.assert_array_equal(after["energy_total"], before["energy_total"])
    assert set(after["config"]) == {config_digest(harder)}  # synthesis recorded: a full new digest
    assert (tmp_path / "configs" / f"{config_digest(harder)}.yaml").exists()
    assert stale_shards(tmp_path, harder) == [] and revalidate(harder, tmp_path, progress=False) == 0
    assert DatasetConfig.from_yaml(tmp_path / "config.yaml").validation == harder.validation  # still loadable
    runs = json.loads((tmp_path / "runs.json").read_text())
    assert runs[-1]["action"] == "revalidate" and runs[-1]["shards_revalidated"] == 1
    assert "1 re-validated" in (tmp_path / "CARD.md").read_text()
    summary = json.loads((tmp_path / "summary.json").read_text())
    from ifgrasp.grasp.evaluate import validated_mask

    kept = int(validated_mask(after).sum())  # one meaning of "validated" in every row
    assert summary["validated_grasps"] == summary["per_category"]["box"]["validated"] == kept
    assert summary["per_config"][config_digest(harder)]["validated"] == kept


def test_a_stopped_revalidate_keeps_the_shards_it_rewrote_and_resumes(tmp_path, hand, monkeypatch):
    import json
    import os
    import signal

    from ifgrasp.grasp import commands, dataset

    three = TINY.model_copy(update={"rounds": 3})
    generate(hand, three, tmp_path, progress=False)
    harder = DatasetConfig(**{**three.model_dump(), "validation": {**three.validation.model_dump(), "lift_height_m": 0.1}})
    monkeypatch.setattr(commands, "_dataset_config", lambda *_a, **_k: harder)
    real_revalidate_shard, calls = dataset.revalidate_shard, []

    def killed_during_the_second_shard(*args):
        calls.append(args)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_revalidate_shard(*args)

    monkeypatch.setattr(dataset, "revalidate_shard", killed_during_the_second_shard)
    with pytest.raises(SystemExit) as stopped:
        commands.revalidate_command(None, tmp_path, 0, 1)
    assert stopped.value.code == 130
    assert len(stale_shards(tmp_path, harder)) == 2  # the first is current, the interrupted one kept its old labels
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == [f"box_0000_body_r0{i}.npz" for i in range(3)]
    runs = json.loads((tmp_path / "runs.json").read_text())
    assert runs[-1]["shards_revalidated"] == 1 and runs[-1]["interrupted"] is True
    # the card and summary show the labels as they stand: one shard under the new settings
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["per_config"][config_digest(harder)]["grasps"] == TINY.synthesis.batch
    assert (tmp_path / "CARD.md").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    monkeypatch.setattr(dataset, "revalidate_shard", real_revalidate_shard)
    commands.revalidate_command(None, tmp_path, 0, 1)  # the same command resumes
    assert stale_shards(tmp_path, harder) == []
    assert json.loads((tmp_path / "runs.json").read_text())[-1]["shards_revalidated"] == 2


def test_synth_workers_share_the_shards_and_make_the_same_dataset(tmp_path, hand):
    two_rounds = TINY.model_copy(update={"rounds": 2})
    assert generate(hand, two_rounds, tmp_path / "split", progress=False, worker=1, workers=2) == 1
    assert [p.name for p in (tmp_path / "split").glob("*.npz")] == ["box_0000_body_r01.npz"]
    generate(hand, two_rounds, tmp_path / "split", progress=False, worker=0, workers=2)
    generate(hand, two_rounds, tmp_path / "one", progress=False)
    split, one = load_dataset(tmp_path / "split"), load_dataset(tmp_path / "one")
    np.testing.assert_allclose(split["wrist_pos_m"], one["wrist_pos_m"])
    np.testing.assert_array_equal(split["lift"], one["lift"])
    with pytest.raises(InputError, match="worker must be in"):
        generate(hand, two_rounds, tmp_path / "bad", progress=False, worker=2, workers=2)


def test_revalidate_worker_index_is_checked(tmp_path):
    with pytest.raises(InputError, match="worker must be in"):
        revalidate(TINY, tmp_path, worker=2, workers=2)


def test_shards_from_before_per_push_results_read_as_nan_and_revalidate_incomplete_fills_them(tmp_path, hand, capsys,
                                                                                           monkeypatch):
    import json

    from ifgrasp.grasp import commands
    from ifgrasp.grasp.dataset import _write_atomic

    two_rounds = TINY.model_copy(update={"rounds": 2})
    generate(hand, two_rounds, tmp_path, progress=False)
    fresh = load_dataset(tmp_path)
    assert fresh["six_dir_held"].shape == (4, 6)
    np.testing.assert_array_equal(fresh["six_dir"], fresh["six_dir_held"].all(1) & fresh["lift"])
    old = tmp_path / "box_0000_body_r00.npz"  # as a shard validated before 2026-12-05 was written
    with np.load(old) as z:
        arrays = {k: z[k] for k in z.files if k not in ("meta", "six_dir_held")}
        meta = json.loads(str(z["meta"]))
    _write_atomic(old, arrays, meta)
    mixed = load_dataset(tmp_path)
    assert np.isnan(mixed["six_dir_held"][:2]).all()  # rows stay aligned with the other fields
    np.testing.assert_array_equal(mixed["six_dir_held"][2:], fresh["six_dir_held"][2:])
    assert stale_shards(tmp_path, two_rounds) == []  # its labels stand
    assert [p.name for p in stale_shards(tmp_path, two_rounds, incomplete=True)] == [old.name]
    assert revalidate(two_rounds, tmp_path, progress=False) == 0
    monkeypatch.setattr(commands, "_dataset_config", lambda *_a, **_k: two_rounds)
    capsys.readouterr()
    commands.synth_command(None, tmp_path, None, None, None, None, None)  # nothing to add; says what is missing
    said = " ".join(capsys.readouterr().out.split())
    assert "1 shards predate results the judge added later" in said and "--incomplete" in said
    commands.revalidate_command(None, tmp_path, 0, 1, incomplete=True)
    assert json.loads((tmp_path / "runs.json").read_text())[-1]["shards_revalidated"] == 1
    np.testing.assert_array_equal(load_dataset(tmp_path)["six_dir_held"], fresh["six_dir_held"])  # deterministic


def test_revalidating_v1_labels_under_v2_keeps_them_for_the_comparison(tmp_path, hand):
    import json

    from ifgrasp.grasp.evaluate import v1_validated_mask

    v1 = DatasetConfig(**{**TINY.model_dump(), "validation": ValidationConfig.v1(
        lift_s=0.3, shake_s_per_axis=0.1, gravity_test_s=0.2, perturbations=1).model_dump()})
    generate(hand, v1, tmp_path, progress=False)
    before = load_dataset(tmp_path)
    assert set(before["judge"]) == {"v1"} and "exact_penetration_m" not in before
    assert revalidate(TINY, tmp_path, progress=False) == 1
    after = load_dataset(tmp_path)
    assert set(after["judge"]) == {"v2"}
    for f in ("lift", "shake", "six_dir", "label", "part_force_share"):
        np.testing.assert_array_equal(after[f"v1_{f}"], before[f])
    np.testing.assert_array_equal(v1_validated_mask(after), v1_validated_mask(before))
    assert np.all(after["exact_penetration_m"] >= 0) and after["penetration_stages_m"].shape == (2, 3)
    assert after["self_penetration_stages_m"].shape == (2, 2) and np.isfinite(after["shove_m"]).all()
    # a second re-validation (other v2 settings) keeps the v1 labels, not the first v2 ones
    harder = DatasetConfig(**{**TINY.model_dump(), "validation": {**TINY.validation.model_dump(), "lift_height_m": 0.1}})
    assert revalidate(harder, tmp_path, progress=False) == 1
    again = load_dataset(tmp_path)
    np.testing.assert_array_equal(again["v1_lift"], before["lift"])
    with np.load(shard_files(tmp_path)[0]) as z:
        assert json.loads(str(z["meta"]))["judge"] == "v2"
