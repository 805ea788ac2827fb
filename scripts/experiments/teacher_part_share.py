# Experiment script of docs/experiments.md (eighth session); run from the repository root with PYTHONPATH=src.
"""Teacher's v1-validated training grasps measured with the student evaluation's own contact measure
(hand with 300 surface samples, ObjectSDF, 5 mm), per task: the share a perfect imitation would score."""
import numpy as np
from pathlib import Path
from ifgrasp.grasp.dataset import load_dataset
from ifgrasp.grasp.evaluate import v1_validated_mask
from ifgrasp.grasp.metrics import contact_stats
from ifgrasp.grasp.object_sdf import ObjectSDF
from ifgrasp.hand import LeapHandModel
from ifgrasp.sim.objects import make_object
from ifgrasp.types import GraspBatch
d = load_dataset(Path("data/teacher")); m = v1_validated_mask(d)
from ifgrasp.grasp.metrics import measuring_hand
hands = {300: LeapHandModel(n_surface_points=300), 400: LeapHandModel(n_surface_points=400), 6400: measuring_hand()}
rng = np.random.default_rng(0)
res = {}
for cat, part in sorted(set(zip(d["category"][m], d["part"][m]))):
    idx = np.flatnonzero(m & (d["category"] == cat) & (d["part"] == part))
    idx = np.sort(rng.choice(idx, min(len(idx), 240), replace=False))
    shares = {h: [] for h in hands}; nothing = []
    for seed in np.unique(d["object_seed"][idx]):
        s = idx[d["object_seed"][idx] == seed]
        obj = make_object(cat, int(seed)); sdf = ObjectSDF.from_trimesh(obj.mesh, obj.name)
        g = GraspBatch(d["wrist_pos_m"][s].astype(float), d["wrist_rot"][s].astype(float), d["joints_rad"][s].astype(float), frame="object")
        surf = obj.sample_surface(384, np.random.default_rng(int(seed)))[0]
        for h, hand in hands.items():
            st = contact_stats(hand, sdf, obj.face_part, obj.part_index(part), g, surf)
            shares[h].extend(st.part_share.tolist())
            if h == 300: nothing.extend((st.num_contacts == 0).tolist())
    res[f"{cat}/{part}"] = (len(idx), d["part_share"][idx].mean(), np.mean(shares[300]), np.mean(shares[400]), np.mean(shares[6400]), np.mean(np.array(shares[6400]) >= 0.5))
    print(f"{cat}/{part}: n {len(idx)} stored {res[f'{cat}/{part}'][1]:.2f} | 300 samples {np.mean(shares[300]):.2f} | 400 {np.mean(shares[400]):.2f} | 6400 {np.mean(shares[6400]):.2f} (>=0.5: {np.mean(np.array(shares[6400]) >= 0.5):.2f}) | touching nothing (300) {np.mean(nothing):.2f}", flush=True)
a = np.array([v[1:5] for v in res.values()]); print("task mean stored / 300 / 400 / 6400:", a.mean(0).round(3))
