"""Simulated world in MuJoCo: the table scene with the xArm7 + LEAP Hand and objects
(``ifgrasp.sim.scene``), a simulated RGB-D camera with object and part labels
(``ifgrasp.sim.camera``), the object library (``ifgrasp.sim.objects``) and a render benchmark
(``ifgrasp.sim.bench``).

Submodules are imported explicitly (``from ifgrasp.sim.scene import build_scene``) so that
importing one does not pull in MuJoCo rendering or the object library.
"""
