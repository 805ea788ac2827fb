"""Construction-time geometry of the hand's collision boxes (numpy): surface samples, contact
candidates on the palmar faces, and the sphere sets used for self-penetration.

Everything here is computed once per model, deterministically (fixed seed), in link frames; the
torch model only transforms the results.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ifgrasp.hand.urdf import HandTree


class LinkPoints(NamedTuple):
    """Points attached to links: ``link`` (P,) link index, ``points`` (P, 3) and ``normals`` (P, 3)
    in the link frame (metres; unit outward normals)."""

    link: np.ndarray
    points: np.ndarray
    normals: np.ndarray


class Spheres(NamedTuple):
    """``link`` (S,), ``centers`` (S, 3) in the link frame, ``radii`` (S,) metres."""

    link: np.ndarray
    centers: np.ndarray
    radii: np.ndarray


#: Palmar faces offering contact candidates: (link name, outward direction in the link frame,
#: grid spacing in metres). Directions follow the joint axes: fingers flex toward -z of the palm.
CONTACT_FACES: tuple[tuple[str, tuple[float, float, float], float], ...] = (
    ("palm", (0.0, 0.0, -1.0), 0.02),
    *((f"{f}_proximal", (0.0, 0.0, -1.0), 0.012) for f in ("index", "middle", "ring")),
    *((f"{f}_medial", (-1.0, 0.0, 0.0), 0.012) for f in ("index", "middle", "ring")),
    *((f"{f}_distal", (-1.0, 0.0, 0.0), 0.009) for f in ("index", "middle", "ring")),
    *((f"{f}_distal", (0.0, -1.0, 0.0), 0.012) for f in ("index", "middle", "ring")),
    ("thumb_medial", (1.0, 0.0, 0.0), 0.012),
    ("thumb_distal", (-1.0, 0.0, 0.0), 0.009),
    ("thumb_distal", (0.0, -1.0, 0.0), 0.012),
)


def box_sdf_np(points: np.ndarray, T_box: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Signed distance (N,) of points (N, 3) to one box (pose (4, 4), half extents (3,)); < 0 inside."""
    local = (points - T_box[:3, 3]) @ T_box[:3, :3]  # (N, 3)
    q = np.abs(local) - half
    return np.linalg.norm(np.maximum(q, 0.0), axis=-1) + np.minimum(q.max(axis=-1), 0.0)


def _inside_other_boxes(tree: HandTree, link: int, points: np.ndarray, skip: int, tol: float) -> np.ndarray:
    """(N,) True where a point lies deeper than ``tol`` inside another box of the same link."""
    inside = np.zeros(len(points), dtype=bool)
    for k in np.flatnonzero(tree.box_link == link):
        if k != skip:
            inside |= box_sdf_np(points, tree.T_link_box[k], tree.box_half[k]) < -tol
    return inside


def sample_surface(tree: HandTree, n_points: int, seed: int = 0, oversample: int = 20) -> LinkPoints:
    """``n_points`` points uniform by area on the union surface of each link's boxes (all links)."""
    rng = np.random.default_rng(seed)
    # faces: (K*6) of (box, axis, sign); area of a face normal to axis a is 4 * h_b * h_c
    areas = np.stack([4 * tree.box_half[:, 1] * tree.box_half[:, 2], 4 * tree.box_half[:, 0] * tree.box_half[:, 2],
                      4 * tree.box_half[:, 0] * tree.box_half[:, 1]], axis=1)  # (K, 3)
    face_area = np.repeat(areas, 2, axis=1).reshape(-1)  # (K*6,)
    m = n_points * oversample
    face = rng.choice(len(face_area), size=m, p=face_area / face_area.sum())
    box, axis, sign = face // 6, (face % 6) // 2, np.where(face % 2 == 0, 1.0, -1.0)
    uv = rng.uniform(-1.0, 1.0, size=(m, 3))
    local = uv * tree.box_half[box]  # (m, 3) in the box frame
    local[np.arange(m), axis] = sign * tree.box_half[box, axis]
    normal_box = np.zeros((m, 3))
    normal_box[np.arange(m), axis] = sign
    R, t = tree.T_link_box[box, :3, :3], tree.T_link_box[box, :3, 3]
    pts = np.einsum("mij,mj->mi", R, local) + t  # (m, 3) link frame
    nrm = np.einsum("mij,mj->mi", R, normal_box)
    keep = np.ones(m, dtype=bool)
    for k in range(len(tree.box_link)):  # per box, drop samples buried in a sibling box
        sel = np.flatnonzero(box == k)
        keep[sel] = ~_inside_other_boxes(tree, tree.box_link[k], pts[sel], k, 1e-9)
    idx = np.flatnonzero(keep)
    idx = np.sort(rng.choice(idx, size=n_points, replace=False))
    order = np.argsort(tree.box_link[box[idx]], kind="stable")  # group by link
    idx = idx[order]
    return LinkPoints(tree.box_link[box[idx]], pts[idx], nrm[idx])


def contact_candidates(tree: HandTree, faces=CONTACT_FACES, inset: float = 0.15) -> LinkPoints:
    """Grid points on the palmar faces listed in ``faces``, with outward normals (link frames)."""
    links, points, normals = [], [], []
    for link_name, direction, spacing in faces:
        link = tree.link_names.index(link_name)
        d = np.asarray(direction, dtype=float)
        boxes = np.flatnonzero(tree.box_link == link)
        offsets = []
        for k in boxes:
            d_box = tree.T_link_box[k, :3, :3].T @ d
            offsets.append(d @ tree.T_link_box[k, :3, 3] + np.abs(d_box) @ tree.box_half[k])
        offsets = np.array(offsets)
        for k, off in zip(boxes, offsets):
            if off < offsets.max() - 1.5e-3:
                continue
            d_box = tree.T_link_box[k, :3, :3].T @ d
            a = int(np.argmax(np.abs(d_box)))
            u, v = [i for i in range(3) if i != a]
            h = tree.box_half[k]
            nu, nv = (max(1, int(round(2 * h[i] / spacing))) for i in (u, v))
            su = (-1 + (2 * np.arange(nu) + 1) / nu) * (1 - inset) * h[u]
            sv = (-1 + (2 * np.arange(nv) + 1) / nv) * (1 - inset) * h[v]
            gu, gv = np.meshgrid(su, sv, indexing="ij")
            local = np.zeros((gu.size, 3))
            local[:, u], local[:, v], local[:, a] = gu.ravel(), gv.ravel(), np.sign(d_box[a]) * h[a]
            pts = local @ tree.T_link_box[k, :3, :3].T + tree.T_link_box[k, :3, 3]
            pts = pts[~_inside_other_boxes(tree, link, pts, k, 1e-9)]
            links.append(np.full(len(pts), link))
            points.append(pts)
            normals.append(np.tile(d, (len(pts), 1)))
    return LinkPoints(np.concatenate(links), np.concatenate(points), np.concatenate(normals))


def sphere_sets(tree: HandTree, min_radius: float = 0.0045) -> Spheres:
    """Spheres filling each box (radius = its smallest half extent, centres spaced <= one radius
    along the other two axes); boxes thinner than ``min_radius`` (plates) are skipped."""
    links, centers, radii = [], [], []
    for k in range(len(tree.box_link)):
        h = tree.box_half[k]
        r = h.min()
        if r < min_radius:
            continue
        axes = [np.linspace(-(hi - r), hi - r, max(1, int(np.ceil((hi - r) * 2 / r)) + 1)) if hi > r else
                np.zeros(1) for hi in h]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        c = grid @ tree.T_link_box[k, :3, :3].T + tree.T_link_box[k, :3, 3]
        links.append(np.full(len(c), tree.box_link[k]))
        centers.append(c)
        radii.append(np.full(len(c), r))
    return Spheres(np.concatenate(links), np.concatenate(centers), np.concatenate(radii))
