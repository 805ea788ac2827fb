"""Exact, differentiable signed distance to a watertight object mesh.

Values and closest points come from Open3D's ray-casting scene (Embree BVH; exact point-triangle
distance, sign from ray parity, so the mesh must be watertight). The gradient of an exact SDF is the
unit vector from the closest surface point to the query (times the sign), which a custom autograd
function supplies, so the teacher's energies see the exact object everywhere, not a voxel grid.

Sign convention (everywhere in ifgrasp): negative inside the object, positive outside, metres.
"""

from __future__ import annotations

import numpy as np
import torch

from ifgrasp.errors import InputError


def _o3d():
    try:
        import open3d as o3d
    except ImportError as exc:  # pragma: no cover - open3d-cpu is a core dependency
        raise InputError("open3d is required for exact object signed distances (pip install open3d-cpu)") from exc
    return o3d


class ObjectSDF:
    """Exact signed distance field of one watertight triangle mesh (object frame, metres)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, name: str = "object") -> None:
        vertices = np.asarray(vertices, dtype=np.float32)
        faces = np.asarray(faces, dtype=np.uint32)
        if len(vertices) == 0 or len(faces) == 0:
            raise InputError(f"mesh of '{name}' is empty ({len(vertices)} vertices, {len(faces)} faces)")
        o3d = _o3d()
        self.name = name
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(o3d.core.Tensor(vertices), o3d.core.Tensor(faces))

    @classmethod
    def from_trimesh(cls, mesh, name: str = "object") -> "ObjectSDF":
        if not mesh.is_watertight:
            raise InputError(f"mesh of '{name}' is not watertight: the sign of its distance is undefined")
        return cls(mesh.vertices, mesh.faces, name)

    def query_np(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Signed distance (N,) and closest surface points (N, 3) for query points (N, 3)."""
        o3d = _o3d()
        q = o3d.core.Tensor(np.ascontiguousarray(points, dtype=np.float32))
        sdf = self._scene.compute_signed_distance(q).numpy()
        closest = self._scene.compute_closest_points(q)["points"].numpy()
        return sdf, closest

    @property
    def exact(self) -> "ObjectSDF":
        """The exact field itself (a :class:`GridSDF` answers with the field it was sampled from)."""
        return self

    def cast_rays(self, origins: np.ndarray, directions: np.ndarray) -> dict[str, np.ndarray]:
        """First hits of rays (N, 3) + (N, 3): ``t_hit`` (N,) (inf on a miss), ``normals`` (N, 3),
        ``face`` (N,) triangle index."""
        o3d = _o3d()
        rays = np.concatenate([origins, directions], axis=1).astype(np.float32)
        hit = self._scene.cast_rays(o3d.core.Tensor(rays))
        return {"t_hit": hit["t_hit"].numpy(), "normals": hit["primitive_normals"].numpy(),
                "face": hit["primitive_ids"].numpy().astype(np.int64)}

    def closest_faces(self, points: np.ndarray) -> np.ndarray:
        """Index (N,) of the triangle nearest to each query point (N, 3)."""
        o3d = _o3d()
        q = o3d.core.Tensor(np.ascontiguousarray(points, dtype=np.float32))
        return self._scene.compute_closest_points(q)["primitive_ids"].numpy().astype(np.int64)

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        """Signed distance (...,) of points (..., 3); differentiable w.r.t. the points."""
        return _SignedDistance.apply(points, self)

    def with_normals(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Signed distance (...,) and the outward unit normal of the field at the points (..., 3),
        i.e. the direction from the closest surface point to the query (sign-corrected)."""
        sdf = self(points)
        with torch.no_grad():
            flat = points.detach().reshape(-1, 3).cpu().numpy()
            d, closest = self.query_np(flat)
            normals = _field_direction(flat, d, closest)
        return sdf, torch.as_tensor(normals, dtype=points.dtype, device=points.device).reshape(points.shape)


def _field_direction(points: np.ndarray, sdf: np.ndarray, closest: np.ndarray) -> np.ndarray:
    """Unit gradient of the SDF: (p - closest) / |p - closest| * sign(sdf)."""
    diff = points - closest
    norm = np.linalg.norm(diff, axis=-1, keepdims=True)
    direction = diff / np.maximum(norm, 1e-9) * np.sign(sdf)[:, None]
    direction[norm[:, 0] < 1e-9] = 0.0
    return direction


class _SignedDistance(torch.autograd.Function):
    @staticmethod
    def forward(ctx, points: torch.Tensor, field: ObjectSDF) -> torch.Tensor:  # type: ignore[override]
        flat = points.detach().reshape(-1, 3).cpu().numpy()
        sdf, closest = field.query_np(flat)
        grad = _field_direction(flat, sdf, closest)
        ctx.save_for_backward(torch.as_tensor(grad, dtype=points.dtype, device=points.device).reshape(points.shape))
        return torch.as_tensor(sdf, dtype=points.dtype, device=points.device).reshape(points.shape[:-1])

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        (direction,) = ctx.saved_tensors
        return grad_out.unsqueeze(-1) * direction, None


class GridSDF:
    """The exact SDF sampled on a regular grid and interpolated trilinearly (fast, differentiable).

    Node values are exact (from :class:`ObjectSDF`); between nodes the error is below a fraction of
    ``spacing_m`` near smooth surfaces. The optimiser uses this in its inner loop; metrics use the
    exact field. Outside the grid the value grows with the distance to the grid (always positive
    there, since the grid covers the object plus ``margin_m``).
    """

    def __init__(self, exact: ObjectSDF, lower: np.ndarray, upper: np.ndarray, spacing_m: float = 0.003,
                 margin_m: float = 0.05) -> None:
        lo = np.asarray(lower, dtype=np.float64) - margin_m
        hi = np.asarray(upper, dtype=np.float64) + margin_m
        shape = np.ceil((hi - lo) / spacing_m).astype(int) + 1
        axes = [lo[i] + spacing_m * np.arange(shape[i]) for i in range(3)]
        nodes = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        values, _ = exact.query_np(nodes)
        # grid_sample wants (1, 1, D, H, W) indexed as [z, y, x]
        self.values = torch.as_tensor(values.reshape(*shape).transpose(2, 1, 0).copy(), dtype=torch.float32)[None, None]
        self.lo = torch.as_tensor(lo, dtype=torch.float32)
        self.hi = torch.as_tensor(lo + spacing_m * (shape - 1), dtype=torch.float32)
        self.spacing_m = spacing_m
        self.exact = exact
        self.name = exact.name

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        """Signed distance (...,) of points (..., 3); differentiable."""
        shape = points.shape[:-1]
        p = points.reshape(1, 1, 1, -1, 3).float()
        clamped = torch.minimum(torch.maximum(p, self.lo), self.hi)
        grid = 2.0 * (clamped - self.lo) / (self.hi - self.lo) - 1.0  # (x, y, z) in [-1, 1]
        inside = torch.nn.functional.grid_sample(self.values, grid, mode="bilinear", align_corners=True)
        outside = (p - clamped).norm(dim=-1)
        return (inside.reshape(-1) + outside.reshape(-1)).reshape(shape).to(points.dtype)

    def with_normals(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Signed distance and unit field gradient (central differences of the interpolant)."""
        sdf = self(points)
        with torch.no_grad():
            h = 0.5 * self.spacing_m
            offsets = torch.eye(3, dtype=points.dtype) * h  # (3, 3)
            p = points.detach().unsqueeze(-2)  # (..., 1, 3)
            grad = (self(p + offsets) - self(p - offsets)) / (2 * h)  # (..., 3)
            normals = torch.nn.functional.normalize(grad, dim=-1)
        return sdf, normals

    def query_np(self, points: np.ndarray):
        return self.exact.query_np(points)

    def closest_faces(self, points: np.ndarray) -> np.ndarray:
        return self.exact.closest_faces(points)
