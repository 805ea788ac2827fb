"""The object type every stage shares, and the assembly of convex pieces into one.

An object is the watertight union of convex pieces, each tagged with a functional part. Each
face of the union is labelled by the piece it lies on (the piece whose convex signed distance at
the face centroid is nearest zero), so part labels, collision geoms and the surface agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import open3d as o3d
import trimesh

from ifgrasp.errors import InputError, UnknownPartError, known


@dataclass(frozen=True)
class GraspObject:
    """A graspable object with named functional parts, in its own frame.

    Object frame: metres, z up, resting pose, bottom at z = 0, bounding box centred in x-y.
    ``mesh`` is watertight (the union of ``collision_pieces``); ``face_part`` (F,) indexes
    ``part_names``; ``collision_pieces`` are convex (mesh, part index) pairs for MuJoCo.
    ``part_density_kg_m3`` (P,) spreads ``mass_kg`` over pieces: piece mass = density x volume.
    ``friction`` is the Coulomb sliding coefficient.
    Treat the meshes as read-only: they are shared, not copied.
    """

    category: str
    seed: int
    name: str
    mesh: trimesh.Trimesh
    face_part: np.ndarray
    part_names: tuple[str, ...]
    collision_pieces: tuple[tuple[trimesh.Trimesh, int], ...]
    mass_kg: float
    friction: float
    part_density_kg_m3: tuple[float, ...] = ()
    _planes: tuple[tuple[np.ndarray, np.ndarray], ...] = field(default=(), repr=False, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self._planes:
            object.__setattr__(self, "_planes", tuple(_hull_planes(m) for m, _ in self.collision_pieces))

    def part_index(self, part: str) -> int:
        """Index of ``part`` in ``part_names``; UnknownPartError listing the parts otherwise."""
        if part not in self.part_names:
            raise UnknownPartError(f"object '{self.name}' has no part '{part}'; known: {known(self.part_names)}")
        return self.part_names.index(part)

    def piece_masses_kg(self) -> np.ndarray:
        """(K,) mass of each collision piece: part density x piece volume, summing to ``mass_kg``."""
        dens = np.asarray(self.part_density_kg_m3 or (1.0,) * len(self.part_names))
        m = np.array([dens[p] * piece.volume for piece, p in self.collision_pieces])
        return m * (self.mass_kg / m.sum())

    @property
    def center_of_mass_m(self) -> np.ndarray:
        """(3,) centre of mass in the object frame (m) with each part's density, as MuJoCo simulates the
        object; ``mesh.center_mass`` assumes one density (a knife's steel blade, a hammer's steel head:
        5-9 cm off)."""
        if "center_of_mass_m" not in self._cache:
            m = self.piece_masses_kg()
            centres = np.array([piece.center_mass for piece, _ in self.collision_pieces])
            self._cache["center_of_mass_m"] = (m @ centres) / m.sum()
        return self._cache["center_of_mass_m"].copy()

    def sample_surface(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Area-uniform surface samples: points (n, 3) m, outward unit normals (n, 3), part (n,) int."""
        if n < 0:
            raise InputError(f"sample count must be >= 0, got {n}")
        area = self.mesh.area_faces  # (F,)
        face = rng.choice(len(area), size=n, p=area / area.sum())  # (n,)
        uv = rng.random((n, 2))
        flip = uv.sum(axis=1) > 1.0
        uv[flip] = 1.0 - uv[flip]
        tri = self.mesh.triangles[face]  # (n, 3, 3)
        pts = tri[:, 0] + uv[:, :1] * (tri[:, 1] - tri[:, 0]) + uv[:, 1:] * (tri[:, 2] - tri[:, 0])
        return pts, self.mesh.face_normals[face].copy(), self.face_part[face].copy()

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """Exact signed distance (N,) in metres from ``points`` (N, 3): NEGATIVE inside, positive outside.

        (trimesh's ``signed_distance`` uses the opposite sign.) The magnitude is the distance to the
        closest point on the mesh; inside/outside is exact because the mesh is the union of convex
        pieces: a point is inside iff it is inside one of them. Distances come from Open3D's
        ray-casting scene (float32 BVH, about 1e-8 m error; ~100k points/s on one core).
        """
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 3:
            raise InputError(f"points must be (N, 3), got {points.shape}")
        if points.shape[0] == 0:
            return np.zeros(0)
        if "scene" not in self._cache:
            scene = o3d.t.geometry.RaycastingScene()
            scene.add_triangles(
                o3d.core.Tensor(self.mesh.vertices.astype(np.float32)),
                o3d.core.Tensor(self.mesh.faces.astype(np.uint32)),
            )
            self._cache["scene"] = scene
        dist = self._cache["scene"].compute_distance(o3d.core.Tensor(points.astype(np.float32))).numpy()
        inside = self.piece_sdf(points).min(axis=1) < 0.0  # (N,)
        return np.where(inside, -dist, dist)

    def piece_sdf(self, points: np.ndarray) -> np.ndarray:
        """(N, K) convex-polytope distance bound max_j(n_j . x - d_j) per piece: < 0 iff inside piece k.

        Exact inside each piece and on its faces; a lower bound of the distance outside.
        """
        return np.stack([(points @ n.T - d).max(axis=1) for n, d in self._planes], axis=1)


def _hull_planes(mesh: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray]:
    """Face planes of a convex mesh: unit normals (Fp, 3) and offsets (Fp,) with n . x <= d inside."""
    n = mesh.face_normals
    d = np.einsum("fi,fi->f", n, mesh.triangles[:, 0])
    return n, d


def assemble(
    category: str,
    seed: int,
    part_names: tuple[str, ...],
    pieces: list[tuple[trimesh.Trimesh, str]],
    part_density_kg_m3: dict[str, float],
    friction: float,
) -> GraspObject:
    """Union ``pieces`` (convex mesh, part name) into a labelled GraspObject in the resting frame.

    Translates everything so the bottom is at z = 0 and the x-y bounding box is centred; raises
    InputError naming the object if the union is empty, not watertight, or a part has no faces.
    """
    name = f"{category}_{seed:04d}"
    if not pieces:
        raise InputError(f"object '{name}' has no pieces")
    unknown = {p for _, p in pieces} - set(part_names)
    if unknown:
        raise InputError(f"object '{name}' uses parts {sorted(unknown)}; known: {known(part_names)}")
    lo = np.min([m.bounds[0] for m, _ in pieces], axis=0)
    hi = np.max([m.bounds[1] for m, _ in pieces], axis=0)
    offset = -np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
    moved = [(m.copy().apply_translation(offset), part_names.index(p)) for m, p in pieces]
    try:
        mesh = trimesh.boolean.union([m for m, _ in moved], engine="manifold")
    except Exception as exc:  # manifold3d raises its own types on degenerate input
        raise InputError(f"object '{name}': union of {len(moved)} pieces failed: {exc}") from exc
    if mesh.is_empty or not mesh.is_watertight or not mesh.is_volume or mesh.volume <= 0:
        raise InputError(
            f"object '{name}' is not a valid solid (faces {len(mesh.faces)}, watertight "
            f"{mesh.is_watertight}, volume {mesh.volume if not mesh.is_empty else 0:.3g} m^3)"
        )
    if mesh.body_count != 1:
        raise InputError(f"object '{name}': its pieces form {mesh.body_count} separate solids, not one")
    planes = tuple(_hull_planes(m) for m, _ in moved)
    piece_part = np.array([p for _, p in moved])  # (K,)
    cent = mesh.triangles_center  # (F, 3)
    sdf = np.stack([(cent @ n.T - d).max(axis=1) for n, d in planes], axis=1)  # (F, K)
    face_part = piece_part[np.abs(sdf).argmin(axis=1)]  # (F,)
    missing = [part_names[i] for i in range(len(part_names)) if not np.any(face_part == i)]
    if missing:
        raise InputError(f"object '{name}': parts {missing} have no surface (hidden inside others)")
    dens = tuple(float(part_density_kg_m3[p]) for p in part_names)
    mass = float(sum(dens[p] * m.volume for m, p in moved))
    return GraspObject(
        category=category,
        seed=seed,
        name=name,
        mesh=mesh,
        face_part=face_part,
        part_names=part_names,
        collision_pieces=tuple(moved),
        mass_kg=mass,
        friction=float(friction),
        part_density_kg_m3=dens,
        _planes=planes,
    )
