"""Plain one-part shapes (part ``body``): box, cylinder, sphere. Held-out seeds only change sizes."""

from __future__ import annotations

import numpy as np

from ifgrasp.sim.objects import primitives as P
from ifgrasp.sim.objects.vessels import Pieces


def box(rng: np.random.Generator, heldout: bool) -> Pieces:
    """Rectangular box (a packet or block), 4-9 cm sides."""
    return [(P.box(rng.uniform([0.04, 0.04, 0.04], [0.09, 0.08, 0.1]), (0.0, 0.0, 0.0)), "body")]


def cylinder(rng: np.random.Generator, heldout: bool) -> Pieces:
    """Upright can-like cylinder, radius 2.5-4 cm, height 6-14 cm (a 40-gon prism)."""
    return [(P.cylinder(rng.uniform(0.025, 0.04), 0.0, rng.uniform(0.06, 0.14), n=40), "body")]


def sphere(rng: np.random.Generator, heldout: bool) -> Pieces:
    """Ball of radius 3-4.5 cm (a subdivided icosphere)."""
    r = rng.uniform(0.03, 0.045)
    return [(P.ellipsoid((r, r, r), (0.0, 0.0, 0.0), subdivisions=3), "body")]
