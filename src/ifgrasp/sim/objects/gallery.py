"""A picture of one instance per category, coloured by part, to check the parts at a glance."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import mujoco
import numpy as np
from PIL import Image, ImageDraw

from ifgrasp.sim.objects.mujoco_export import PART_RGBA, add_object_to_spec
from ifgrasp.sim.objects.registry import CATEGORIES, make_object, object_family

_TILE = 320  # pixels per tile side


def render_object_gallery(
    out_png: str | Path, split: Literal["train", "heldout"] = "train", index: int = 0, cols: int = 4
) -> Path:
    """Render instance ``index`` of each category of ``split`` (MuJoCo offscreen, headless) to ``out_png``.

    Each tile shows one object on a floor from a 3/4 view, geoms coloured by part (PART_RGBA:
    part 0 blue-grey, 1 orange, 2 green) and captioned with its name, parts and mass.
    Returns the path written.
    """
    seeds = {c: s for c, s in object_family(split, per_category=index + 1) if s % 1000 == index}
    objs = [make_object(c, seeds[c]) for c in CATEGORIES]
    spec = mujoco.MjSpec()
    spec.visual.global_.offwidth, spec.visual.global_.offheight = _TILE, _TILE
    spec.visual.headlight.ambient = [0.45, 0.45, 0.45]
    spec.visual.headlight.diffuse = [0.5, 0.5, 0.5]
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[20, 20, 0.1], rgba=[0.93, 0.93, 0.9, 1])
    spacing = 1.0  # metres between objects, so no neighbour enters a tile
    for i, obj in enumerate(objs):
        add_object_to_spec(spec, obj, obj.name, pos=(i * spacing, 0.0, 0.0), free=False)
    model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    rows = -(-len(objs) // cols)
    sheet = Image.new("RGB", (cols * _TILE, rows * _TILE), "white")
    cam = mujoco.MjvCamera()
    with mujoco.Renderer(model, _TILE, _TILE) as renderer:
        for i, obj in enumerate(objs):
            centre = obj.mesh.bounds.mean(axis=0)
            cam.lookat[:] = centre + [i * spacing, 0.0, 0.0]
            cam.distance = 1.9 * float(np.linalg.norm(obj.mesh.extents))
            cam.azimuth, cam.elevation = 235.0, -35.0
            renderer.update_scene(data, cam)
            tile = Image.fromarray(renderer.render())
            draw = ImageDraw.Draw(tile)
            draw.text((6, 4), f"{obj.name}  {obj.mass_kg * 1000:.0f} g", fill=(0, 0, 0))
            for k, part in enumerate(obj.part_names):
                rgb = tuple(int(255 * c) for c in PART_RGBA[k % len(PART_RGBA), :3])
                draw.rectangle((6, 20 + 14 * k, 16, 30 + 14 * k), fill=rgb)
                draw.text((20, 19 + 14 * k), part, fill=(0, 0, 0))
            sheet.paste(tile, ((i % cols) * _TILE, (i // cols) * _TILE))
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out
