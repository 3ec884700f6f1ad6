"""PNG/JPEG → normalised grey pixels via Pillow, with an explicit pixel limit checked before decoding."""

from __future__ import annotations

from io import BytesIO

import numpy as np
from PIL import Image, ImageOps

from ..config import get_settings
from ..types import Radiograph
from .errors import ImageTooLarge, ImageTooSmall, decoder_errors
from .plausibility import colour_to_gray, colour_warning
from .sniff import ImageKind

_PILLOW_FORMAT = {"png": "PNG", "jpeg": "JPEG"}
_GREY_16 = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_GREY_8 = ("L", "LA", "1")


def read_raster(data: bytes, kind: ImageKind, sha256: str, who: str) -> Radiograph:
    """Decode one PNG or JPEG (``who`` names it in messages)."""
    damaged = f"{who} is a damaged or incomplete {kind.upper()} image."
    with decoder_errors(damaged):
        try:
            image = Image.open(BytesIO(data), formats=[_PILLOW_FORMAT[kind]])  # header only
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLarge(f"{who} declares more pixels than allowed; it was not decoded.") from exc
    _check_size(*image.size, who)
    with decoder_errors(damaged):
        pixels, bit_depth, colourfulness = decode_pixels(image)
    colour = colour_warning(colourfulness)
    return Radiograph(pixels=pixels, source_format=kind, sha256=sha256, bit_depth=bit_depth,
                      photometric="RGB" if colour else "MONOCHROME2", warnings=colour)


def _check_size(width: int, height: int, who: str) -> None:
    settings = get_settings()
    if width * height > settings.max_pixels:
        raise ImageTooLarge(f"{who} declares {width}×{height} pixels, above the limit of "
                            f"{settings.max_pixels:,} pixels; it was not decoded.")
    if min(width, height) < settings.min_side:
        raise ImageTooSmall(f"{who} is only {width}×{height} pixels; at least {settings.min_side} pixels "
                            "a side are needed.")


def decode_pixels(image: Image.Image) -> tuple[np.ndarray, int, float]:
    """(pixels in [0,1], bit depth, colourfulness) of an opened PNG/JPEG: the one decode for serving and training.

    Training reads its films through this too (``model.data.read_grayscale``), so a rotated JPEG or a
    big-endian 16-bit PNG looks the same to the model when it learns and when it reads an upload.
    """
    if image.format == "JPEG":
        image = ImageOps.exif_transpose(image)  # phone photos of films carry a rotation tag
    image.load()
    return _to_grey(image)


def _to_grey(image: Image.Image) -> tuple[np.ndarray, int, float]:
    """(pixels in [0,1], bit depth, colourfulness). 16-bit grey keeps its full precision."""
    if image.mode in _GREY_16:
        values = np.asarray(image).astype(np.float32)
        return np.clip(values / 65535.0, 0.0, 1.0), 16, 0.0
    if image.mode in _GREY_8:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0, 8, 0.0
    gray, colourfulness = colour_to_gray(np.asarray(image.convert("RGB")), 255.0)
    return gray, 8, colourfulness
