"""Convex building blocks for the object library.

Every builder returns convex ``trimesh.Trimesh`` solids (convex hulls of point sets), in metres,
in the frame the caller passes positions in. Objects are unions of these pieces, so the same
pieces serve as MuJoCo collision geoms (MuJoCo collides convex geoms) and as the exact geometry
the teacher's signed distance sees: what the simulator collides with is what the mesh shows.

Non-convex shapes (a ring handle, a hollow cup wall, a bent spout) are chains of convex pieces:
``tube`` hulls consecutive cross-section discs along a path, ``annular_sectors`` cuts a wall
into wedge prisms.
"""

from __future__ import annotations

import numpy as np
import trimesh

from ifgrasp.errors import InputError


def hull(points: np.ndarray) -> trimesh.Trimesh:
    """Convex hull of ``points`` (K, 3) as a watertight, outward-facing solid."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if points.shape[0] < 4 or not np.all(np.isfinite(points)):
        raise InputError(f"a convex piece needs >= 4 finite points, got {points.shape[0]}")
    mesh = trimesh.convex.convex_hull(points)
    if not (mesh.is_watertight and mesh.volume > 1e-12):
        raise InputError(f"degenerate convex piece (volume {mesh.volume:.3g} m^3)")
    return mesh


def circle(radius_m: float, n: int, phase_rad: float = 0.0) -> np.ndarray:
    """(n, 2) points of a regular polygon of circumradius ``radius_m`` in the x-y plane."""
    a = phase_rad + 2.0 * np.pi * np.arange(n) / n  # (n,)
    return radius_m * np.stack([np.cos(a), np.sin(a)], axis=-1)


def ellipse(ax_m: float, ay_m: float, n: int) -> np.ndarray:
    """(n, 2) polygon points of an ellipse with semi-axes ``ax_m``, ``ay_m``."""
    a = 2.0 * np.pi * np.arange(n) / n
    return np.stack([ax_m * np.cos(a), ay_m * np.sin(a)], axis=-1)


def rounded_rect(hx_m: float, hy_m: float, r_m: float, n_corner: int = 4) -> np.ndarray:
    """(4 * n_corner, 2) points of a rectangle of half sizes ``hx, hy`` with corner radius ``r``."""
    r = min(r_m, hx_m, hy_m)
    a = np.linspace(0.0, np.pi / 2, n_corner)
    arc = np.stack([np.cos(a), np.sin(a)], axis=-1) * r  # (n_corner, 2)
    corners = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=float) * [hx_m - r, hy_m - r]
    rot = [np.eye(2), np.array([[0, -1], [1, 0]]), -np.eye(2), np.array([[0, 1], [-1, 0]])]
    return np.concatenate([c + arc @ R.T for c, R in zip(corners, rot)])


def prism(profile_xy: np.ndarray, z0_m: float, z1_m: float, T: np.ndarray | None = None) -> trimesh.Trimesh:
    """Extrude a convex polygon ``profile_xy`` (K, 2) from ``z0`` to ``z1``; ``T`` (4, 4) places it."""
    k = profile_xy.shape[0]
    pts = np.concatenate(
        [np.column_stack([profile_xy, np.full(k, z0_m)]), np.column_stack([profile_xy, np.full(k, z1_m)])]
    )  # (2K, 3)
    return hull(_apply(T, pts))


def tapered_prism(
    profile0_xy: np.ndarray, z0_m: float, profile1_xy: np.ndarray, z1_m: float, T: np.ndarray | None = None
) -> trimesh.Trimesh:
    """Hull of two convex polygons at heights ``z0`` and ``z1`` (a loft), placed by ``T``."""
    pts = np.concatenate(
        [
            np.column_stack([profile0_xy, np.full(len(profile0_xy), z0_m)]),
            np.column_stack([profile1_xy, np.full(len(profile1_xy), z1_m)]),
        ]
    )
    return hull(_apply(T, pts))


def box(extents_m, center_m=(0.0, 0.0, 0.0), R: np.ndarray | None = None) -> trimesh.Trimesh:
    """Box with full side lengths ``extents_m`` (3,), centred at ``center_m``, rotated by ``R`` (3, 3)."""
    corners = (np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1], indexing="ij")).reshape(3, -1).T) * 0.5
    pts = corners * np.asarray(extents_m, dtype=float)  # (8, 3)
    if R is not None:
        pts = pts @ np.asarray(R).T
    return hull(pts + np.asarray(center_m, dtype=float))


def cylinder(radius_m: float, z0_m: float, z1_m: float, n: int = 32, center_xy=(0.0, 0.0)) -> trimesh.Trimesh:
    """Vertical polygonal cylinder (n sides) between ``z0`` and ``z1``."""
    return prism(circle(radius_m, n) + np.asarray(center_xy), z0_m, z1_m)


def revolve(profile_rz: np.ndarray, n: int = 32) -> trimesh.Trimesh:
    """Hull of a profile (K, 2) of (radius, z) revolved about the z axis (convex if r(z) is concave)."""
    a = 2.0 * np.pi * np.arange(n) / n
    r, z = profile_rz[:, 0:1], profile_rz[:, 1:2]  # (K, 1)
    pts = np.stack([r * np.cos(a), r * np.sin(a), np.broadcast_to(z, (len(z), n))], axis=-1)  # (K, n, 3)
    return hull(pts.reshape(-1, 3))


def ellipsoid(radii_m, center_m=(0.0, 0.0, 0.0), subdivisions: int = 3) -> trimesh.Trimesh:
    """Ellipsoid with semi-axes ``radii_m`` (3,) from a subdivided icosphere."""
    s = trimesh.creation.icosphere(subdivisions=subdivisions)
    return hull(s.vertices * np.asarray(radii_m) + np.asarray(center_m))


def annular_sectors(
    r_in0_m: float, r_out0_m: float, z0_m: float, r_in1_m: float, r_out1_m: float, z1_m: float, n: int
) -> list[trimesh.Trimesh]:
    """A (possibly flared) hollow wall about the z axis cut into ``n`` convex wedge prisms.

    Radii ``r_in0, r_out0`` at height ``z0`` and ``r_in1, r_out1`` at ``z1``; their union is an
    n-gon ring whose corners match ``circle(r, n)`` so a base plate of the same n closes it flush.
    """
    # each wedge spans its sector plus a small overlap (eps) on both sides so neighbours share volume
    # (pieces that only touch stay separate shells in a union); radii are scaled so the wedge's flat
    # faces stay on the chords of the n-gon.
    half, eps = np.pi / n, 0.01
    scale = np.cos(half) / np.cos(half + eps)
    pieces = []
    for i in range(n):
        a = 2.0 * half * i + np.array([-eps, 2.0 * half + eps])
        c = np.stack([np.cos(a), np.sin(a)], axis=-1) * scale  # (2, 2)
        ring = [(r_in0_m, z0_m), (r_out0_m, z0_m), (r_in1_m, z1_m), (r_out1_m, z1_m)]
        pts = np.concatenate([np.column_stack([c * r, np.full(2, z)]) for r, z in ring])  # (8, 3)
        pieces.append(hull(pts))
    return pieces


def tube(
    path_m: np.ndarray, radii_m, n: int = 12, up=(0.0, 1.0, 0.0), squash: float = 1.0, overlap_m: float = 5e-4
) -> list[trimesh.Trimesh]:
    """A swept tube along ``path_m`` (M, 3) as M-1 convex segments (hulls of consecutive discs).

    ``radii_m`` scalar or (M,) cross-section radii; discs are perpendicular to the path tangent.
    ``up`` (3,) is a direction kept out of the path's plane (the normal of a planar path);
    ``squash`` scales the cross-section along the in-plane direction (an elliptic grip).
    """
    path = np.asarray(path_m, dtype=float)
    radii = np.broadcast_to(np.asarray(radii_m, dtype=float), (path.shape[0],))
    tang = np.gradient(path, axis=0)
    tang /= np.linalg.norm(tang, axis=-1, keepdims=True)  # (M, 3)
    up = np.asarray(up, dtype=float)
    u = np.cross(up, tang)  # in-plane normal (M, 3)
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    v = np.cross(tang, u)  # (M, 3)
    a = 2.0 * np.pi * np.arange(n) / n
    discs = (
        path[:, None]
        + radii[:, None, None] * squash * np.cos(a)[None, :, None] * u[:, None]
        + radii[:, None, None] * np.sin(a)[None, :, None] * v[:, None]
    )  # (M, n, 3)
    # neighbouring segments overlap by ``overlap_m`` along the path (touching pieces would stay
    # separate shells in the union); the two path ends stay where they are
    shift = overlap_m * tang[:, None]  # (M, 1, 3)
    back, fwd = discs - shift, discs + shift
    back[0], fwd[-1] = discs[0], discs[-1]
    return [hull(np.concatenate([back[i], fwd[i + 1]])) for i in range(path.shape[0] - 1)]


def arc(center_m, radius_m: float, a0_rad: float, a1_rad: float, m: int, plane: str = "xz") -> np.ndarray:
    """(m, 3) points on a circular arc in the ``"xz"`` or ``"xy"`` plane, angles from +x."""
    a = np.linspace(a0_rad, a1_rad, m)
    p = np.zeros((m, 3))
    p[:, 0] = radius_m * np.cos(a)
    p[:, 2 if plane == "xz" else 1] = radius_m * np.sin(a)
    return p + np.asarray(center_m, dtype=float)


def rot_y(angle_rad: float) -> np.ndarray:
    """(3, 3) rotation about +y."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def pose(R: np.ndarray | None = None, t=(0.0, 0.0, 0.0)) -> np.ndarray:
    """(4, 4) homogeneous transform from rotation ``R`` and translation ``t``."""
    T = np.eye(4)
    if R is not None:
        T[:3, :3] = R
    T[:3, 3] = t
    return T


def _apply(T: np.ndarray | None, pts: np.ndarray) -> np.ndarray:
    return pts if T is None else pts @ T[:3, :3].T + T[:3, 3]
