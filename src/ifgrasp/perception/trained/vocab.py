"""Label vocabularies of the trained perception network and its input normalisation.

Categories are ``ifgrasp.sim.objects.CATEGORIES`` (11); parts are the union of every category's
parts in first-seen order (10: body, handle, head, trigger, nozzle, grip, blade, pan, cap, spout).
``PART_ALLOWED`` (C, P) bool says which parts a category has: part logits are masked with the
predicted category's row at inference.
"""

from __future__ import annotations

import numpy as np

from ifgrasp.sim.objects import CATEGORIES, PARTS

PART_VOCAB: tuple[str, ...] = tuple(dict.fromkeys(p for c in CATEGORIES for p in PARTS[c]))
PART_ALLOWED = np.array([[p in PARTS[c] for p in PART_VOCAB] for c in CATEGORIES], bool)  # (C, P)
#: Length scale of the network input, metres (objects are ~0.05-0.4 m).
SCALE_M = 0.15


def normalise(points_base_m: np.ndarray) -> np.ndarray:
    """(..., N, 3) base-frame points -> network input: x-y centred on the points' mean, z kept as
    height above the table (z = 0), all divided by ``SCALE_M``. Absolute size stays visible (it
    tells a knife from a box); yaw is left to the network (trained with random yaws)."""
    p = np.asarray(points_base_m, np.float32)
    centre = p.mean(axis=-2, keepdims=True)  # (..., 1, 3)
    centre[..., 2] = 0.0
    return (p - centre) / SCALE_M
