"""Teacher filter and report: which grasps count as validated, and the per-task breakdown."""

import numpy as np
import pytest

from ifgrasp.grasp.evaluate import (FilterConfig, judge_table, push_table, report_table, teacher_report,
                                    v1_validated_mask, validated_mask)


def _rows(**columns):
    n = 4
    base = {
        "lift": np.ones(n, bool), "shake": np.ones(n, bool), "six_dir": np.ones(n, bool), "label": np.ones(n),
        "max_penetration_m": np.full(n, 0.001), "exact_penetration_m": np.full(n, 0.0005),
        "self_penetration_m": np.zeros(n), "judge": np.full(n, "v2"),
        "part_share": np.full(n, 0.5), "num_contacts": np.full(n, 6),
        "part_force_share": np.full(n, 0.6), "all_on_part": np.zeros(n, bool),
        "joints_rad": np.zeros((n, 16)), "wrist_rot": np.tile(np.eye(3), (n, 1, 1)),
        "category": np.array(["mug", "mug", "mug", "box"]), "part": np.array(["handle", "handle", "body", "body"]),
    }
    base.update(columns)
    return base


def test_a_grasp_that_only_brushes_the_part_is_not_validated():
    # grasp 1 lifts, touches the handle, but the handle carries none of the grip's force
    data = _rows(part_force_share=np.array([0.6, 0.0, 0.9, 1.0]))
    np.testing.assert_array_equal(validated_mask(data), [True, False, True, True])
    assert validated_mask(data, FilterConfig(min_part_force_share=0.0)).all()


def test_a_grasp_that_fails_under_most_pose_perturbations_is_not_validated():
    # labels: nominal lift + 2 perturbed copies; grasp 1 held only at its exact pose
    data = _rows(label=np.array([1.0, 1 / 3, 2 / 3, 1.0]))
    np.testing.assert_array_equal(validated_mask(data), [True, False, True, True])
    assert validated_mask(data, FilterConfig(min_label=0.0)).all()
    assert "50% of its nominal + perturbed executions" in FilterConfig().describe()


def test_a_grasp_mostly_off_the_instructed_part_is_not_validated():
    # "by the handle": 30% of the contacts on the handle is a grasp of the body that touches the handle
    data = _rows(part_share=np.array([0.3, 0.5, 0.7, 1.0]))
    np.testing.assert_array_equal(validated_mask(data), [False, True, True, True])
    assert ">= 50% of its contacts" in FilterConfig().describe()


def test_each_filter_rejects_its_own_failure():
    data = _rows(lift=np.array([False, True, True, True]), exact_penetration_m=np.array([0.0, 0.0015, 0.0, 0.0]),
                 part_share=np.array([0.5, 0.5, 0.05, 0.5]))
    np.testing.assert_array_equal(validated_mask(data), [False, False, False, True])


def test_v2_filters_on_exact_and_self_penetration_and_v1_on_the_sampled_one():
    # grasp 0: deep exact overlap the samples missed; 1: two fingers 2 mm inside each other; 3: sampled 3 mm
    data = _rows(exact_penetration_m=np.array([0.004, 0.0, 0.0, 0.0]), self_penetration_m=np.array([0.0, 0.002, 0.0, 0.0]),
                 max_penetration_m=np.array([0.0002, 0.0, 0.0, 0.003]))
    np.testing.assert_array_equal(validated_mask(data), [False, False, True, True])
    np.testing.assert_array_equal(validated_mask(data, FilterConfig.v1()), [True, True, True, False])
    # labels from before exact penetration was measured are not kept by v2
    old = _rows()
    del old["exact_penetration_m"], old["self_penetration_m"]
    assert not validated_mask(old).any() and validated_mask(old, FilterConfig.v1()).all()


def test_the_v1_verdict_comes_from_the_labels_kept_before_the_revalidation():
    # re-validated grasps keep v1 labels as v1_*; grasp 0 lifted under v1 but drops under v2
    data = _rows(lift=np.array([False, True, True, True]), v1_lift=np.array([1.0, 1.0, 0.0, 1.0]),
                 v1_shake=np.ones(4), v1_six_dir=np.ones(4), v1_label=np.ones(4), v1_part_force_share=np.ones(4),
                 judge=np.array(["v2", "v2", "v2", "v1"]))
    # grasp 3 is still labelled by v1 (its own lift counts as the v1 verdict)
    np.testing.assert_array_equal(v1_validated_mask(data), [True, True, False, True])
    np.testing.assert_array_equal(validated_mask(data), [False, True, True, True])
    report = teacher_report(data)
    assert report["raw"]["validated_v1"] == 3 and report["raw"]["validated_v2"] == 3
    rows = judge_table(report, "per_task")
    mug_handle = next(r for r in rows if r[0] == "mug/handle" and r[1] == "raw")
    assert mug_handle[3:7] == ["2", "1", "100%", "50%"]  # kept v1, kept v2, lift v1, lift v2


def test_report_breaks_the_part_share_down_per_task():
    data = _rows(part_share=np.array([0.6, 0.8, 0.9, 1.0]))
    report = teacher_report(data)
    assert set(report["per_task"]) == {"mug/handle", "mug/body", "box/body"}
    assert report["per_task"]["mug/handle"]["validated"]["part_contact_share"] == pytest.approx(0.7)
    rows = report_table(report, "per_task")
    assert [r[0] for r in rows] == ["ALL", "ALL", "box/body", "box/body", "mug/body", "mug/body", "mug/handle", "mug/handle"]


def test_six_direction_pushes_are_split_by_where_they_drive_the_object_in_the_hand():
    from scipy.spatial.transform import Rotation

    # pushes +x -x +y -y +z -z (object frame); at the identity wrist the palm faces -z, so the -z push
    # drives the object out of the palm and +z into it. Grasp 0 drops out of the palm only; grasp 1,
    # turned -90 degrees about x (palm facing -y), loses the sideways -x push and holds the rest.
    held = np.ones((4, 6))
    held[0, 5] = 0
    held[1, 1] = 0
    held[3] = np.nan  # a shard from before per-push results: not counted
    rot = np.tile(np.eye(3), (4, 1, 1))
    rot[1] = Rotation.from_euler("x", -90, degrees=True).as_matrix()
    data = _rows(six_dir_held=held, wrist_rot=rot, six_dir=np.array([False, False, True, True]))
    push = teacher_report(data)["validated"]["six_dir_by_push"]
    assert push["grasps_tested"] == 3
    assert push["out_of_palm"] == pytest.approx(2 / 3) and push["into_palm"] == 1.0
    assert push["sideways"] == pytest.approx(11 / 12) and push["all_six"] == pytest.approx(1 / 3)
    rows = push_table(teacher_report(data))
    assert rows[0] == ["ALL", "3", "100%", "92%", "67%", "33%"]
    assert "box/body" not in [r[0] for r in rows]  # its only grasp has no per-push results


def test_reports_without_per_push_results_have_no_push_table():
    assert push_table(teacher_report(_rows())) == []


def test_the_dataset_card_gets_the_push_table_as_markdown():
    from ifgrasp.grasp.commands import _push_section

    section = _push_section(teacher_report(_rows(six_dir_held=np.ones((4, 6)))))
    assert "| task | tested | into palm | sideways | out of palm | all six |" in section
    assert "| ALL | 4 | 100% | 100% | 100% | 100% |" in section
    assert _push_section(teacher_report(_rows())) == ""  # shards from before per-push results


def test_the_grip_margin_share_counts_only_grasps_that_have_one():
    # a dataset part re-validated (grip margins measured) and part not yet (NaN): 1 of the 2 measured
    # grasps could carry its object by friction; the unmeasured two are not counted as below 1
    data = _rows(grip_margin=np.array([0.5, 2.0, np.nan, np.nan]))
    m = teacher_report(data)["raw"]
    assert m["grip_margin_over_1"] == pytest.approx(0.5)
    assert m["grip_margin"]["median"] == pytest.approx(1.25)
    assert np.isnan(teacher_report(_rows())["raw"]["grip_margin_over_1"])  # no shard has the measure


def test_thumb_off_counts_measured_grasps_whose_thumb_bears_almost_none_of_the_force():
    from ifgrasp.grasp.evaluate import JUDGE_TABLE_HEADER, judge_table

    data = _rows(thumb_force_share=np.array([0.0, 0.45, 0.02, np.nan]))  # the last shard not re-validated
    report = teacher_report(data)
    assert report["raw"]["thumb_off"] == pytest.approx(2 / 3)
    all_raw = judge_table(report)[0]
    assert all_raw[JUDGE_TABLE_HEADER.index("thumb off")] == "67%"
    assert np.isnan(teacher_report(_rows())["raw"]["thumb_off"])
