"""Display PNGs: 8-bit grey, same geometry (or bounded), and readable back by the loader."""

from __future__ import annotations

import base64
from io import BytesIO

import numpy as np
from PIL import Image

from lungdx_widgets.imaging import load_image
from lungdx_widgets.imaging.render import to_data_url, to_png_bytes


def test_png_round_trips_through_the_loader(nema_j2k):
    pixels = load_image(nema_j2k).pixels
    back = load_image(to_png_bytes(pixels))
    assert back.size == (1955, 1841) and back.bit_depth == 8
    assert float(np.abs(back.pixels - pixels).max()) <= 0.5 / 255 + 1e-6


def test_max_side_keeps_the_aspect_ratio(nema_j2k):
    image = Image.open(BytesIO(to_png_bytes(load_image(nema_j2k).pixels, max_side=512)))
    assert image.mode == "L" and image.size == (482, 512)


def test_data_url_is_a_base64_png():
    url = to_data_url(np.linspace(0, 1, 64 * 80, dtype=np.float32).reshape(64, 80))
    assert url.startswith("data:image/png;base64,")
    assert Image.open(BytesIO(base64.b64decode(url.split(",", 1)[1]))).size == (80, 64)
