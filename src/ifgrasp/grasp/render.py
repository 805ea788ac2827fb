"""Pictures of grasps (``ifgrasp render-grasps``): hand, object coloured by part, contact points.

Each tile is a MuJoCo offscreen render of one grasp: the LEAP Hand (grey) at its wrist pose and joint
angles, the object's convex pieces coloured by part (legend in the caption), and red dots where the
hand touches the object. Tiles are laid out in a grid and captioned with the grasp's outcome.
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
from PIL import Image, ImageDraw

from ifgrasp.paths import URDF_DIR
from ifgrasp.types import GraspBatch

#: RGBA per part index (cycled), chosen to read well on grey.
PART_COLORS = np.array(
    [[0.20, 0.45, 0.85, 1], [0.95, 0.55, 0.10, 1], [0.20, 0.70, 0.30, 1], [0.80, 0.20, 0.60, 1], [0.9, 0.85, 0.2, 1]]
)


def _scene(obj, grasp_T: np.ndarray, contacts: np.ndarray):
    from ifgrasp.hand.joints import JOINT_NAMES
    from ifgrasp.sim.objects import add_object_to_spec

    spec = mujoco.MjSpec()
    spec.visual.global_.offwidth = 640
    spec.visual.global_.offheight = 480
    spec.worldbody.add_light(pos=[0.3, -0.3, 0.8], dir=[-0.3, 0.3, -0.8], diffuse=[0.8, 0.8, 0.8])
    spec.worldbody.add_light(pos=[-0.3, 0.3, 0.8], dir=[0.3, -0.3, -0.8], diffuse=[0.4, 0.4, 0.4])
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0.5, 0.5, 0.01], rgba=[0.92, 0.92, 0.9, 1])
    body = add_object_to_spec(spec, obj, "obj", [0, 0, 0], [1, 0, 0, 0], free=False)
    for geom in body.geoms:
        part = geom.name.split("/")[1]
        geom.rgba = PART_COLORS[obj.part_names.index(part) % len(PART_COLORS)]
    hand = mujoco.MjSpec.from_file(str(URDF_DIR / "leap_hand_right.urdf"))
    for geom in hand.geoms:
        geom.rgba = [0.55, 0.55, 0.58, 1]
        geom.contype = geom.conaffinity = 0
    frame = spec.worldbody.add_frame(pos=grasp_T[:3, 3], quat=_quat_wxyz(grasp_T[:3, :3]))
    spec.attach(hand, prefix="hand_", frame=frame)
    for p in contacts:
        spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.003, 0, 0], pos=p,
                                rgba=[0.9, 0.05, 0.05, 1], contype=0, conaffinity=0)
    model = spec.compile()
    return model, [model.jnt_qposadr[model.joint(f"hand_{n}").id] for n in JOINT_NAMES]


def _quat_wxyz(R: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(R).as_quat(scalar_first=True)


def render_grasp(obj, grasps: GraspBatch, i: int, contacts: np.ndarray, size=(320, 320), azimuth=135.0,
                 elevation=-30.0) -> np.ndarray:
    """(H, W, 3) uint8 picture of grasp ``i`` (object frame) on ``obj``."""
    model, qadr = _scene(obj, grasps.T_frame_wrist[i], contacts)
    data = mujoco.MjData(model)
    data.qpos[qadr] = grasps.joints_rad[i]
    mujoco.mj_forward(model, data)
    cam = mujoco.MjvCamera()
    lo, hi = obj.mesh.bounds
    # framed on the grasp: the contacts' centre (the object's when there are none), at most 0.5 m away,
    # so a hand on a 30 cm knife is not a speck
    cam.lookat[:] = np.mean(contacts, axis=0) if len(contacts) else (lo + hi) / 2
    cam.distance = min(2.6 * float(np.linalg.norm(hi - lo)) + 0.15, 0.5)
    cam.azimuth, cam.elevation = azimuth, elevation
    with mujoco.Renderer(model, size[1], size[0]) as renderer:
        renderer.update_scene(data, camera=cam)
        return renderer.render()


def contact_points(hand, obj, grasps: GraspBatch, threshold_m: float = 0.005) -> list[np.ndarray]:
    """Per grasp, the hand surface samples within ``threshold_m`` of the object (object frame)."""
    import torch

    from ifgrasp.grasp.metrics import hand_tensors
    from ifgrasp.grasp.object_sdf import ObjectSDF

    sdf = ObjectSDF.from_trimesh(obj.mesh, obj.name)
    with torch.no_grad():
        surface = hand.surface_points(*hand_tensors(grasps)).numpy()
    d, _ = sdf.query_np(surface.reshape(-1, 3))
    d = d.reshape(surface.shape[:2])
    return [surface[b][d[b] < threshold_m] for b in range(len(grasps))]


def grasp_grid(obj, grasps: GraspBatch, contacts: list[np.ndarray], captions: list[str], out_png: Path,
               columns: int = 4, title: str = "") -> Path:
    """Render every grasp into one captioned grid PNG; returns its path."""
    tiles = []
    for i in range(len(grasps)):
        img = Image.fromarray(render_grasp(obj, grasps, i, contacts[i]))
        ImageDraw.Draw(img).text((6, 4), captions[i], fill=(255, 255, 255))  # on the dark background
        tiles.append(img)
    rows = (len(tiles) + columns - 1) // columns
    w, h = tiles[0].size
    header = 24
    sheet = Image.new("RGB", (w * min(columns, len(tiles)), h * rows + header), "white")
    legend = "  ".join(f"{p}: {'blue orange green magenta yellow'.split()[k % 5]}" for k, p in enumerate(obj.part_names))
    ImageDraw.Draw(sheet).text((6, 6), f"{title}   parts -> {legend}   red dots: contacts", fill=(0, 0, 0))
    for k, tile in enumerate(tiles):
        sheet.paste(tile, ((k % columns) * w, header + (k // columns) * h))
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_png)
    return out_png
