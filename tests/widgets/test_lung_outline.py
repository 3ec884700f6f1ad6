"""The viewer's lung outline: the lung fields the model read, drawn as a thin line the clinician can toggle."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from lungdx_widgets.types import Findings
from lungdx_widgets.widgets.viewer import BROWSER_WRITABLE, ImageViewer


def test_a_lung_mask_becomes_a_thin_outline_png_the_browser_can_toggle():
    mask = np.zeros((1600, 1200), bool)  # larger than the outline's resolution: it is sent smaller
    mask[200:1400, 120:520] = True
    mask[200:1400, 680:1080] = True
    viewer = ImageViewer()
    viewer.show_findings(Findings(results={}, lung_mask=mask))
    outline = np.asarray(Image.open(io.BytesIO(viewer.lung_outline))) > 127
    assert outline.shape == (768, 576)  # same aspect as the film
    s = 768 / 1600
    near = lambda r, c: outline[int(r * s) - 2:int(r * s) + 3, int(c * s) - 2:int(c * s) + 3].any()  # noqa: E731
    assert near(200, 320) and near(800, 120) and near(1400, 900)  # top, side and bottom edges
    assert not outline[int(800 * s), int(320 * s)] and not outline[int(800 * s), int(600 * s)]  # inside, between
    assert outline.sum() < 0.05 * (mask.sum() * s * s)  # a line, not a fill
    assert "show_lungs" in BROWSER_WRITABLE and viewer.show_lungs


def test_no_mask_means_no_outline():
    viewer = ImageViewer()
    viewer.show_findings(Findings(results={}, lung_mask=None))
    assert not viewer.lung_outline
