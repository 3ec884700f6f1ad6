"""Training reads films exactly as serving decodes an upload (one decode path: no train/serve skew)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from lungdx_widgets.imaging import load_image
from lungdx_widgets.model.data import read_grayscale

FILM = "mhh_fff13f3a.png"


def _same_as_serving(path: Path) -> np.ndarray:
    trained = read_grayscale(path)
    served = load_image(path.read_bytes(), filename=path.name).pixels
    assert trained.dtype == served.dtype == np.float32
    assert trained.shape == served.shape
    assert np.array_equal(trained, served)
    return trained


def test_shared_png_decodes_identically(shared_data):
    _same_as_serving(shared_data / "images" / FILM)


def test_rotated_jpeg_is_turned_upright_for_training_too(shared_data, tmp_path):
    """A phone photo of a film with an EXIF rotation tag: training used to learn it lying on its side."""
    with Image.open(shared_data / "images" / FILM) as im:
        upright = im.convert("L")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what the camera wrote
    path = tmp_path / "photo.jpg"
    stored.save(path, quality=95, exif=exif.tobytes())
    pixels = _same_as_serving(path)
    assert pixels.shape == (upright.height, upright.width), "read upright, not as stored"


def test_16_bit_png_keeps_its_precision(shared_data, tmp_path):
    with Image.open(shared_data / "images" / FILM) as im:
        grey = np.asarray(im.convert("L"), dtype=np.uint16) * 257 + 3  # values no 8-bit film can hold
    path = tmp_path / "film16.png"
    Image.fromarray(grey).save(path)
    pixels = _same_as_serving(path)
    assert np.allclose(pixels, grey / 65535.0, atol=1e-6)
