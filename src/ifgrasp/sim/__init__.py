"""Simulated world in MuJoCo: the table scene with the xArm7 + LEAP Hand and objects
(``ifgrasp.sim.scene``), a simulated RGB-D camera with object and part labels
(``ifgrasp.sim.camera``), the object library (``ifgrasp.sim.objects``) and a render benchmark
(``ifgrasp.sim.bench``).

Submodules are imported explicitly (``from ifgrasp.sim.scene import build_scene``) so that
importing one does not pull in MuJoCo rendering or the object library.
"""

import os as _os

# Headless default: with no display, MuJoCo must render through OSMesa (EGL needs a GPU driver).
# MuJoCo picks its GL backend when it is first imported, so this runs before any sim module
# imports it; an explicit MUJOCO_GL always wins.
if not (_os.environ.get("DISPLAY") or _os.environ.get("WAYLAND_DISPLAY") or _os.environ.get("MUJOCO_GL")):
    _os.environ["MUJOCO_GL"] = "osmesa"
    _os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
