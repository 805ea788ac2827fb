"""Pictures a person can read: colour-mapped depth with a scale, object/part overlays with a legend.

Pure numpy + Pillow, vectorised over pixels. Images are (H, W, 3) uint8 RGB.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Anchor colours of a perceptually ordered map (near = dark purple ... far = yellow, like viridis).
_MAP_ANCHORS = np.array([
    [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
    [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
], dtype=np.float64)
#: Distinct label colours (Tableau 10 and a few more), cycled.
LABEL_COLORS = np.array([
    [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
    [140, 86, 75], [227, 119, 194], [188, 189, 34], [23, 190, 207], [255, 187, 120],
    [152, 223, 138], [255, 152, 150], [197, 176, 213], [196, 156, 148],
], dtype=np.uint8)


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def colormap(values: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 colours for ``values`` in [0, 1] (clipped)."""
    t = np.clip(values, 0.0, 1.0) * (len(_MAP_ANCHORS) - 1)
    i = np.minimum(t.astype(np.int64), len(_MAP_ANCHORS) - 2)
    f = (t - i)[..., None]
    return (_MAP_ANCHORS[i] * (1 - f) + _MAP_ANCHORS[i + 1] * f).astype(np.uint8)


def depth_image(depth_m: np.ndarray, near_m: float | None = None, far_m: float | None = None,
                bar_width: int = 90) -> np.ndarray:
    """(H, W + bar_width, 3) colour-mapped depth with a labelled scale bar; invalid (0) pixels black."""
    valid = depth_m > 0
    d = depth_m[valid]
    near = float(np.percentile(d, 1)) if near_m is None and d.size else (near_m or 0.0)
    far = float(np.percentile(d, 99)) if far_m is None and d.size else (far_m or 1.0)
    far = max(far, near + 1e-3)
    img = colormap((depth_m - near) / (far - near))  # (H, W, 3)
    img[~valid] = 0
    h = depth_m.shape[0]
    bar = np.full((h, bar_width, 3), 255, dtype=np.uint8)
    top, bottom = 30, h - 30
    ramp = colormap(np.linspace(0.0, 1.0, bottom - top))  # (L, 3): near at the top
    bar[top:bottom, 10:30] = ramp[:, None, :]
    out = Image.fromarray(np.concatenate([img, bar], axis=1))
    draw = ImageDraw.Draw(out)
    x0 = depth_m.shape[1]
    font = _font(13)
    for frac in np.linspace(0.0, 1.0, 6):
        y = top + frac * (bottom - top - 1)
        draw.line([(x0 + 30, y), (x0 + 36, y)], fill=(0, 0, 0))
        draw.text((x0 + 39, y - 7), f"{near + frac * (far - near):.2f}", fill=(0, 0, 0), font=font)
    draw.text((x0 + 8, 8), "depth (m)", fill=(0, 0, 0), font=font)
    draw.text((x0 + 8, h - 22), "black: none", fill=(0, 0, 0), font=_font(11))
    return np.asarray(out)


def label_overlay(color: np.ndarray, object_ids: np.ndarray, part_ids: np.ndarray,
                  labels: list[tuple[int, int, str]], alpha: float = 0.6, legend_width: int = 230) -> np.ndarray:
    """(H, W + legend_width, 3) colour image with each (object, part) region tinted, edges drawn,
    and a legend. ``labels``: (object index, part index, text) for every pair to show."""
    img = color.astype(np.float64)
    key = object_ids.astype(np.int64) * 1000 + part_ids  # (H, W) one id per (object, part)
    legend = []
    for n, (o, p, text) in enumerate(labels):
        c = LABEL_COLORS[n % len(LABEL_COLORS)]
        mask = key == o * 1000 + p
        img[mask] = (1 - alpha) * img[mask] + alpha * c
        legend.append((c, text, int(mask.sum())))
    # object boundaries in white, part boundaries inside an object in black
    edge_obj = _edges(object_ids)
    edge_part = _edges(key) & ~edge_obj & (object_ids >= 0)
    img[edge_obj] = 255
    img[edge_part] = 0
    h = color.shape[0]
    panel = Image.new("RGB", (legend_width, h), (255, 255, 255))
    draw = ImageDraw.Draw(panel)
    draw.text((10, 8), "object / part (pixels)", fill=(0, 0, 0), font=_font(13))
    for n, (c, text, count) in enumerate(legend):
        y = 32 + 22 * n
        draw.rectangle([10, y, 26, y + 14], fill=tuple(int(v) for v in c), outline=(0, 0, 0))
        draw.text((32, y), f"{text} ({count})", fill=(0, 0, 0), font=_font(12))
    return np.concatenate([img.astype(np.uint8), np.asarray(panel)], axis=1)


def _edges(labels: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose right or lower neighbour has another label."""
    e = np.zeros(labels.shape, dtype=bool)
    e[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    e[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return e


def caption(image: np.ndarray, text: str, height: int = 24) -> np.ndarray:
    """``image`` with a white caption strip on top."""
    strip = Image.new("RGB", (image.shape[1], height), (255, 255, 255))
    ImageDraw.Draw(strip).text((8, 5), text, fill=(0, 0, 0), font=_font(13))
    return np.concatenate([np.asarray(strip), image], axis=0)
