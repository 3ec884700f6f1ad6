"""PNG/JPEG variants built from a shared chest PNG: bit depths, colour, size limits, damage."""

from __future__ import annotations

import numpy as np
import pytest

from lungdx_widgets.imaging import CorruptFile, ImageTooLarge, ImageTooSmall, UnsupportedFile, load_image

from .builders import jpeg_bytes, png_bomb, png_bytes


def test_8_bit_png_keeps_every_grey_level(chest_png, chest_array):
    rg = load_image(chest_png)
    assert (rg.source_format, rg.bit_depth, rg.photometric, rg.warnings) == ("png", 8, "MONOCHROME2", ())
    np.testing.assert_array_equal(rg.pixels, chest_array.astype(np.float32) / 255)
    assert rg.patient_id is None and rg.study_uid is None


def test_16_bit_png_equals_the_8_bit_original(chest_array):
    rg = load_image(png_bytes(chest_array.astype(np.uint16) * 257))
    assert rg.bit_depth == 16
    np.testing.assert_allclose(rg.pixels, chest_array / 255, atol=1e-6)


def test_grey_rgb_png_converts_without_a_colour_warning(chest_array):
    rg = load_image(png_bytes(np.repeat(chest_array[..., None], 3, axis=2)))
    np.testing.assert_allclose(rg.pixels, chest_array / 255, atol=1e-5)
    assert rg.photometric == "MONOCHROME2" and rg.warnings == ()


def test_colour_photo_is_accepted_with_a_warning(chest_array):
    tinted = np.stack([chest_array, (chest_array * 0.6).astype(np.uint8), (chest_array * 0.2).astype(np.uint8)], axis=2)
    rg = load_image(png_bytes(tinted))
    assert rg.photometric == "RGB" and any("colour" in w for w in rg.warnings)


def test_jpeg_is_detected_by_content_not_by_name(chest_array):
    rg = load_image(jpeg_bytes(chest_array), filename="scan.dcm")
    assert rg.source_format == "jpeg"
    assert float(np.abs(rg.pixels - chest_array / 255).mean()) < 0.01


def test_tiny_image_is_refused(chest_array):
    with pytest.raises(ImageTooSmall, match="40×50"):
        load_image(png_bytes(np.ascontiguousarray(chest_array[:50, :40])))


def test_image_above_the_pixel_limit_is_refused_before_decoding(chest_array, limits):
    limits(max_pixels=100_000)
    rows, cols = chest_array.shape
    with pytest.raises(ImageTooLarge, match=f"{cols}×{rows}"):
        load_image(png_bytes(chest_array))


def test_decompression_bomb_is_refused():
    bomb = png_bomb(8000, 8000)  # 64 M pixels of zeros in well under 1 MB
    assert len(bomb) < 1_000_000
    with pytest.raises(ImageTooLarge, match="8000×8000"):
        load_image(bomb)


def test_pillows_own_bomb_check_is_an_imaging_error(limits):
    limits(max_pixels=10**9)  # above Pillow's limit: its DecompressionBombError must still become ours
    with pytest.raises(ImageTooLarge, match="more pixels than allowed"):
        load_image(png_bomb(14000, 14000, rows_written=16))


def test_file_above_the_upload_limit_is_refused(chest_png, limits):
    limits(max_upload_bytes=1000)
    with pytest.raises(ImageTooLarge, match="upload limit"):
        load_image(chest_png)


@pytest.mark.parametrize("encode", [png_bytes, jpeg_bytes])
def test_truncated_raster_is_corrupt(chest_array, encode):
    data = encode(chest_array)
    with pytest.raises(CorruptFile):
        load_image(data[: len(data) // 2])


def test_broken_png_magic_is_unsupported(chest_array):
    data = png_bytes(chest_array)
    with pytest.raises(UnsupportedFile):
        load_image(b"\x89PNX" + data[4:])


@pytest.mark.parametrize("data, words", [(b"%PDF-1.7\n...", "PDF"), (b"GIF89a....", "GIF"),
                                         (b"PK\x03\x04....", "ZIP"), (b"hello, world", "not an image")])
def test_other_formats_are_named(data, words):
    with pytest.raises(UnsupportedFile, match=words):
        load_image(data, filename="upload.png")


def test_empty_file_is_corrupt():
    with pytest.raises(CorruptFile, match="empty"):
        load_image(b"")
