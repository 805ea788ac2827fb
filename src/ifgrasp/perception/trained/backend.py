"""TRAINED backend: depth instances -> PartNet (category + part per point) -> the instructed target.

    backend = make_backend("trained")                                  # committed weights
    backend = make_backend("trained", config=TrainedConfig(weights="/path/trained.pt"))
    result = backend.segment(frame, parse_instruction("the mug by its handle"))

Per frame: ``find_instances`` (table plane + clustering, the same code the training views used);
clusters outside the workspace box or not standing on the table (the robot, a hovering hand) are
dropped; each cluster's first ``normal_points`` shuffled points give the normals and curvature
(``features.py``, for checkpoints trained with them) of ``n_points`` of them, which go through the
network in one batch (``yaw_copies`` turned copies averaged, if asked). Category votes and part
logits are averaged over each sample's ``smooth_k`` / ``smooth_part_k`` nearest samples
(``grouping.py``); each pixel takes the labels of its nearest sample. A cluster whose votes give a
second category >= ``split_fraction`` is split (two touching objects); same-category pieces closer
than ``merge_distance_m``, or than ``merge_occluded_m`` with the gap between them hidden behind
something nearer, are joined (one object cut by an occluder). Candidates of the instructed category go through the shared ``select_target`` (colour, spatial
words, refusing ties). Stage times (s) are in ``result.extras["stage_s"]``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from pydantic import Field
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ifgrasp.config import Config
from ifgrasp.errors import ModelError
from ifgrasp.grounding import GroundedInstruction
from ifgrasp.paths import REPO_ROOT
from ifgrasp.perception.depth import transform_points
from ifgrasp.perception.instances import InstanceConfig, find_instances
from ifgrasp.perception.segmentation.base import SegmentationBackend, SegmentationResult, register_backend
from ifgrasp.perception.segmentation.selection import SelectionConfig, describe_candidates, select_target
from ifgrasp.perception.trained.network import PartNet
from ifgrasp.perception.trained.grouping import occluded_gaps, smooth_probs
from ifgrasp.perception.trained.features import FEATURE_CHANNELS, local_normals, network_input, yaw_copies
from ifgrasp.perception.trained.vocab import PART_ALLOWED
from ifgrasp.timing import StageTimer
from ifgrasp.types import RGBDFrame

log = logging.getLogger(__name__)

STAGES = ("instances", "points", "network", "labels", "select")


class TrainedConfig(Config):
    """Section ``backend`` of ``config/perception_trained.yaml``."""

    weights: str = Field("models/perception/trained.pt", description="checkpoint (relative to the repo root)")
    min_pixels: int = Field(60, gt=0, description="clusters with fewer valid pixels are ignored")
    workspace_x_m: tuple[float, float] = Field((0.12, 1.0), description="x range of cluster centroids, base frame")
    workspace_y_m: tuple[float, float] = Field((-0.6, 0.6), description="y range of cluster centroids, base frame")
    support_max_z_m: float = Field(0.04, gt=0, description="a cluster's lowest point must be below this "
                                   "height (it stands on the table)")
    split_fraction: float = Field(0.2, gt=0, le=1, description="a second category with this share of a "
                                  "cluster's points splits it")
    merge_distance_m: float = Field(0.04, ge=0, description="same-category pieces closer than this are one object")
    merge_occluded_m: float = Field(0.15, ge=0, description="same-category pieces closer than this are one object "
                                    "when the gap between them is hidden behind something nearer (0: off)")
    occlusion_tol_m: float = Field(0.01, gt=0, description="depth tolerance of the hidden-gap test")
    smooth_k: int = Field(8, ge=1, description="category votes averaged over this many nearest samples before "
                          "splitting (1: off)")
    smooth_part_k: int = Field(8, ge=1, description="part logits averaged over this many nearest samples (1: off)")
    n_points: int | None = Field(None, gt=16, description="points per cluster fed to the network "
                                 "(default: the checkpoint's training value; fewer is faster)")
    min_score: float = Field(0.3, gt=0, le=1, description="an object whose points give the named category at "
                             "least this mean probability is a candidate even if another category is likelier")
    seed: int = Field(0, description="seed of the point sampling")
    yaw_copies: int = Field(1, ge=1, description="test-time augmentation: the network sees each cluster at this "
                            "many yaws, probabilities averaged (1: off; the network cost grows with it)")


def load_model(path: Path) -> tuple[PartNet, dict]:
    """The network of a checkpoint (float32, eval mode) and its metadata; ``ModelError`` if missing."""
    if not path.is_file():
        raise ModelError(f"trained perception weights missing: {path} not found; train them with "
                         "ifgrasp.perception.trained.train.train() (`ifgrasp train-perception`) or check "
                         "config/perception_trained.yaml backend.weights")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        net = ckpt["meta"]["network"]
        model = PartNet(len(ckpt["meta"]["categories"]), len(ckpt["meta"]["parts"]), net["k"], net["width"],
                        net["global_width"], FEATURE_CHANNELS if net.get("features", "xyz") == "normals" else 3)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    except (KeyError, RuntimeError, ValueError) as exc:
        raise ModelError(f"could not load trained perception weights from {path}: {exc}") from exc
    return model.eval(), ckpt["meta"]


def _nearest_sample(samples: np.ndarray, points: np.ndarray, slot: np.ndarray, voxel_m: float = 0.003) -> np.ndarray:
    """For each of ``points`` (M, 3) in cluster ``slot`` (M,), the flat index into ``samples``
    (K, n, 3) of the nearest sample of the same cluster. Points are first snapped to ``voxel_m``
    voxels and one query answers a whole voxel (~5x fewer queries at 640x480); clusters are moved
    100 m apart so no neighbour crosses between them."""
    k = samples.shape[0]
    off = np.array([100.0, 0.0, 0.0], np.float32)
    tree = cKDTree((samples + off * np.arange(k)[:, None, None]).reshape(-1, 3))
    q = points + off * slot[:, None]  # (M, 3)
    cell = np.floor(q / voxel_m).astype(np.int64)  # (M, 3), |cell| < 2^20 for points within 3 km
    key = (cell[:, 0] << 42) + ((cell[:, 1] + (1 << 20)) << 21) + (cell[:, 2] + (1 << 20))
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return tree.query(q[first], k=1)[1][inverse]


@register_backend("trained")
class TrainedBackend(SegmentationBackend):
    """Self-trained point-network backend (see the module docstring)."""

    def __init__(self, config: TrainedConfig = TrainedConfig(), instances: InstanceConfig = InstanceConfig(),
                 selection: SelectionConfig = SelectionConfig()):
        path = Path(config.weights)
        self.model, self.meta = load_model(path if path.is_absolute() else REPO_ROOT / path)
        self.categories: tuple[str, ...] = tuple(self.meta["categories"])
        self.parts: tuple[str, ...] = tuple(self.meta["parts"])
        net = self.meta["network"]
        self.n_points = int(config.n_points or net["n_points"])
        self.features: str = net.get("features", "xyz")  # checkpoints before normals: xyz only
        self.normal_k, self.normal_points = int(net.get("normal_k", 16)), int(net.get("normal_points", 2048))
        self.config, self.instances, self.selection = config, instances, selection

    # -- labelling ---------------------------------------------------------------------------------
    def label_frame(self, frame: RGBDFrame, timer: StageTimer | None = None) -> dict[str, np.ndarray]:
        """Objects and parts in view: ``masks`` (O, H, W) bool, ``category`` (O,) index into
        ``categories`` (the most likely), ``prob`` (O, C) mean category probabilities of each object's
        points, ``pixel_part`` (H, W) index into ``parts`` (-1 off objects)."""
        timer = timer or StageTimer()
        cfg = self.config
        h, w = frame.depth_m.shape
        with timer.stage("instances"):
            inst = find_instances(frame, self.instances)
        with timer.stage("points"):
            flat = np.flatnonzero((inst.labels.ravel() >= 0) & (frame.depth_m.ravel() > 0))  # (M,)
            lab = inst.labels.ravel()[flat]
            v, u = np.divmod(flat, w)
            z = frame.depth_m.ravel()[flat]
            intr = frame.intrinsics
            pts = transform_points(frame.T_base_camera, np.stack(
                [(u - intr.cx) * z / intr.fx, (v - intr.cy) * z / intr.fy, z], axis=1).astype(np.float32))  # (M, 3)
            k_all = inst.masks.shape[0]
            count = np.bincount(lab, minlength=k_all)  # (K,)
            cent = np.stack([np.bincount(lab, pts[:, i], k_all) for i in range(2)], 1) / np.maximum(count, 1)[:, None]
            zmin = np.full(k_all, np.inf)
            np.minimum.at(zmin, lab, pts[:, 2])
            (x0, x1), (y0, y1) = cfg.workspace_x_m, cfg.workspace_y_m
            keep = np.flatnonzero((count >= cfg.min_pixels) & (cent[:, 0] > x0) & (cent[:, 0] < x1)
                                  & (cent[:, 1] > y0) & (cent[:, 1] < y1) & (zmin <= cfg.support_max_z_m))
            if len(keep) == 0:
                return dict(masks=np.zeros((0, h, w), bool), category=np.zeros(0, np.int64),
                            prob=np.zeros((0, len(self.categories))), pixel_part=np.full((h, w), -1, np.int64))
            rng = np.random.default_rng(cfg.seed)
            order = np.argsort(lab + rng.random(len(lab)))  # (M,) pixels grouped by cluster, random within
            start = np.concatenate([[0], np.cumsum(count)])[keep]  # (K,)
            # Each cluster's first min(count, normal_points) shuffled points are its neighbour set
            # (the training density); the network sees the first n of them (drawn again if fewer).
            m_nb = self.normal_points
            cnt = np.minimum(count[keep], m_nb)  # (K,)
            j = np.arange(m_nb)
            nbr = order[start[:, None] + np.where(j < cnt[:, None], j, 0)]  # (K, m_nb) rows of pts
            jn = np.arange(self.n_points)
            pos = np.where(jn < cnt[:, None], jn, (rng.random((len(keep), self.n_points)) * cnt[:, None]).astype(np.int64))
            rows = np.arange(len(keep))[:, None]
            sel = nbr[rows, pos]  # (K, n)
            if self.features == "normals":
                normals, curv = local_normals(pts[nbr], cnt, frame.T_base_camera[:3, 3], self.normal_k,
                                              n_query=self.n_points)  # (K, q, 3), (K, q)
                x = network_input(pts[sel], normals[rows, pos], curv[rows, pos])  # (K, n, 7)
            else:
                x = network_input(pts[sel])  # (K, n, 3)
        with timer.stage("network"), torch.inference_mode():
            a = cfg.yaw_copies
            xa = yaw_copies(x, a).reshape(a * x.shape[0], *x.shape[1:])  # (A K, n, F)
            cl, pl = self.model(torch.from_numpy(xa))  # (A K, n, C), (A K, n, P)
            prob = cl.softmax(-1).numpy().reshape(a, *x.shape[:2], -1).mean(0)  # (K, n, C)
            pl = pl.numpy().reshape(a, *x.shape[:2], -1).mean(0)  # (K, n, P)
        with timer.stage("labels"):
            return self._objects(frame, inst.labels, flat, lab, pts, keep, sel, prob, pl)

    def _objects(self, frame, labels, flat, lab, pts, keep, sel, prob, pl) -> dict[str, np.ndarray]:
        cfg = self.config
        h, w = labels.shape
        k = len(keep)
        pcat = smooth_probs(pts[sel], prob, cfg.smooth_k).argmax(-1)  # (K, n) votes, neighbourhood-smoothed
        share = np.stack([np.bincount(r, minlength=prob.shape[-1]) for r in pcat]) / pcat.shape[1]  # (K, C)
        main = share.argmax(1)
        # Pixels of kept clusters take their nearest sampled point's labels (clusters offset apart).
        slot = np.full(labels.max() + 2, -1)
        slot[keep] = np.arange(k)
        ps = slot[lab]
        on = ps >= 0
        nn = _nearest_sample(pts[sel], pts[on], ps[on])  # (M',) into K * n
        pix = flat[on]
        pix_slot = ps[on]
        allowed = (share >= cfg.split_fraction) | (np.arange(share.shape[1]) == main[:, None])  # (K, C)
        pix_cat = pcat.ravel()[nn]
        pix_cat = np.where(allowed[pix_slot, pix_cat], pix_cat, main[pix_slot])  # minor votes join the main object
        pl = smooth_probs(pts[sel], pl, cfg.smooth_part_k)  # (K, n, P)
        pl_pix = pl.reshape(-1, pl.shape[-1])[nn]  # (M', P)
        pix_part = np.where(PART_ALLOWED[pix_cat], pl_pix, -np.inf).argmax(-1)  # a part of the pixel's object
        pcat_eff = np.where(allowed[np.arange(k)[:, None], pcat], pcat, main[:, None])  # (K, n)
        objects = []  # (slot, category, category probabilities (C,), sample mask (n,))
        for s in range(k):
            for c in np.flatnonzero(allowed[s]):
                m = pcat_eff[s] == c
                objects.append((s, int(c), prob[s][m].mean(0) if m.any() else prob[s].mean(0), m))
        # Join same-category pieces that nearly touch, or whose gap is hidden by an occluder.
        n_obj = len(objects)
        near = np.eye(n_obj, dtype=bool)
        pairs, ends = [], []
        reach = max(cfg.merge_distance_m, cfg.merge_occluded_m)
        for i in range(n_obj):
            for j in range(i):
                (si, ci, _, mi), (sj, cj, _, mj) = objects[i], objects[j]
                if ci == cj and si != sj and mi.any() and mj.any():
                    pi, pj = pts[sel[si][mi]], pts[sel[sj][mj]]
                    d, nn_i = cKDTree(pi).query(pj, k=1)
                    b = int(np.argmin(d))
                    if d[b] < cfg.merge_distance_m:
                        near[i, j] = near[j, i] = True
                    elif d[b] < reach:
                        pairs.append((i, j))
                        ends.append((pi[nn_i[b]], pj[b]))
        if pairs:
            a_pts, b_pts = (np.array(e, np.float64) for e in zip(*ends))  # (E, 3) each
            hidden = occluded_gaps(frame.depth_m, frame.intrinsics, np.linalg.inv(frame.T_base_camera),
                                   a_pts, b_pts, cfg.occlusion_tol_m)
            for (i, j), hid in zip(pairs, hidden):
                near[i, j] = near[j, i] = bool(hid)
        n_groups, group = connected_components(near, directed=False)
        masks = np.zeros((n_groups, h * w), bool)
        cats, probs = np.zeros(n_groups, np.int64), np.zeros((n_groups, prob.shape[-1]))
        for i, (s, c, pr, _) in enumerate(objects):
            g = group[i]
            masks[g, pix[(pix_slot == s) & (pix_cat == c)]] = True
            probs[g] = np.maximum(probs[g], pr)
            cats[g] = c
        pixel_part = np.full(h * w, -1, np.int64)
        pixel_part[pix] = pix_part
        return dict(masks=masks.reshape(-1, h, w), category=cats, prob=probs, pixel_part=pixel_part.reshape(h, w))

    # -- SegmentationBackend -----------------------------------------------------------------------
    def segment(self, frame: RGBDFrame, grounded: GroundedInstruction) -> SegmentationResult:
        timer = StageTimer()
        objs = self.label_frame(frame, timer)
        with timer.stage("select"):
            c = self.categories.index(grounded.category)
            # Candidates: objects most likely of the category, and those giving it at least min_score
            # (a confusable view of the right object still counts; select_target refuses close calls).
            mine = np.flatnonzero((objs["category"] == c) | (objs["prob"][:, c] >= self.config.min_score))
            cands = describe_candidates(frame, objs["masks"][mine], grounded.category, objs["prob"][mine, c])
            target = select_target(cands, grounded, self.selection)  # raises on none / ties
            obj_mask = objs["masks"][mine[target.instance]]
            part_mask = obj_mask & (objs["pixel_part"] == self.parts.index(grounded.part))
        if not part_mask.any():
            log.warning("trained: part '%s' of the %s not found", grounded.part, grounded.category)
        return self._result(frame, grounded, obj_mask, part_mask, cands, target.instance,
                            stage_s=dict(timer.durations_s), object_categories=[self.categories[i] for i in objs["category"]])
