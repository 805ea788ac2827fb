"""Teacher filter and report: which grasps count as validated, and the per-task breakdown."""

import numpy as np
import pytest

from ifgrasp.grasp.evaluate import FilterConfig, report_table, teacher_report, validated_mask


def _rows(**columns):
    n = 4
    base = {
        "lift": np.ones(n, bool), "shake": np.ones(n, bool), "six_dir": np.ones(n, bool), "label": np.ones(n),
        "max_penetration_m": np.full(n, 0.001), "part_share": np.full(n, 0.5), "num_contacts": np.full(n, 6),
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
    data = _rows(lift=np.array([False, True, True, True]), max_penetration_m=np.array([0.001, 0.003, 0.001, 0.001]),
                 part_share=np.array([0.5, 0.5, 0.05, 0.5]))
    np.testing.assert_array_equal(validated_mask(data), [False, False, False, True])


def test_report_breaks_the_part_share_down_per_task():
    data = _rows(part_share=np.array([0.6, 0.8, 0.9, 1.0]))
    report = teacher_report(data)
    assert set(report["per_task"]) == {"mug/handle", "mug/body", "box/body"}
    assert report["per_task"]["mug/handle"]["validated"]["part_contact_share"] == pytest.approx(0.7)
    rows = report_table(report, "per_task")
    assert [r[0] for r in rows] == ["ALL", "ALL", "box/body", "box/body", "mug/body", "mug/body", "mug/handle", "mug/handle"]
