"""Images a person watches while perception runs (the perception node publishes them for RViz):

    part_mask_image(object_mask, part_mask)  (H, W) uint8: 255 instructed part, 128 rest of the object, 0 else
    debug_overlay(color, object_mask, part_mask, text)  (H, W, 3) uint8: object tinted blue, part red,
        their outlines drawn and one line of text; the same size as the colour image (pixel-aligned).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from ifgrasp.errors import InputError
from ifgrasp.perception.segmentation.base import OBJECT_RGB, PART_RGB, make_overlay

PART_VALUE, OBJECT_VALUE = 255, 128


def _check(color_hw: tuple[int, int], *masks: np.ndarray) -> None:
    for m in masks:
        if m.shape != color_hw:
            raise InputError(f"mask of shape {m.shape} does not match the colour image's {color_hw}")


def part_mask_image(object_mask: np.ndarray, part_mask: np.ndarray) -> np.ndarray:
    """(H, W) uint8 mono image: ``PART_VALUE`` (255) on the instructed part, ``OBJECT_VALUE`` (128) on
    the rest of the target object, 0 elsewhere (a part pixel outside the object still counts as part)."""
    object_mask, part_mask = np.asarray(object_mask, bool), np.asarray(part_mask, bool)
    _check(object_mask.shape, part_mask)
    out = np.where(object_mask, OBJECT_VALUE, 0).astype(np.uint8)  # (H, W)
    out[part_mask] = PART_VALUE
    return out


def outline(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels of ``mask`` with a 4-neighbour outside it (or on the image border)."""
    m = np.pad(np.asarray(mask, bool), 1, constant_values=False)  # (H+2, W+2)
    inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return np.asarray(mask, bool) & ~inner


def debug_overlay(color: np.ndarray, object_mask: np.ndarray, part_mask: np.ndarray, text: str = "",
                  alpha: float = 0.5) -> np.ndarray:
    """(H, W, 3) uint8: ``color`` with the object tinted blue and the part red (``make_overlay``),
    both outlined in full colour, and ``text`` in the top-left corner."""
    color = np.asarray(color, np.uint8)
    if color.ndim != 3 or color.shape[2] != 3:
        raise InputError(f"colour image must be (H, W, 3), got {color.shape}")
    object_mask, part_mask = np.asarray(object_mask, bool), np.asarray(part_mask, bool)
    _check(color.shape[:2], object_mask, part_mask)
    out = make_overlay(color, object_mask, part_mask, alpha)
    out[outline(object_mask)] = OBJECT_RGB
    out[outline(part_mask)] = PART_RGB
    if text:
        img = Image.fromarray(out)
        draw = ImageDraw.Draw(img)
        x0, y0, x1, y1 = draw.textbbox((4, 2), text)
        draw.rectangle([x0 - 2, y0 - 1, x1 + 2, y1 + 1], fill=(0, 0, 0))
        draw.text((4, 2), text, fill=(255, 255, 255))
        out = np.asarray(img)
    return out
