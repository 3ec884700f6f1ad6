"""Property: whatever bytes arrive, ``load_image`` returns a sane Radiograph or raises an ImagingError."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lungdx_widgets.config import load_settings
from lungdx_widgets.imaging import ImagingError, load_image
from lungdx_widgets.imaging.sniff import DICOM_MAGIC, JPEG_MAGIC, PNG_MAGIC

from .builders import jpeg_bytes, png_bytes

SHARED_DICOM = load_settings().shared_data / "dicom" / "siim_6904_1517875201.dcm"


def _small_seed_files() -> list[bytes]:
    """Real files to mutate: the shared JPEG-baseline DICOM and a small chest PNG/JPEG built from its pixels."""
    dicom = SHARED_DICOM.read_bytes()
    thumb = (load_image(dicom).pixels[::8, ::8] * 255).astype(np.uint8)
    return [dicom, png_bytes(thumb), jpeg_bytes(thumb)]


SEEDS = _small_seed_files()  # missing shared data is a set-up error, reported at collection


@st.composite
def mutated_real_file(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    header_end = min(len(data), 2048)  # most parsing decisions are in the first 2 KB
    for _ in range(draw(st.integers(1, 8))):
        where = draw(st.integers(0, header_end - 1) | st.integers(0, len(data) - 1))
        data[where] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


magic_then_junk = st.builds(lambda head, tail: head + tail,
                            st.sampled_from([b"\x00" * 128 + DICOM_MAGIC, PNG_MAGIC, JPEG_MAGIC]),
                            st.binary(max_size=512))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(st.binary(max_size=512) | magic_then_junk | mutated_real_file())
def test_only_typed_errors_escape(data: bytes):
    try:
        rg = load_image(data)
    except ImagingError as exc:
        assert str(exc)  # a message for a person, never empty
        return
    assert rg.pixels.dtype == np.float32 and rg.pixels.ndim == 2
    assert np.isfinite(rg.pixels).all() and 0.0 <= rg.pixels.min() and rg.pixels.max() <= 1.0
