"""A report picture: the radiograph with an optional heatmap and labelled boxes, as PNG bytes.

Reports must stand alone (printed, archived, mailed), so the overlay is burned into one PNG
instead of being drawn by the browser like the interactive viewer does.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..display import heat_colours
from ..i18n import CJK_FONT_FACE, CJK_FONT_FILE
from ..types import Box

#: Opacity of the burned-in heat layer (colours and fade-out: :mod:`lungdx_widgets.display`, as on screen).
HEAT_OPACITY = 0.5
AI_COLOUR = (255, 196, 0)      # proposed by the model
HUMAN_COLOUR = (0, 200, 255)   # drawn or accepted by a clinician


def heat_rgba(heat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[0,1] heat → (rgb in [0,1], alpha in [0,1]) with the viewer's colours and fade-out."""
    rgb, alpha = heat_colours(heat)
    return (rgb / 255.0).astype(np.float32), (alpha * HEAT_OPACITY).astype(np.float32)


def stretched(heatmap: np.ndarray, image_shape: tuple[int, ...], size: tuple[int, int]) -> np.ndarray:
    """A heatmap covering the image (bounded resolution, same aspect) → ``size`` (width, height), bilinear.

    A map of another aspect would be misplaced, so it is refused rather than stretched.
    """
    heat = np.asarray(heatmap, dtype=np.float32)
    rows, cols = image_shape[:2]
    if heat.ndim != 2 or abs(heat.shape[1] / heat.shape[0] - cols / rows) > 0.03 * cols / rows + 1.0 / min(heat.shape):
        raise ValueError(f"heatmap shape {heat.shape} does not cover the {rows}×{cols} image")
    if (heat.shape[1], heat.shape[0]) == size:
        return heat
    return np.asarray(Image.fromarray(heat, mode="F").resize(size, Image.Resampling.BILINEAR))


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Noto Sans CJK KR when installed (box tags in Korean), else Pillow's own font (Latin only)."""
    try:
        return ImageFont.truetype(str(CJK_FONT_FILE), size, index=CJK_FONT_FACE)
    except OSError:
        return ImageFont.load_default(size=size)


def overlay_png(pixels: np.ndarray, heatmap: np.ndarray | None = None, boxes: Iterable[Box] = (),
                max_side: int = 1024, label_text: Callable[[str], str] = str) -> bytes:
    """Grey radiograph ([0,1], rows×cols) + heatmap ([0,1], covering the image at any resolution of the
    same aspect; stretched bilinearly here) + boxes in original pixels.

    ``label_text`` names a box's label in the reader's language (``terms.finding_name``).
    """
    grey = np.clip(pixels.astype(np.float32), 0, 1)
    scale = min(1.0, max_side / max(grey.shape))
    size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
    if scale < 1.0:  # shrink first: the picture is drawn at report size, never at the film's
        grey = np.asarray(Image.fromarray(grey, mode="F").resize(size, Image.Resampling.LANCZOS)).clip(0, 1)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    if heatmap is not None:
        colour, alpha = heat_rgba(np.clip(stretched(heatmap, pixels.shape, size), 0, 1))
        rgb = rgb * (1 - alpha[..., None]) + colour * alpha[..., None]
    image = Image.fromarray(np.rint(rgb * 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(image.size) / 300))
    font = _font(max(12, round(max(image.size) / 45)))
    for n, b in enumerate(boxes, start=1):
        box_colour = HUMAN_COLOUR if b.source == "human" or b.status in ("accepted", "edited") else AI_COLOUR
        x0, y0, x1, y1 = (v * scale for v in (b.x, b.y, b.x + b.w, b.y + b.h))
        draw.rectangle((x0, y0, x1, y1), outline=box_colour, width=width)
        draw.text((x0 + width + 2, y0 + width + 1), f"{n} {label_text(b.label)}", fill=box_colour, font=font)
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=False)
    return buf.getvalue()
