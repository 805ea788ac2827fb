"""Oracle backend and target selection: ground truth masks, colour and spatial words, refusals."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ifgrasp.errors import IfgraspError, InputError
from ifgrasp.grounding import parse_instruction
from ifgrasp.perception import AmbiguousTargetError, TargetCandidate, TargetNotFoundError
from ifgrasp.perception.segmentation import (
    OracleBackend, SelectionConfig, backend_names, colour_names, make_backend, select_target,
)
from ifgrasp.perception.segmentation.base import OBJECT_RGB, PART_RGB


@pytest.mark.parametrize("text, oid", [("the red mug by its handle", 1), ("the mug on the left", 1),
                                       ("the blue cup", 2), ("the mug on the right", 2)])
def test_oracle_picks_the_described_mug(scene, text, oid):
    frame, _, tables = scene
    res = make_backend("oracle", **tables).segment(frame, parse_instruction(text))
    np.testing.assert_array_equal(res.object_mask, frame.object_ids == oid)
    part_ids = [k for k, v in tables["part_names"].items() if v == res.part_name and k // 10 == oid]
    np.testing.assert_array_equal(res.part_mask, np.isin(frame.part_ids, part_ids))
    assert res.backend == "oracle" and res.extras["object_id"] == oid and len(res.scores) == 2
    assert res.overlay.shape == frame.color.shape and res.overlay.dtype == np.uint8


def test_overlay_tints_object_and_part(scene):
    frame, _, tables = scene
    res = OracleBackend(**tables).segment(frame, parse_instruction("the bottle"))
    body_only = res.object_mask & ~res.part_mask
    assert res.part_mask.any()  # bottle body is its default part: all of it
    assert body_only.sum() == 0
    red = res.overlay[res.part_mask].astype(int) - frame.color[res.part_mask].astype(int)
    assert np.all(np.sign(red[:, 0]) == np.sign(int(PART_RGB[0]) - frame.color[res.part_mask][:, 0].astype(int)))
    np.testing.assert_array_equal(res.overlay[~res.object_mask], frame.color[~res.object_mask])
    assert OBJECT_RGB.tolist() != PART_RGB.tolist()


def test_two_equal_mugs_are_ambiguous(scene):
    frame, _, tables = scene
    with pytest.raises(AmbiguousTargetError, match="2 objects match 'mug'") as err:
        OracleBackend(**tables).segment(frame, parse_instruction("pick up the mug"))
    assert len(err.value.candidates) == 2 and {c.colour for c in err.value.candidates} == {"red", "blue"}


@pytest.mark.parametrize("text, match", [("the knife", "no knife in view"), ("the green mug", "no green mug")])
def test_nothing_matching(scene, text, match):
    frame, _, tables = scene
    with pytest.raises(TargetNotFoundError, match=match):
        OracleBackend(**tables).segment(frame, parse_instruction(text))


def test_registry_and_bad_tables(scene):
    assert {"oracle", "pretrained"} <= set(backend_names())
    with pytest.raises(IfgraspError, match="unknown segmentation backend 'magic'; known: oracle, pretrained"):
        make_backend("magic")
    with pytest.raises(InputError, match="unknown categories banana"):
        OracleBackend({1: "banana"}, {})
    frame, _, tables = scene
    import dataclasses
    with pytest.raises(InputError, match="object_ids"):
        OracleBackend(**tables).segment(dataclasses.replace(frame, object_ids=None), parse_instruction("the mug"))


def test_colour_names():
    rgb = [(220, 30, 30), (30, 40, 220), (30, 200, 40), (240, 240, 240), (10, 10, 10), (230, 220, 30), (130, 130, 128)]
    assert colour_names(np.array(rgb)).tolist() == ["red", "blue", "green", "white", "black", "yellow", "grey"]


def _cand(i, y, x=0.45, score=1.0):
    return TargetCandidate(instance=i, category="mug", score=score, centroid_base_m=(x, y, 0.05))


@given(st.lists(st.floats(-0.4, 0.4), min_size=2, max_size=6, unique=True))
def test_left_right_pick_the_extremes(ys):
    ys = np.array(ys)
    s = np.sort(ys)
    cands = [_cand(i, y) for i, y in enumerate(ys)]
    cfg = SelectionConfig(relation_margin_m=0.03)
    for rel, idx, gap in (("left", int(np.argmax(ys)), s[-1] - s[-2]), ("right", int(np.argmin(ys)), s[1] - s[0])):
        g = parse_instruction(f"the mug on the {rel}")
        if gap >= 0.03:
            assert select_target(cands, g, cfg).instance == idx
        else:
            with pytest.raises(AmbiguousTargetError):
                select_target(cands, g, cfg)


def test_scores_break_ties_only_when_clearly_better():
    g = parse_instruction("the mug")
    assert select_target([_cand(0, 0.1, score=0.9), _cand(1, -0.1, score=0.3)], g).instance == 0
    with pytest.raises(AmbiguousTargetError):
        select_target([_cand(0, 0.1, score=0.9), _cand(1, -0.1, score=0.8)], g)
    assert select_target([_cand(0, 0.0, x=0.6), _cand(1, 0.0, x=0.4)], parse_instruction("the nearest mug")).instance == 1
