"""Contact measures of evaluations do not depend on which hand surface samples were drawn."""

import json
from pathlib import Path

import numpy as np

from ifgrasp.grasp.metrics import contact_stats, measuring_hand
from ifgrasp.grasp.object_sdf import ObjectSDF
from ifgrasp.hand import LeapHandModel
from ifgrasp.sim.objects import make_object
from ifgrasp.types import GraspBatch

SHARD = Path(__file__).parents[2] / "data" / "teacher" / "spray_bottle_0000_trigger_r00.npz"


def _shares(hand, grasps, obj, sdf, surface):
    return contact_stats(hand, sdf, obj.face_part, obj.part_index("trigger"), grasps, surface).part_share


def test_the_share_of_contacts_on_a_trigger_is_the_same_whichever_samples_measure_it():
    with np.load(SHARD) as z:  # 32 optimised grasps of a spray bottle's trigger (teacher training set)
        grasps = GraspBatch(z["wrist_pos_m"].astype(float), z["wrist_rot"].astype(float),
                            z["joints_rad"].astype(float), frame="object")
        meta = json.loads(str(z["meta"]))
    obj = make_object(meta["category"], meta["object_seed"])
    sdf = ObjectSDF.from_trimesh(obj.mesh, obj.name)
    surface = obj.sample_surface(384, np.random.default_rng(0))[0]
    dense = [_shares(measuring_hand(seed), grasps, obj, sdf, surface) for seed in (0, 1)]
    assert abs(dense[0].mean() - dense[1].mean()) < 0.03
    assert np.abs(dense[0] - dense[1]).mean() < 0.06
    # what it replaced: 300 samples (the generator's hand) disagree with themselves grasp by grasp
    sparse = [_shares(LeapHandModel(n_surface_points=300, seed=seed), grasps, obj, sdf, surface) for seed in (0, 1)]
    assert np.abs(sparse[0] - sparse[1]).mean() > 2 * np.abs(dense[0] - dense[1]).mean()
