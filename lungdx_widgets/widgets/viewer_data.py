"""What the viewer's browser side receives, and the checks on what it sends back.

Kept apart from the widget so the rules (box keys, statuses, coordinates inside the image,
heatmap encoding) can be tested without a front end, and so the store-binding editor and the
viewer share one definition. Coordinates are original-image pixels (x right, y down, top-left
origin), the same system as :class:`~lungdx_widgets.types.Box` and ``Findings.heatmaps``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping
from typing import get_args

import numpy as np
from PIL import Image

from ..imaging.render import to_png_bytes
from ..types import Box, BoxSource, BoxStatus, Radiograph

BOX_KEYS = frozenset({"label", "x", "y", "w", "h", "score", "source", "status"})
REQUIRED_BOX_KEYS = frozenset({"label", "x", "y", "w", "h"})
BOX_SOURCES: tuple[str, ...] = get_args(BoxSource)
BOX_STATUSES: tuple[str, ...] = get_args(BoxStatus)
#: Heatmaps are coarse by nature (the model sees 224 px); this long side keeps messages small.
HEATMAP_MAX_SIDE = 256
#: Boxes may touch the border; this much rounding slack (pixels) is tolerated, then clamped.
EDGE_TOLERANCE = 0.5
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Free-text labels are finding names, not notes.
MAX_LABEL_CHARS = 80


class BoxRejected(ValueError):
    """A box that cannot be shown on this image (the message says which field and why)."""


def normalize_box(box: Box | Mapping, width: int, height: int) -> dict:
    """Check one box against the image and return it with every key present.

    ``width``/``height`` of 0 mean "no image yet": only the shape of the box is checked.
    """
    d = box.as_dict() if isinstance(box, Box) else dict(box)
    unknown = set(d) - BOX_KEYS
    if unknown:
        raise BoxRejected(f"unknown box field(s): {', '.join(sorted(unknown))}")
    missing = REQUIRED_BOX_KEYS - set(d)
    if missing:
        raise BoxRejected(f"box lacks {', '.join(sorted(missing))}")
    label = str(d["label"]).strip()
    if not label:
        raise BoxRejected("box label is empty")
    if len(label) > MAX_LABEL_CHARS:
        raise BoxRejected(f"box label is longer than {MAX_LABEL_CHARS} characters")
    try:
        x, y, w, h = (float(d[k]) for k in ("x", "y", "w", "h"))
    except (TypeError, ValueError) as exc:
        raise BoxRejected(f"box coordinates must be numbers ({exc})") from None
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise BoxRejected("box coordinates must be finite")
    if w <= 0 or h <= 0:
        raise BoxRejected(f"box '{label}' has no area (w={w:g}, h={h:g})")
    if width and height:
        if x < -EDGE_TOLERANCE or y < -EDGE_TOLERANCE or x + w > width + EDGE_TOLERANCE \
                or y + h > height + EDGE_TOLERANCE:
            raise BoxRejected(f"box '{label}' ({x:g},{y:g},{w:g}×{h:g}) lies outside the "
                              f"{width}×{height} image")
        x, y = max(0.0, x), max(0.0, y)
        w, h = min(w, width - x), min(h, height - y)
    score = d.get("score")
    if score is not None:
        score = float(score)
        if not 0.0 <= score <= 1.0:
            raise BoxRejected(f"box score must be within 0..1, got {score:g}")
    source = d.get("source", "human")
    if source not in BOX_SOURCES:
        raise BoxRejected(f"box source must be one of {BOX_SOURCES}, got {source!r}")
    status = d.get("status", "proposed" if source == "ai" else "edited")
    if status not in BOX_STATUSES:
        raise BoxRejected(f"box status must be one of {BOX_STATUSES}, got {status!r}")
    return {"label": label, "x": x, "y": y, "w": w, "h": h, "score": score,
            "source": source, "status": status}


def normalize_boxes(boxes: Iterable[Box | Mapping], width: int, height: int) -> list[dict]:
    """:func:`normalize_box` for a list; the error names the box's position."""
    out = []
    for i, b in enumerate(boxes):
        try:
            out.append(normalize_box(b, width, height))
        except BoxRejected as exc:
            raise BoxRejected(f"box #{i + 1}: {exc}") from None
    return out


def boxes_from_dicts(boxes: Iterable[Mapping]) -> list[Box]:
    """Viewer dicts → shared :class:`Box` values (what the store saves)."""
    return [Box.from_dict(b) for b in boxes]


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of an encoded image, read from its header only."""
    with Image.open(io.BytesIO(data)) as im:
        return int(im.width), int(im.height)


#: Older name of :func:`lungdx_widgets.imaging.render.to_png_bytes` (widgets.priors imports it).
pixels_to_png = to_png_bytes


def display_image(image: bytes | np.ndarray | Radiograph) -> tuple[bytes, int, int]:
    """Anything that is a radiograph → (encoded image for the browser, original width, height)."""
    if isinstance(image, Radiograph):
        h, w = image.size
        return to_png_bytes(image.pixels), w, h
    if isinstance(image, np.ndarray):
        if image.ndim != 2:
            raise ValueError(f"expected a 2-D grayscale image, got shape {image.shape}")
        return to_png_bytes(image), int(image.shape[1]), int(image.shape[0])
    data = bytes(image)
    w, h = png_size(data)
    return data, w, h


def encode_heatmap(value: bytes | np.ndarray, max_side: int = HEATMAP_MAX_SIDE) -> bytes:
    """A heatmap in [0,1] (any resolution, same aspect as the image) → small 8-bit gray PNG.

    The browser colourises it, so only one channel of values travels.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if not data.startswith(PNG_SIGNATURE):
            raise ValueError("heatmap bytes must be a PNG")
        return data
    arr = np.asarray(value, dtype=np.float32)
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise ValueError(f"heatmap must be a 2-D array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("heatmap contains NaN or infinite values")
    scale = max_side / max(arr.shape)
    if scale < 1:  # bilinear, not the display path's Lanczos: a map must not ring above its own maximum
        size = (max(1, round(arr.shape[1] * scale)), max(1, round(arr.shape[0] * scale)))
        arr = np.asarray(Image.fromarray(arr, mode="F").resize(size, Image.Resampling.BILINEAR))
    return to_png_bytes(arr)


#: The outline is a thin line, so it travels at a finer resolution than heatmaps (and compresses well).
OUTLINE_MAX_SIDE = 768


def encode_outline(value: bytes | np.ndarray | None, max_side: int = OUTLINE_MAX_SIDE) -> bytes:
    """A boolean lung mask (original pixels) → 8-bit PNG of its outline, at most ``max_side`` per side.

    The outline is worked out at display resolution so it stays one or two screen pixels wide.
    """
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if data and not data.startswith(PNG_SIGNATURE):
            raise ValueError("lung outline bytes must be a PNG")
        return data
    mask = np.asarray(value, dtype=bool)
    if mask.ndim != 2 or min(mask.shape) < 1:
        raise ValueError(f"lung mask must be a 2-D array, got shape {mask.shape}")
    scale = min(1.0, max_side / max(mask.shape))
    size = (max(1, round(mask.shape[1] * scale)), max(1, round(mask.shape[0] * scale)))
    small = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.NEAREST)) > 127
    from scipy import ndimage

    edge = small & ~ndimage.binary_erosion(small, iterations=1)
    return to_png_bytes(edge.astype(np.float32))


def check_heatmap_aspect(label: str, data: bytes, width: int, height: int) -> None:
    """A heatmap is stretched over the whole image; a different aspect would misplace it."""
    if not (width and height):
        return
    hw, hh = png_size(data)
    if abs(hw / hh - width / height) > 0.03 * (width / height) + 1.0 / min(hw, hh):
        raise ValueError(f"heatmap '{label}' is {hw}×{hh}, which does not match the "
                         f"{width}×{height} image")


def drop_relabelled_scores(old: list[dict], new: list[dict]) -> list[dict]:
    """A box a person relabelled keeps no AI score: the model's number belonged to the old label."""
    out = []
    for i, box in enumerate(new):
        before = old[i] if i < len(old) else None
        if before is not None and box.get("score") is not None and before.get("label") != box.get("label"):
            box = {**box, "score": None}
        out.append(box)
    return out
