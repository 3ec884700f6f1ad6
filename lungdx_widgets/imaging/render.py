"""[0,1] pixels → 8-bit grey PNG for display (the viewer, reports, thumbnails)."""

from __future__ import annotations

import base64
from io import BytesIO

import numpy as np
from PIL import Image


def to_png_bytes(pixels: np.ndarray, max_side: int | None = None) -> bytes:
    """Encode [0,1] grey pixels as an 8-bit PNG, downscaled (aspect kept) so no side exceeds ``max_side``.

    Compression level 3: display PNGs are made on every view, so speed beats the last few percent of size.
    """
    img = np.asarray(pixels, dtype=np.float32)
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {img.shape}")
    image = Image.fromarray(np.rint(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8), mode="L")
    if max_side is not None and max(image.size) > max_side:
        scale = max_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = BytesIO()
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()


def to_data_url(pixels: np.ndarray, max_side: int | None = None) -> str:
    """``data:image/png;base64,...`` for an <img> tag or an anywidget trait."""
    return "data:image/png;base64," + base64.b64encode(to_png_bytes(pixels, max_side)).decode("ascii")
