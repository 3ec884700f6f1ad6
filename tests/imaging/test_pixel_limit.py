"""The default decode limit: a tiny file that declares a huge image is refused before decoding."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from lungdx_widgets.config import Settings
from lungdx_widgets.imaging import ImageTooLarge, load_image


def _blank_png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (side, side)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def test_a_57kb_png_declaring_7700_squared_pixels_is_refused_by_default():
    data = _blank_png(7700)  # 59 Mpx: under the old 60 Mpx default, seven full-size heatmaps in RAM
    assert len(data) < 200_000
    with pytest.raises(ImageTooLarge, match="7700×7700"):
        load_image(data, filename="bomb.png")


def test_the_default_still_fits_the_largest_real_chest_films():
    assert 4300 * 4300 <= Settings().max_pixels <= 25_000_000
