"""Accepted-but-doubtful images carry a warning; real chest radiographs carry none."""

from __future__ import annotations

import numpy as np
import pytest

from lungdx_widgets.imaging import load_image

from .builders import png_bytes

RNG = np.random.default_rng(7)
ROWS, COLS = 400, 360


def _u8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.mark.parametrize("image, words", [
    (_u8(RNG.random((ROWS, COLS))), "noise"),
    (_u8(np.mgrid[0:ROWS, 0:COLS][1] / COLS), "gradient"),
    (_u8(np.mgrid[0:ROWS, 0:COLS][0] / ROWS * 0.5 + np.mgrid[0:ROWS, 0:COLS][1] / COLS * 0.5
         + RNG.normal(0, 0.01, (ROWS, COLS))), "gradient"),
    (np.full((ROWS, COLS), 90, np.uint8), "uniform"),
])
def test_implausible_images_load_with_a_warning(image, words):
    rg = load_image(png_bytes(image))
    assert any(words in w for w in rg.warnings), rg.warnings


def test_shared_chest_radiographs_get_no_warning(shared_data, shared_dicoms):
    sample = sorted((shared_data / "images").glob("*.png"))[::12] + shared_dicoms
    warned = {p.name: w for p in sample if (w := load_image(p).warnings)}
    assert len(sample) > 60 and warned == {}
