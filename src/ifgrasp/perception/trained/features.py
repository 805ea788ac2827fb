"""Per-point geometry features of a depth instance: surface normals and curvature from local PCA.

A point network on xyz alone separates plain shapes badly (a box, a can and a ball of the same
size differ only in how their surface bends, which 256 noisy points hardly show). Each point gets
the normal and the surface variation of its ``k`` nearest neighbours among up to
``points_per_instance`` points of its instance (the same density in training and at run time):

* normal (3,): the covariance's smallest eigenvector, oriented towards the camera (base frame);
  a box's normals fall into <= 3 directions, a can's spread along a circle, a ball's over a cap;
* curvature (1,): surface variation ``lambda_min / (lambda_1 + lambda_2 + lambda_3)`` in [0, 1/3],
  scaled by ``CURVATURE_SCALE`` so it is O(1).

Geometry only (no colour). Network input: ``[normalise(xyz), normal, curvature]`` (N, 7).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ifgrasp.perception.trained.vocab import normalise

#: Input channels of a PartNet fed by ``network_input``: xyz (3) + normal (3) + curvature (1).
FEATURE_CHANNELS = 7
#: Surface variation is <= 1/3; x3 maps it to [0, 1].
CURVATURE_SCALE = 3.0


def local_normals(points_m: np.ndarray, count: np.ndarray, viewpoint_m: np.ndarray, k: int = 16,
                  n_query: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Normals and surface variation of padded instances.

    ``points_m`` (B, M, 3) base frame, instance b's valid points first (``count`` (B,) of them,
    the rest padding); ``viewpoint_m`` (B, 3) or (3,) the camera position in the same frame.
    Every point's ``k`` nearest neighbours among its instance's valid points give its normal and
    curvature; only the first ``n_query`` points of each instance (default all M) are answered.
    Returns ``normals`` (B, Q, 3) unit, pointing towards the viewpoint, and ``curvature`` (B, Q)
    in [0, 1/3]; rows past an instance's count are zero.
    """
    pts = np.asarray(points_m, np.float64)
    b, m, _ = pts.shape
    q = m if n_query is None else min(int(n_query), m)
    count = np.asarray(count, np.int64)
    valid = np.arange(m)[None, :] < count[:, None]  # (B, M)
    asked = valid[:, :q]  # (B, Q)
    # One tree over all instances, moved 100 m apart along x so neighbours stay within an instance.
    shifted = pts + (100.0 * np.arange(b))[:, None, None] * np.array([1.0, 0.0, 0.0])
    flat = shifted[valid]  # (V, 3)
    query = shifted[:, :q][asked]  # (U, 3)
    kk = max(min(k, int(count.max(initial=1))), 1)
    _, idx = cKDTree(flat).query(query, k=kk, distance_upper_bound=50.0)
    idx = idx.reshape(query.shape[0], kk)  # (U, kk)
    # Instances with fewer than kk points get the tree's "missing" index (== V): use the nearest.
    idx = np.where(idx >= flat.shape[0], idx[:, :1], idx)
    nb = flat[idx]  # (U, kk, 3)
    d = nb - nb.mean(axis=1, keepdims=True)
    cov = np.einsum("uki,ukj->uij", d, d) / kk  # (U, 3, 3)
    w, vec = np.linalg.eigh(cov)  # ascending eigenvalues
    n = vec[:, :, 0]  # (U, 3)
    curv = w[:, 0] / np.maximum(w.sum(axis=1), 1e-18)  # (U,)
    view = np.broadcast_to(np.asarray(viewpoint_m, np.float64), (b, 3))
    to_cam = np.repeat(view, asked.sum(1), axis=0) - pts[:, :q][asked]  # (U, 3)
    n = np.where((n * to_cam).sum(axis=1, keepdims=True) < 0, -n, n)
    normals = np.zeros((b, q, 3))
    curvature = np.zeros((b, q))
    normals[asked], curvature[asked] = n, np.clip(curv, 0.0, 1.0 / 3.0)
    return normals, curvature


def instance_normals(points_m: np.ndarray, rows: list[np.ndarray], viewpoint_m: np.ndarray, k: int = 16,
                     batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """``local_normals`` of every stored instance: ``points_m`` (M, 3) base frame, ``rows`` the row
    indices of each instance (all its stored points are its neighbour set). Returns ``normals``
    (M, 3) and ``curvature`` (M,) per row; rows of no instance stay zero."""
    normals = np.zeros((len(points_m), 3), np.float32)
    curvature = np.zeros(len(points_m), np.float32)
    for a in range(0, len(rows), batch):
        chunk = rows[a:a + batch]
        count = np.array([len(r) for r in chunk])
        pad = np.stack([np.pad(r, (0, count.max() - len(r))) for r in chunk])  # (b, Mmax)
        n, c = local_normals(points_m[pad], count, viewpoint_m, k)
        on = np.arange(pad.shape[1])[None] < count[:, None]
        normals[pad[on]], curvature[pad[on]] = n[on], c[on]
    return normals, curvature


def network_input(points_m: np.ndarray, normals: np.ndarray | None = None,
                  curvature: np.ndarray | None = None) -> np.ndarray:
    """(..., N, 3) base-frame points (+ their (..., N, 3) normals and (..., N) curvature) ->
    (..., N, 3) or (..., N, 7) float32 network input; xyz-only when ``normals`` is None."""
    x = normalise(points_m)
    if normals is None:
        return x
    return np.concatenate([x, np.asarray(normals, np.float32),
                           CURVATURE_SCALE * np.asarray(curvature, np.float32)[..., None]], axis=-1)


def yaw_copies(x: np.ndarray, n_copies: int) -> np.ndarray:
    """(K, N, 3 or 7) network input -> (A, K, N, F) copies turned about the vertical axis through
    the instance's centre by 2 pi a / A (xyz and normals turn, height and curvature stay): test-time
    augmentation matching training's random yaws. ``A = n_copies``; copy 0 is ``x`` itself."""
    theta = 2 * np.pi * np.arange(n_copies) / n_copies  # (A,)
    c, s = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]  # (A, 1, 1)
    out = np.repeat(x[None], n_copies, axis=0)  # (A, K, N, F)
    for i in range(0, min(x.shape[-1], 6), 3):  # xyz, then the normal
        px, py = x[..., i], x[..., i + 1]  # (K, N)
        out[..., i], out[..., i + 1] = c * px - s * py, s * px + c * py
    return out
