"""Model-input conversion and its inverse: boxes and heatmaps land back on the original pixels exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lungdx_widgets.imaging.transform import Geometry, to_model_input


def bright_box(model_input: np.ndarray) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the pixels above mid-grey in a (1, s, s) model input."""
    ys, xs = np.nonzero(model_input[0] > 0)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def test_range_shape_and_dtype():
    pixels = np.zeros((300, 500), np.float32)
    pixels[:, 250:] = 1.0
    out, geo = to_model_input(pixels, size=64)
    assert out.shape == (1, 64, 64) and out.dtype == np.float32
    assert out.min() == -1024.0 and out.max() == 1024.0
    assert (geo.rows, geo.cols, geo.crop, geo.offset, geo.scale) == (300, 500, 300, (0, 100), 300 / 64)


def test_box_drawn_in_the_original_is_found_at_the_mapped_model_position_and_back():
    # Landscape 300×500, size 100: crop 300 starting at column 100, scale 3 (block means are exact).
    pixels = np.zeros((300, 500), np.float32)
    pixels[60:105, 250:280] = 1.0  # original box x=250, y=60, w=30, h=45
    out, geo = to_model_input(pixels, size=100)
    assert geo.to_model(250, 60, 30, 45) == (50.0, 20.0, 10.0, 15.0)
    assert bright_box(out) == (50, 20, 10, 15)
    assert geo.to_original(*bright_box(out)) == (250.0, 60.0, 30.0, 45.0)


def test_portrait_image_crops_rows():
    pixels = np.zeros((520, 400), np.float32)
    pixels[60 + 80:60 + 120, 200:240] = 1.0  # crop starts at row 60
    out, geo = to_model_input(pixels, size=200)  # scale 2
    assert geo.offset == (60, 0)
    assert geo.to_original(*bright_box(out)) == (200.0, 140.0, 40.0, 40.0)


def test_non_integer_scale_keeps_boxes_within_one_model_pixel():
    pixels = np.zeros((1955, 1841), np.float32)
    pixels[900:1300, 400:700] = 1.0
    out, geo = to_model_input(pixels, size=224)
    x, y, w, h = geo.to_original(*bright_box(out))
    for got, want in zip((x, y, x + w, y + h), (400, 900, 700, 1300)):
        assert abs(got - want) <= geo.scale


@settings(max_examples=200, deadline=None)
@given(rows=st.integers(64, 4000), cols=st.integers(64, 4000), size=st.sampled_from([224, 320, 512]),
       box=st.tuples(*[st.floats(0, 4000, allow_nan=False)] * 4))
def test_coordinate_round_trip_is_exact(rows, cols, size, box):
    geo = Geometry(rows, cols, size)
    np.testing.assert_allclose(geo.to_original(*geo.to_model(*box)), box, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(geo.to_model(*geo.to_original(*box)), box, rtol=1e-12, atol=1e-9)


def test_heatmap_maps_onto_the_crop_and_nowhere_else():
    geo = Geometry(rows=300, cols=500, size=100)
    heat = np.zeros((10, 10), np.float32)  # a coarse map over the model input (e.g. a 10×10 CAM)
    heat[2:4, 5:7] = 1.0  # model pixels x 50..70, y 20..40 → original x 250..310, y 60..120
    full = geo.map_to_original(heat)
    assert full.shape == (300, 500)
    assert (full[:, :100] == 0).all() and (full[:, 400:] == 0).all()
    peak_y, peak_x = np.unravel_index(np.argmax(full), full.shape)
    assert 60 <= peak_y < 120 and 250 <= peak_x < 310


def test_colour_input_is_a_programming_error():
    with pytest.raises(ValueError):
        to_model_input(np.zeros((64, 64, 3), np.float32))
