"""Segmentation backends, chosen by name: ``oracle`` (simulator labels) and ``pretrained``
(OWLv2 + SAM from local weights). A ``trained`` backend (self-trained point-cloud network) registers
itself here when it lands.

    backend = make_backend("oracle", object_categories={1: "mug"}, part_names={10: "handle"})
    result = backend.segment(frame, parse_instruction("the mug by its handle"))
"""

from ifgrasp.perception.segmentation.base import (
    SegmentationBackend, SegmentationResult, backend_names, make_backend, make_overlay, register_backend,
)
from ifgrasp.perception.segmentation.oracle import OracleBackend
from ifgrasp.perception.segmentation.pretrained import PretrainedBackend, PretrainedConfig, download_models
from ifgrasp.perception.segmentation.selection import SelectionConfig, colour_names, describe_candidates, select_target

__all__ = [
    "OracleBackend", "PretrainedBackend", "PretrainedConfig", "SegmentationBackend", "SegmentationResult",
    "SelectionConfig", "backend_names", "colour_names", "describe_candidates", "download_models",
    "make_backend", "make_overlay", "register_backend", "select_target",
]
