"""Pretrained open-vocabulary backend: OWLv2 text-prompted boxes -> SAM masks (``transformers``).

Object: OWLv2 scores its boxes against ``"a photo of a <red mug>"``; boxes above
``object_threshold`` (after NMS) become SAM box prompts, one mask per candidate; the shared
``select_target`` applies colour / spatial words and refuses ties. Part: a pluggable
:class:`PartSegmenter`; the default asks OWLv2 for ``"the handle of a mug"`` inside the object's
box and SAM for that box's mask, kept inside the object mask (the self-trained part network can
replace it). Weights load from ``<model_dir>/owlv2`` and ``<model_dir>/sam`` (``save_pretrained``
folders); :func:`download_models` fetches them where a network exists.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import numpy as np
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.errors import ModelError
from ifgrasp.grounding import GroundedInstruction
from ifgrasp.paths import MODELS_DIR, REPO_ROOT
from ifgrasp.perception.segmentation.base import SegmentationBackend, SegmentationResult, register_backend
from ifgrasp.perception.segmentation.selection import SelectionConfig, describe_candidates, select_target
from ifgrasp.types import RGBDFrame

log = logging.getLogger(__name__)

#: Sub-folder -> Hugging Face repository of the default checkpoints.
DEFAULT_REPOS = {"owlv2": "google/owlv2-base-patch16-ensemble", "sam": "facebook/sam-vit-base"}


class PretrainedConfig(Config):
    model_dir: str = Field(str(MODELS_DIR / "pretrained"), description="folder holding owlv2/ and sam/")
    object_threshold: float = Field(0.1, ge=0, le=1, description="min OWLv2 score for an object box")
    part_threshold: float = Field(0.05, ge=0, le=1, description="min OWLv2 score for a part box")
    nms_iou: float = Field(0.5, gt=0, le=1, description="boxes overlapping more are duplicates")
    max_candidates: int = Field(8, gt=0, description="object boxes kept after NMS")
    box_margin: float = Field(0.1, ge=0, description="object box grows by this fraction for the part query")
    prompt: str = Field("a photo of a {}", description="object query template")
    part_prompt: str = Field("a photo of the {}", description="part query template")
    device: str = Field("cpu", description="torch device")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, 4) x (B, 4) xyxy boxes -> (A, B) IoU."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), axis=-1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, top_k: int) -> np.ndarray:
    """Indices of kept boxes, best first (greedy non-maximum suppression)."""
    order = np.argsort(-scores, kind="stable")
    overlap = box_iou(boxes, boxes) > iou  # (N, N)
    keep: list[int] = []
    suppressed = np.zeros(len(boxes), bool)
    for i in order:
        if not suppressed[i]:
            keep.append(int(i))
            suppressed |= overlap[i]
            if len(keep) == top_k:
                break
    return np.array(keep, np.int64)


class PartSegmenter(Protocol):
    """Part mask (H, W) bool of ``grounded.part`` for an object already found (``object_mask``
    (H, W) bool, ``object_box`` (4,) xyxy pixels)."""

    def segment_part(self, frame: RGBDFrame, object_mask: np.ndarray, object_box: np.ndarray,
                     grounded: GroundedInstruction) -> np.ndarray: ...


def _require(path: Path, repo: str) -> Path:
    if not (path / "config.json").is_file():
        raise ModelError(f"pretrained weights missing: {path}/config.json not found; run "
                         f"`ifgrasp download-models` where a network exists (fetches {repo}) or copy a "
                         "save_pretrained folder there")
    return path


@register_backend("pretrained")
class PretrainedBackend(SegmentationBackend):
    """OWLv2 + SAM from local weights (``config.model_dir``); ``part_model`` overrides the text-prompted
    part step (see :class:`PartSegmenter`)."""

    def __init__(self, config: PretrainedConfig = PretrainedConfig(), selection: SelectionConfig = SelectionConfig(),
                 part_model: PartSegmenter | None = None):
        import torch  # heavy imports only when the backend is built
        from transformers import Owlv2ForObjectDetection, Owlv2Processor, SamModel, SamProcessor

        root = Path(config.model_dir)
        root = root if root.is_absolute() else REPO_ROOT / root
        owl_dir, sam_dir = _require(root / "owlv2", DEFAULT_REPOS["owlv2"]), _require(root / "sam", DEFAULT_REPOS["sam"])
        try:
            self.owl = Owlv2ForObjectDetection.from_pretrained(owl_dir).to(config.device).eval()
            self.owl_proc = Owlv2Processor.from_pretrained(owl_dir)
            self.sam = SamModel.from_pretrained(sam_dir).to(config.device).eval()
            self.sam_proc = SamProcessor.from_pretrained(sam_dir)
        except (OSError, ValueError) as exc:
            raise ModelError(f"could not load pretrained weights from {root}: {exc}") from exc
        self.torch = torch
        self.config, self.selection = config, selection
        self.part_model = part_model if part_model is not None else self

    # -- detection -------------------------------------------------------------------------------
    def detect(self, image: np.ndarray, query: str) -> tuple[np.ndarray, np.ndarray]:
        """OWLv2 on (H, W, 3) uint8: every predicted box (P, 4) xyxy pixels and its (P,) score for ``query``."""
        h, w = image.shape[:2]
        inputs = self.owl_proc(text=[[query]], images=image, return_tensors="pt").to(self.config.device)
        with self.torch.inference_mode():
            out = self.owl(**inputs)
        scores = self.torch.sigmoid(out.logits[0, :, 0]).cpu().numpy()  # (P,)
        cxcywh = out.pred_boxes[0].cpu().numpy().astype(np.float64) * max(h, w)  # padded square -> pixels
        boxes = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], axis=1)
        boxes = np.clip(boxes, 0, [w, h, w, h])  # (P, 4)
        return boxes, scores

    def box_masks(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """SAM masks (K, H, W) bool for (K, 4) xyxy pixel boxes on (H, W, 3) uint8."""
        if len(boxes) == 0:
            return np.zeros((0, *image.shape[:2]), bool)
        inputs = self.sam_proc(images=image, input_boxes=[boxes.tolist()], return_tensors="pt").to(self.config.device)
        with self.torch.inference_mode():
            out = self.sam(**inputs, multimask_output=False)
        masks = self.sam_proc.image_processor.post_process_masks(
            out.pred_masks.cpu(), inputs["original_sizes"].cpu(), inputs["reshaped_input_sizes"].cpu())[0]
        return masks[:, 0].numpy().astype(bool)  # (K, H, W)

    # -- PartSegmenter ---------------------------------------------------------------------------
    def segment_part(self, frame: RGBDFrame, object_mask: np.ndarray, object_box: np.ndarray,
                     grounded: GroundedInstruction) -> np.ndarray:
        h, w = object_mask.shape
        x0, y0, x1, y1 = object_box
        mx, my = self.config.box_margin * (x1 - x0), self.config.box_margin * (y1 - y0)
        c = np.array([max(0, x0 - mx), max(0, y0 - my), min(w, x1 + mx), min(h, y1 + my)]).round().astype(int)
        if c[2] - c[0] < 2 or c[3] - c[1] < 2:
            return np.zeros_like(object_mask)
        crop = np.ascontiguousarray(frame.color[c[1]:c[3], c[0]:c[2]])
        boxes, scores = self.detect(crop, self.config.part_prompt.format(grounded.part_phrase))
        best = int(np.argmax(scores))
        if scores[best] < self.config.part_threshold:
            return np.zeros_like(object_mask)
        box = boxes[best] + np.array([c[0], c[1], c[0], c[1]])
        return self.box_masks(frame.color, box[None])[0] & object_mask

    # -- SegmentationBackend ---------------------------------------------------------------------
    def segment(self, frame: RGBDFrame, grounded: GroundedInstruction) -> SegmentationResult:
        boxes, scores = self.detect(frame.color, self.config.prompt.format(grounded.object_phrase))
        ok = scores >= self.config.object_threshold
        boxes, scores = boxes[ok], scores[ok]
        keep = nms(boxes, scores, self.config.nms_iou, self.config.max_candidates)
        boxes, scores = boxes[keep], scores[keep]
        masks = self.box_masks(frame.color, boxes)  # (K, H, W)
        cands = describe_candidates(frame, masks, grounded.category, scores)
        target = select_target(cands, grounded, self.selection)  # raises on none / ties
        k = target.instance
        part_mask = self.part_model.segment_part(frame, masks[k], boxes[k], grounded)
        if not part_mask.any():
            log.warning("pretrained: no '%s' found on the %s", grounded.part, grounded.category)
        return self._result(frame, grounded, masks[k], part_mask, cands, k, box_xyxy=boxes[k],
                            part_found=bool(part_mask.any()))


def _network_reachable(timeout_s: float) -> str | None:
    """None when the Hugging Face endpoint answers a TCP connect, else why not."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        return f"{url.hostname}:{port} not reachable ({exc})"
    return None


def download_models(dest: str | Path | None = None, repos: dict[str, str] | None = None,
                    timeout_s: float = 3.0) -> Path:
    """Fetch the pretrained checkpoints into ``dest/<name>`` (default ``models/pretrained``); for the
    robot PC. Fails fast with ``ModelError`` when no network is reachable."""
    dest = Path(dest) if dest is not None else MODELS_DIR / "pretrained"
    repos = repos or DEFAULT_REPOS
    why = _network_reachable(timeout_s)
    if why is not None:
        listing = ", ".join(f"{r} -> {dest / n}" for n, r in repos.items())
        raise ModelError(f"cannot download pretrained models: no network ({why}); on a machine with "
                         f"network run `ifgrasp download-models` and copy: {listing}")
    from huggingface_hub import snapshot_download

    for name, repo in repos.items():
        log.info("downloading %s -> %s", repo, dest / name)
        snapshot_download(repo_id=repo, local_dir=dest / name)
    return dest
