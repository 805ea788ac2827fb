"""ORACLE backend: reads the simulator's ground-truth labels; for simulation and tests only.

It never looks at colour or depth to find objects: ``frame.object_ids`` / ``frame.part_ids`` (H, W)
int32 label images and name tables (object id -> category, part id -> part name) say what is where.
Selection among several objects of the named category still goes through the shared
``select_target`` (colour, spatial words, ambiguity), as for the real backends.
"""

from __future__ import annotations

import logging

import numpy as np

from ifgrasp.errors import InputError, known
from ifgrasp.grounding import CATEGORIES, GroundedInstruction
from ifgrasp.perception.segmentation.base import SegmentationBackend, SegmentationResult, register_backend
from ifgrasp.perception.segmentation.selection import SelectionConfig, describe_candidates, select_target
from ifgrasp.types import RGBDFrame

log = logging.getLogger(__name__)


@register_backend("oracle")
class OracleBackend(SegmentationBackend):
    """Ground-truth ORACLE segmentation from simulator labels.

    ``object_categories``: object id (value in ``frame.object_ids``) -> category name;
    ``part_names``: part id (value in ``frame.part_ids``) -> part name (ids may be global or per
    object; the part mask is always intersected with the object mask).
    """

    def __init__(self, object_categories: dict[int, str], part_names: dict[int, str],
                 selection: SelectionConfig = SelectionConfig()):
        bad = {c for c in object_categories.values() if c not in CATEGORIES}
        if bad:
            raise InputError(f"oracle table names unknown categories {known(bad)}; known: {known(CATEGORIES)}")
        self.object_categories = dict(object_categories)
        self.part_names = dict(part_names)
        self.selection = selection
        log.info("oracle segmentation backend: using simulator ground-truth labels")

    def segment(self, frame: RGBDFrame, grounded: GroundedInstruction) -> SegmentationResult:
        if frame.object_ids is None or frame.part_ids is None:
            raise InputError("oracle backend needs frame.object_ids and frame.part_ids (simulated frames only)")
        ids = np.array([i for i, c in self.object_categories.items() if c == grounded.category], np.int32)
        masks = frame.object_ids[None] == ids[:, None, None]  # (K, H, W)
        visible = masks.any(axis=(1, 2))  # (K,)
        ids, masks = ids[visible], masks[visible]
        cands = describe_candidates(frame, masks, grounded.category, np.ones(len(ids)))
        target = select_target(cands, grounded, self.selection)
        k = target.instance
        part_ids = np.array([i for i, p in self.part_names.items() if p == grounded.part], np.int32)
        part_mask = masks[k] & np.isin(frame.part_ids, part_ids)
        if not part_mask.any():
            log.warning("oracle: part '%s' of object %d not visible", grounded.part, ids[k])
        return self._result(frame, grounded, masks[k], part_mask, cands, k, object_id=int(ids[k]))
