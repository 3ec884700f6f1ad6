"""A report picture: the radiograph with an optional heatmap and labelled boxes, as PNG bytes.

Reports must stand alone (printed, archived, mailed), so the overlay is burned into one PNG
instead of being drawn by the browser like the interactive viewer does.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..types import Box

#: Heatmap values below this are left transparent (only the hot part is drawn).
HEAT_FLOOR = 0.35
HEAT_ALPHA = 0.45
AI_COLOUR = (255, 196, 0)      # proposed by the model
HUMAN_COLOUR = (0, 200, 255)   # drawn or accepted by a clinician


def _heat_rgb(heat: np.ndarray) -> np.ndarray:
    """Map [0,1] to a yellow→red ramp (no colormap dependency)."""
    rgb = np.empty(heat.shape + (3,), np.float32)
    rgb[..., 0] = 1.0
    rgb[..., 1] = np.clip(1.0 - heat, 0, 1)
    rgb[..., 2] = 0.0
    return rgb


def overlay_png(pixels: np.ndarray, heatmap: np.ndarray | None = None, boxes: Iterable[Box] = (),
                max_side: int = 1024) -> bytes:
    """Grey radiograph ([0,1], rows×cols) + heatmap (same shape, [0,1]) + boxes in original pixels."""
    grey = np.clip(pixels.astype(np.float32), 0, 1)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    if heatmap is not None:
        if heatmap.shape != grey.shape:
            raise ValueError(f"heatmap shape {heatmap.shape} does not match the image {grey.shape}")
        heat = np.clip(heatmap.astype(np.float32), 0, 1)
        alpha = np.where(heat >= HEAT_FLOOR, HEAT_ALPHA, 0.0)[..., None]
        rgb = rgb * (1 - alpha) + _heat_rgb(heat) * alpha
    image = Image.fromarray(np.rint(rgb * 255).astype(np.uint8), "RGB")
    scale = min(1.0, max_side / max(image.size))
    if scale < 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(image.size) / 300))
    font = ImageFont.load_default(size=max(12, round(max(image.size) / 45)))
    for n, b in enumerate(boxes, start=1):
        colour = HUMAN_COLOUR if b.source == "human" or b.status in ("accepted", "edited") else AI_COLOUR
        x0, y0, x1, y1 = (v * scale for v in (b.x, b.y, b.x + b.w, b.y + b.h))
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=width)
        draw.text((x0 + width + 2, y0 + width + 1), f"{n} {b.label}", fill=colour, font=font)
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=False)
    return buf.getvalue()
