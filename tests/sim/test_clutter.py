"""Cluttered scenes: determinism per seed, train / held-out object families, packing, rendering."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ifgrasp.errors import InputError
from ifgrasp.sim.clutter import ClutterConfig, ClutterRenderer, _gap, clutter_scene
from ifgrasp.sim.objects import HELDOUT_SEED_BASE, PARTS
from ifgrasp.sim.scene_config import SceneConfig

CFG = ClutterConfig()


def _key(s):
    return s.scene.model_dump_json(), tuple((o.category, o.seed) for o in s.objects)


def test_same_seed_same_scene_and_seeds_differ():
    assert _key(clutter_scene(3, "train")) == _key(clutter_scene(3, "train"))
    keys = {_key(clutter_scene(s, "train")) for s in range(4)}
    assert len(keys) == 4
    assert _key(clutter_scene(3, "train")) != _key(clutter_scene(3, "heldout"))


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), split=st.sampled_from(["train", "heldout"]))
def test_family_split_counts_and_packing(seed, split):
    s = clutter_scene(seed, split)
    objs = s.objects
    assert CFG.n_objects[0] <= len(objs) <= CFG.n_objects[1]
    assert len({o.category for o in objs}) == len(objs)  # distinct categories: no ambiguous names
    if split == "train":
        assert all(o.seed < CFG.train_instances for o in objs)
    else:
        assert all(HELDOUT_SEED_BASE <= o.seed < HELDOUT_SEED_BASE + CFG.heldout_instances for o in objs)
    poses = [(o, np.array([p.x_m, p.y_m]), p.yaw_rad) for o, p in zip(objs, s.scene.objects)]
    for i, a in enumerate(poses):
        assert CFG.region_x_m[0] < a[1][0] < CFG.region_x_m[1]
        gaps = [_gap(a, b) for j, b in enumerate(poses) if j != i]
        assert min(gaps) > 0.0  # no interpenetration
        if i > 0:  # packed: every later object was slid up to a neighbour
            assert min(gaps) < CFG.gap_m[1] + 0.01
    base = SceneConfig.default().camera
    d = np.abs(np.asarray(s.scene.camera.position_m) - base.position_m)
    assert np.all(d <= CFG.eye_jitter_m + 1e-9) and d.max() > 0
    assert not s.scene.robot.enabled


def test_bad_split_and_seed():
    with pytest.raises(InputError, match="known: heldout, train"):
        clutter_scene(0, "test")
    with pytest.raises(InputError, match="non-negative"):
        clutter_scene(-1, "train")


def test_render_labels_match_objects():
    vocab = tuple(dict.fromkeys(p for ps in PARTS.values() for p in ps))
    s = clutter_scene(1, "heldout")
    with ClutterRenderer(s, vocab, width=160, height=120) as r:
        f = r.render()
        parts = r.gt_parts(f)
    assert f.depth_m.shape == (120, 160) and f.intrinsics.fx == pytest.approx(615.0 / 4)
    seen = np.unique(f.object_ids[f.object_ids >= 0])
    assert len(seen) >= 2
    np.testing.assert_array_equal(parts >= 0, f.object_ids >= 0)
    for oid in seen:  # each pixel's global part is one of its own object's parts
        names = {vocab[p] for p in np.unique(parts[f.object_ids == oid])}
        assert names <= set(PARTS[s.objects[oid].category])
