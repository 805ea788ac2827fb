"""Training views: run-time instances of a noisy rendered cluttered scene -> labelled point samples."""

import numpy as np
import pytest

from ifgrasp.perception.instances import InstanceConfig
from ifgrasp.perception.trained.dataset import DatasetConfig, build_shard, instance_samples, load_shards, render_view
from ifgrasp.perception.trained.vocab import PART_ALLOWED, PART_VOCAB
from ifgrasp.sim.objects import CATEGORIES


@pytest.fixture(scope="module")
def view():
    return render_view(2, "train")


def test_view_is_noisy_and_labelled(view):
    f = view.frame
    assert f.depth_m.shape == (480, 640) and f.color.shape == (480, 640, 3)
    on = view.gt_object >= 0
    np.testing.assert_array_equal(view.gt_category >= 0, on)
    np.testing.assert_array_equal(view.gt_part >= 0, on)
    assert (f.depth_m == 0).any()  # noise drops edge pixels and holes
    again = render_view(2, "train")
    np.testing.assert_array_equal(again.frame.depth_m, f.depth_m)  # deterministic per seed


def test_instance_samples_shapes_and_labels(view):
    samples = instance_samples(view, InstanceConfig(), 256, 60, np.random.default_rng(0))
    assert len(samples) >= 2
    for s in samples:
        n = len(s["points"])
        assert 60 <= n <= 256 and s["points"].shape == (n, 3) and s["points"].dtype == np.float32
        assert s["category"].shape == s["part"].shape == (n,)
        assert s["points"][:, 2].min() > -0.02  # base frame: above the table top z = 0
        on = s["category"] >= 0
        assert on.mean() > 0.8  # instances are objects, not table
        assert PART_ALLOWED[s["category"][on], s["part"][on]].all()  # a point's part belongs to its category
        assert s["category"].max() < len(CATEGORIES) and s["part"].max() < len(PART_VOCAB)


def test_shard_round_trip(tmp_path):
    p = build_shard("heldout", range(0, 1), tmp_path / "heldout_0.npz", DatasetConfig(points_per_instance=128))
    data = load_shards([p, p])
    n = len(data["points"])
    assert data["points"].shape == (n, 3) and data["instance"].shape == (n,)
    k = len(np.unique(data["instance"]))
    assert k % 2 == 0 and np.bincount(data["instance"]).max() <= 128  # two shards, distinct ids
