"""eval student: Wilson intervals against scipy, every (object, part, view) case judged once per
variant with a fixed per-case seed, resumable rows, and the geometric pre-check per output."""

import json

import numpy as np
import pytest
import torch
from scipy.stats import binomtest

from ifgrasp.errors import ConfigError
from ifgrasp.grasp.diffusion.evaluate import evaluate_student, student_cases, wilson_interval
from ifgrasp.grasp.diffusion.generator import GraspGenerator
from ifgrasp.grasp.diffusion.physics import PhysicsConfig
from ifgrasp.grasp.diffusion.policy import GraspDiffusion
from ifgrasp.grasp.diffusion.views import ViewConfig, load_views, render_object_views


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (57, 101), (400, 402), (10, 10)])
def test_wilson_matches_scipy(k, n):
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    np.testing.assert_allclose(wilson_interval(k, n), (ref.low, ref.high), atol=2e-4)


@pytest.fixture(scope="module")
def views_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heldout")
    views = render_object_views("mug", 1000, ViewConfig(views_per_object=2, n_points=256), np.random.default_rng(0))
    np.savez(folder / "mug_1000.npz", **views)
    return folder


def _gen(physics=None):
    torch.manual_seed(0)
    policy = GraspDiffusion(n_basis=32, width=32, depth=1)
    return GraspGenerator(policy, backend="torch", steps=2, num_candidates=8, n_points=256, physics=physics)


def test_cases_cover_every_visible_part_view_major(views_dir):
    cases = student_cases(load_views(views_dir), views_per_object=2)
    assert {c["part"] for c in cases} <= {"handle", "body"} and len(cases) >= 2
    assert [c["view"] for c in cases] == sorted(c["view"] for c in cases)


def test_variants_are_paired_resumable_and_prechecked(views_dir, tmp_path):
    log = tmp_path / "rows.jsonl"
    off = PhysicsConfig(refine_steps=0, repair_steps=0, reject_self_m=1e9)
    gens = {"on": _gen(), "off": _gen(off)}
    report = evaluate_student(gens, views_dir, k=2, views_per_object=1, log_path=log, max_cases=2)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) == 4 and {r["variant"] for r in rows} == {"on", "off"}
    for name in gens:
        m = report[name]["overall"]
        assert m["cases"] == 2 and 0 <= m["v1"]["top1_ci95"][0] <= m["v1"]["top1_lift"] <= m["v1"]["top1_ci95"][1]
        assert set(m["precheck"]) >= {"self_penetration_over_1mm", "cloud_penetration_mean_mm", "tip_part_distance_mean_mm"}
    assert report["on"]["overall"]["precheck"]["self_penetration_over_1mm"] == 0.0
    # the same case gets the same noise whatever the order: a fresh generator reproduces the logged row
    again = evaluate_student({"on": _gen()}, views_dir, k=2, views_per_object=1, log_path=tmp_path / "b.jsonl",
                             max_cases=2)
    assert again["on"]["overall"]["precheck"] == report["on"]["overall"]["precheck"]
    # resumed: nothing is recomputed
    evaluate_student(gens, views_dir, k=2, views_per_object=1, log_path=log, max_cases=2)
    assert len(log.read_text().splitlines()) == 4


def test_unknown_judge_is_named(views_dir):
    with pytest.raises(ConfigError, match="v9"):
        evaluate_student(_gen(), views_dir, judges=("v9",))


def test_both_judges_are_reported_and_v2_gates_its_lift(views_dir, tmp_path):
    report = evaluate_student(_gen(), views_dir, k=2, views_per_object=1, judges=("v1", "v2"),
                              log_path=tmp_path / "rows.jsonl", max_cases=1)
    m = report["student"]["overall"]
    assert {"v1", "v2", "v2_lift"} <= set(m)
    row = json.loads((tmp_path / "rows.jsonl").read_text().splitlines()[0])
    assert all(not a or b for a, b in zip(row["lift_v2"], row["lift_v2_lift"]))  # v2 = v2 lift AND geometric gates


def test_top1_interval_is_wilson_whatever_k():
    from ifgrasp.grasp.diffusion.evaluate import summarize_rows

    rows = [{"category": "mug", "part": "handle", "error": None, "lift_v1": [False], "part_share": [1.0],
             "self_penetration_m": [0.0], "cloud_penetration_m": [0.0], "tip_part_distance_m": [0.01],
             "latency_s": 0.1} for _ in range(24)]
    m = summarize_rows(rows, k=1)["overall"]["v1"]
    np.testing.assert_allclose(m["top1_ci95"], wilson_interval(0, 24))
    assert m["top1_ci95"][1] > 0.1


def test_grasps_several_variants_return_are_judged_once(views_dir, tmp_path, monkeypatch):
    """Two critics ranking the same candidates: each distinct grasp goes to the judge once per case, and a
    grasp both variants return gets one verdict."""
    from ifgrasp.grasp.diffusion import evaluate as ev
    from ifgrasp.grasp.diffusion.critic import GraspCritic

    seen = []
    real = ev.JUDGES["v1"]

    def counting(obj, grasps, part):
        seen.append(len(grasps))
        return real(obj, grasps, part)

    monkeypatch.setitem(ev.JUDGES, "v1", counting)
    off = PhysicsConfig(refine_steps=0, repair_steps=0, reject_self_m=1e9)
    torch.manual_seed(1)
    critics = [GraspCritic(n_basis=32, width=16).eval() for _ in range(2)]
    gens = {}
    for name, critic in zip(("a", "b"), critics):
        gen = _gen(off)
        gen.critic, gen.critic_in_graph = critic, True
        gens[name] = gen
    evaluate_student(gens, views_dir, k=4, views_per_object=1, log_path=tmp_path / "rows.jsonl", max_cases=1)
    rows = {r["variant"]: r for r in map(json.loads, (tmp_path / "rows.jsonl").read_text().splitlines())}
    extras = {n: g.last.grasps for n, g in gens.items()}
    keys = {n: {tuple(np.round(g.joints_rad[i], 9)) for i in range(len(g))} for n, g in extras.items()}
    assert seen == [len(keys["a"] | keys["b"])] and seen[0] < 8  # 8 candidates in all, 4 + 4 returned
    verdict = {}
    for n in gens:
        for i in range(4):
            key = tuple(np.round(extras[n].joints_rad[i], 9))
            assert verdict.setdefault(key, rows[n]["lift_v1"][i]) == rows[n]["lift_v1"][i]


def test_critics_are_parsed_with_labels_and_duplicates_named():
    from ifgrasp.grasp.diffusion.commands import parse_critics

    assert parse_critics("auto") == {"auto": "auto"}
    assert parse_critics("release=models/student/critic.pt, v2=out/c.pt") == {
        "release": "models/student/critic.pt", "v2": "out/c.pt"}
    with pytest.raises(ConfigError, match="twice"):
        parse_critics("a=x.pt,a=y.pt")
    with pytest.raises(ConfigError, match="empty"):
        parse_critics(" , ")


def test_a_report_over_fewer_grasps_than_the_run_takes_each_rows_first_k():
    from ifgrasp.grasp.diffusion.evaluate import summarize_rows

    row = {"category": "box", "part": "body", "error": None, "lift_v2": [False, True, False, False, True, True],
           "part_share": [1.0] * 6, "self_penetration_m": [0.0] * 6, "cloud_penetration_m": [0.0] * 6,
           "tip_part_distance_m": [0.01] * 6, "latency_s": 0.1, "critic_score": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]}
    miss = dict(row, lift_v2=[False] * 6)
    m = summarize_rows([row, miss], k=2, judges=("v2",))["overall"]["v2"]
    assert m["top1_lift"] == 0.0 and m["topk_lift"] == pytest.approx((0.5 + 0.0) / 2)
    assert m["any_returned"] == 0.5
    # the critic's scores on the 12 returned grasps: 3 successes ranked 2nd, 5th, 6th of the first row
    from ifgrasp.grasp.diffusion.critic import roc_auc

    scores = np.array(row["critic_score"] * 2)
    assert m["critic_auc"] == pytest.approx(roc_auc(scores, np.array(row["lift_v2"] + miss["lift_v2"])))
    # within the one case with both outcomes: successes at scores 0.8, 0.5, 0.4 vs failures 0.9, 0.7, 0.6
    assert m["critic_auc_within_case"] == pytest.approx(2 / 9) and m["critic_auc_cases"] == 1


def test_unknown_categories_are_named(views_dir):
    with pytest.raises(ConfigError, match="dragon"):
        evaluate_student(_gen(), views_dir, categories=("mug", "dragon"))


def test_outputs_touching_nothing_are_reported_apart_from_contacts_off_the_part():
    from ifgrasp.grasp.diffusion.evaluate import summarize_rows

    def row(contacts, share):
        return {"category": "mug", "part": "handle", "error": None, "lift_v1": [False] * 2, "part_share": share,
                "contacts": contacts, "self_penetration_m": [0.0] * 2, "cloud_penetration_m": [0.0] * 2,
                "tip_part_distance_m": [0.01] * 2, "latency_s": 0.1}

    # one output hovers (no contact), one holds the handle, one touches only the body, one half and half
    m = summarize_rows([row([0, 12], [0.0, 1.0]), row([7, 10], [0.0, 0.5])], k=2)["overall"]
    assert m["part_contact_share"] == pytest.approx(0.375)
    assert m["touching_nothing"] == pytest.approx(0.25)
    assert m["part_share_when_touching"] == pytest.approx(0.5)
