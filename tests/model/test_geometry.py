"""A box on the model input maps back to the right original pixels (crop + resize inverted exactly)."""

from __future__ import annotations

import numpy as np

from lungdx_widgets.imaging.transform import to_model_input
from lungdx_widgets.model.data import read_grayscale
from lungdx_widgets.model.localize import HEATMAP_MAX_SIDE, boxes_from_map, iou, map_shape, maps_to_original


def test_box_found_on_model_input_maps_to_original_pixels(shared_data):
    # A real non-square radiograph (MHH, 474x512): the centre crop shifts rows, the resize scales.
    pixels = read_grayscale(shared_data / "images" / "mhh_fff13f3a.png")
    rows, cols = pixels.shape
    assert rows != cols
    truth = (150.0, 200.0, 120.0, 80.0)  # x, y, w, h in original pixels, inside the crop
    x, y, w, h = (int(v) for v in truth)
    white, black = pixels.copy(), pixels.copy()
    white[y:y + h, x:x + w], black[y:y + h, x:x + w] = 1.0, 0.0
    model_in, geo = to_model_input(white, size=128)
    other, _ = to_model_input(black, size=128)
    difference = np.abs(model_in[0] - other[0])  # only the rectangle differs
    found = boxes_from_map(difference, relative_threshold=0.5, max_boxes=1)
    assert len(found) == 1
    mapped = geo.to_original(*found[0][:4])
    # one model pixel is geo.scale original pixels; the box edges may move by one of them
    assert all(abs(a - b) <= geo.scale + 1e-6 for a, b in zip(mapped, truth)), (mapped, truth)
    assert iou(mapped, truth) > 0.9


def test_to_model_is_inverse_of_to_original(shared_data):
    pixels = read_grayscale(shared_data / "images" / "mhh_fff13f3a.png")
    _, geo = to_model_input(pixels, size=224)
    box = (12.5, 40.0, 33.0, 21.0)
    assert np.allclose(geo.to_model(*geo.to_original(*box)), box)


def test_fast_heatmaps_match_exact_bilinear_placement(shared_data):
    pixels = read_grayscale(shared_data / "images" / "mhh_fff13f3a.png")  # non-square: zero band outside the crop
    _, geo = to_model_input(pixels, size=128)
    maps = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    fast = maps_to_original(maps, geo, max_side=max(pixels.shape))  # full size, to compare pixel by pixel
    assert fast.shape == (3, *pixels.shape)  # 474-px crop > HEATMAP_DETAIL: the two-stage path
    for k in range(3):
        exact = geo.map_to_original(maps[k])
        assert np.abs(fast[k] - exact).max() < 0.05
        assert (fast[k][exact == 0] == 0).all()  # same crop placement


def test_heatmaps_cover_the_film_at_a_bounded_resolution():
    """A 7700×5000 film gets 512×332 maps, placed where the full-size maps would be (same crop band)."""
    from lungdx_widgets.imaging.transform import Geometry

    geo = Geometry(rows=7700, cols=5000, size=224)  # centred square crop: a zero band above and below
    maps = np.random.default_rng(1).random((2, 8, 8)).astype(np.float32) + 0.1
    small = maps_to_original(maps, geo)
    assert small.shape == (2, *map_shape(7700, 5000)) and max(small.shape[1:]) == HEATMAP_MAX_SIDE
    assert small.shape[1:] == (512, 332)
    band = (7700 - 5000) // 2 * 512 / 7700  # rows of the film outside the crop, in map pixels
    inside = (small[0] > 0).any(axis=1)
    assert abs(inside.argmax() - band) <= 1 and abs(len(inside) - inside[::-1].argmax() - (512 - band)) <= 1
    exact = geo.map_to_original(maps[0])[::15, ::15]  # full size (237 MB per map before), subsampled
    near = small[0][(np.arange(exact.shape[0]) * 15 * 512 // 7700)[:, None], (np.arange(exact.shape[1]) * 15 * 332 // 5000)[None]]
    assert np.abs(near - exact)[exact > 0].mean() < 0.05
