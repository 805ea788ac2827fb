"""Put a GraspObject into a MuJoCo scene (MjSpec) as its convex pieces, and map geoms back to parts.

MuJoCo collides convex geoms only, so an object enters as one mesh geom per convex piece (never
one hull of a concave object): a finger fits through a mug's handle opening. Geom names are
``"<body_name>/<part>/<i>"``; the part order is stored in the model as the custom text
``"<body_name>/part_names"`` so ``geom_part_map`` needs only the compiled model.
"""

from __future__ import annotations

import mujoco
import numpy as np

from ifgrasp.errors import SimulationError, known
from ifgrasp.sim.objects.base import GraspObject

#: RGBA per part index (0: blue-grey, 1: orange, 2: green, 3: purple), for pictures and debugging.
PART_RGBA = np.array(
    [[0.55, 0.62, 0.75, 1.0], [0.95, 0.55, 0.15, 1.0], [0.3, 0.75, 0.35, 1.0], [0.6, 0.4, 0.8, 1.0]]
)
#: Torsional and rolling friction coefficients added to the object's sliding friction.
TORSION_ROLL = (0.005, 0.0001)


def add_object_to_spec(
    spec: mujoco.MjSpec,
    obj: GraspObject,
    body_name: str,
    pos=(0.0, 0.0, 0.0),
    quat_wxyz=(1.0, 0.0, 0.0, 0.0),
    free: bool = True,
    parent: mujoco.MjsBody | None = None,
) -> mujoco.MjsBody:
    """Add ``obj`` as body ``body_name`` at ``pos`` (m) / ``quat_wxyz`` in ``parent`` (default: world).

    One mesh geom per convex piece, named ``"<body_name>/<part>/<i>"``, coloured by part; piece
    masses follow part density x volume and sum to ``obj.mass_kg``; friction is
    (``obj.friction``, torsional, rolling). ``free`` adds a free joint ``"<body_name>/free"``.
    """
    if spec.body(body_name) is not None:
        raise SimulationError(f"the scene already has a body named '{body_name}'")
    parent = spec.worldbody if parent is None else parent
    body = parent.add_body(name=body_name, pos=list(map(float, pos)), quat=list(map(float, quat_wxyz)))
    if free:
        body.add_freejoint(name=f"{body_name}/free")
    masses = obj.piece_masses_kg()  # (K,)
    for i, ((piece, part), m) in enumerate(zip(obj.collision_pieces, masses)):
        mesh_name = f"{body_name}/mesh/{i}"
        spec.add_mesh(
            name=mesh_name,
            uservert=piece.vertices.astype(np.float32).ravel().tolist(),
            userface=piece.faces.astype(np.int32).ravel().tolist(),
        )
        body.add_geom(
            name=f"{body_name}/{obj.part_names[part]}/{i}",
            type=mujoco.mjtGeom.mjGEOM_MESH,
            meshname=mesh_name,
            mass=float(m),
            friction=[obj.friction, *TORSION_ROLL],
            rgba=PART_RGBA[part % len(PART_RGBA)].tolist(),
        )
    spec.add_text(name=f"{body_name}/part_names", data=",".join(obj.part_names))
    return body


def geom_part_map(model: mujoco.MjModel, body_name: str) -> dict[int, int]:
    """Geom id -> part index (into the object's ``part_names``) for the object body ``body_name``."""
    text_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_TEXT, f"{body_name}/part_names")
    if text_id < 0:
        objects = [
            mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_TEXT, i).removesuffix("/part_names")
            for i in range(model.ntext)
        ]
        raise SimulationError(f"no object body '{body_name}' in the model; known: {known(objects)}")
    adr, size = model.text_adr[text_id], model.text_size[text_id]
    part_names = bytes(model.text_data[adr : adr + size - 1]).decode().split(",")
    body_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body_name)
    out: dict[int, int] = {}
    for g in np.flatnonzero(model.geom_bodyid == body_id):
        part = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, int(g)).split("/")[-2]
        out[int(g)] = part_names.index(part)
    return out
