"""The four shared real DICOMs: orientation, windowing, identifiers, and refusals of variants built from them."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pydicom
import pytest

from lungdx_widgets.imaging import (CorruptFile, ImageTooLarge, ImageTooSmall, ImagingError, NotAChestRadiograph,
                                    UnsupportedFile, load_image)
from lungdx_widgets.imaging.codestream import codestream_size

from .builders import dicom_bytes, dicom_with, header_only, multi_frame


def lung_and_mediastinum(pixels: np.ndarray) -> tuple[float, float]:
    """Mean of both mid-lung fields and of the central mediastinum (PA/AP chest geometry)."""
    h, w = pixels.shape
    band = slice(int(h * 0.35), int(h * 0.55))
    lungs = (pixels[band, int(w * 0.2):int(w * 0.35)].mean() + pixels[band, int(w * 0.65):int(w * 0.8)].mean()) / 2
    return float(lungs), float(pixels[band, int(w * 0.45):int(w * 0.55)].mean())


@pytest.mark.parametrize("name", ["siim", "nih", "nema_j2k"])
def test_real_dicoms_load_with_lungs_dark_and_bones_bright(name, request):
    path = request.getfixturevalue(name)
    rg = load_image(path)
    assert rg.pixels.dtype == np.float32 and rg.pixels.ndim == 2
    assert 0.0 <= rg.pixels.min() and rg.pixels.max() <= 1.0 and rg.pixels.max() - rg.pixels.min() > 0.5
    lungs, mediastinum = lung_and_mediastinum(rg.pixels)
    assert mediastinum - lungs > 0.15, (lungs, mediastinum)
    assert rg.source_format == "dicom"
    assert rg.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert rg.warnings == ()


def test_monochrome1_variant_is_the_inverse_of_the_original(siim, siim_mono1):
    original, variant = load_image(siim), load_image(siim_mono1)
    assert variant.photometric == "MONOCHROME1" and original.photometric == "MONOCHROME2"
    np.testing.assert_allclose(variant.pixels, 1.0 - original.pixels, atol=1e-6)


def test_jpeg2000_15_bit_monochrome1_applies_window_then_inverts(nema_j2k):
    rg = load_image(nema_j2k)
    ds = pydicom.dcmread(nema_j2k)
    assert rg.size == (1955, 1841) and rg.bit_depth == 15 and rg.photometric == "MONOCHROME1"
    stored = ds.pixel_array.astype(np.float64)
    # PS3.3 C.11.2.1.2 LINEAR window (centre 15000, width 30000) onto 0..2^15-1, then MONOCHROME1 inversion.
    windowed = np.clip((stored - 14999.5) / 29999.0 + 0.5, 0.0, 1.0)
    np.testing.assert_allclose(rg.pixels, 1.0 - windowed, atol=1e-5)


def test_identifiers_come_from_the_header(nema_j2k, nih):
    rg = load_image(nema_j2k)
    assert (rg.patient_id, rg.patient_name, rg.patient_sex) == ("9RG1", "CompressedSamples, RG1", "F")
    assert (rg.patient_birth_date, rg.acquired) == ("1940-03-05", "1995-09-26")  # ContentDate: no AcquisitionDate
    assert (rg.view, rg.modality) == ("PA", "CR")
    assert rg.study_uid == "1.3.6.1.4.1.5962.1.2.9.20040826185059.5457"
    plain = load_image(nih)
    assert (plain.patient_id, plain.modality, plain.view, plain.acquired) == ("Covid0000", "DX", None, None)


def test_rescale_slope_and_intercept_are_applied(nih):
    original = load_image(nih).pixels
    negated = load_image(dicom_with(nih, RescaleSlope=-1, RescaleIntercept=255)).pixels
    np.testing.assert_allclose(negated, 1.0 - original, atol=1e-6)


def test_window_from_the_header_is_applied(nih):
    stored = pydicom.dcmread(nih).pixel_array
    pixels = load_image(dicom_with(nih, WindowCenter=128, WindowWidth=64)).pixels
    assert (pixels[stored <= 96] == 0).all() and (pixels[stored > 160] == 1).all()
    middle = (stored > 100) & (stored < 156)
    assert 0 < pixels[middle].min() and pixels[middle].max() < 1


def test_voi_lut_sequence_is_preferred_to_the_window(nih):
    ds = pydicom.dcmread(nih)
    stored = ds.pixel_array.astype(np.float32)
    item = pydicom.Dataset()
    item.add_new("LUTDescriptor", "US", [256, 0, 8])
    item.add_new("LUTData", "US", list(range(255, -1, -1)))  # an inverting LUT
    ds.VOILUTSequence = [item]
    ds.WindowCenter, ds.WindowWidth = 10, 5  # would saturate everything if used
    np.testing.assert_allclose(load_image(dicom_bytes(ds)).pixels, 1.0 - stored / 255.0, atol=1e-6)


def test_invalid_window_falls_back_to_full_range_with_a_warning(nih):
    rg = load_image(dicom_with(nih, WindowCenter=100, WindowWidth=0))
    np.testing.assert_allclose(rg.pixels, load_image(nih).pixels, atol=1e-6)
    assert any("window" in w for w in rg.warnings)


def test_bits_stored_masks_unused_high_bits(nih):
    ds = pydicom.dcmread(nih)
    high_garbage = ds.pixel_array.astype(np.uint16) * 16 | 0xF000  # 12 bits stored, overlay junk above
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelData = 16, 12, 11, high_garbage.tobytes()
    rg = load_image(dicom_bytes(ds))
    assert rg.bit_depth == 12
    np.testing.assert_allclose(rg.pixels, load_image(nih).pixels, atol=1e-6)


@pytest.mark.parametrize("name", ["siim", "nih", "nema_j2k"])
def test_truncated_file_is_corrupt(name, request):
    data = request.getfixturevalue(name).read_bytes()
    with pytest.raises(CorruptFile):
        load_image(data[: len(data) * 2 // 3])


@pytest.mark.parametrize("name", ["siim", "nih", "nema_j2k"])
def test_header_without_pixels_is_corrupt(name, request):
    with pytest.raises(CorruptFile, match="no image data"):
        load_image(header_only(request.getfixturevalue(name).read_bytes()))


def test_damaged_header_is_corrupt(siim):
    data = bytearray(siim.read_bytes())
    data[300:340] = b"\xff" * 40
    with pytest.raises(CorruptFile):
        load_image(bytes(data))


def test_wrong_magic_is_unsupported_and_never_forced(siim):
    data = bytearray(siim.read_bytes())
    data[128:132] = b"DICX"
    with pytest.raises(UnsupportedFile):
        load_image(bytes(data))


def test_dicom_without_part10_header_is_named(nih):
    data = nih.read_bytes()
    meta_end = 132 + 12 + int.from_bytes(data[140:144], "little")
    with pytest.raises(UnsupportedFile, match="without the standard file header"):
        load_image(data[meta_end:])


@pytest.mark.parametrize("modality, words", [("CT", "computed tomography"), ("MR", "magnetic resonance"),
                                              ("US", "ultrasound")])
def test_non_radiograph_modality_is_refused_naming_it(siim, modality, words):
    with pytest.raises(NotAChestRadiograph, match=f"{words}.*{modality}"):
        load_image(dicom_with(siim, Modality=modality))


def test_other_body_part_is_refused(siim):
    with pytest.raises(NotAChestRadiograph, match="HAND"):
        load_image(dicom_with(siim, BodyPartExamined="HAND"))


def test_unspecific_modality_is_accepted_with_a_warning(siim):
    rg = load_image(dicom_with(siim, Modality="OT"))
    assert any("modality" in w for w in rg.warnings)


def test_multi_frame_is_refused_naming_the_frame_count(nih):
    with pytest.raises(NotAChestRadiograph, match="3 frames"):
        load_image(multi_frame(nih, 3))


def test_huge_declared_size_is_refused_before_decoding(nih):
    data = dicom_with(nih, Rows=60000, Columns=60000)
    start = time.perf_counter()
    with pytest.raises(ImageTooLarge, match="60000×60000"):
        load_image(data)
    assert time.perf_counter() - start < 1.0  # nothing was decoded or allocated


def test_many_frames_count_towards_the_pixel_limit(nih):
    with pytest.raises(ImageTooLarge, match="frames"):
        load_image(dicom_with(nih, NumberOfFrames=100))


def test_tiny_dicom_is_refused(nih):
    ds = pydicom.dcmread(nih)
    corner = ds.pixel_array[:32, :32].tobytes()
    ds.Rows = ds.Columns = 32
    ds.PixelData = corner
    with pytest.raises(ImageTooSmall, match="32×32"):
        load_image(dicom_bytes(ds))


def test_unknown_compression_is_unsupported(nih):
    ds = pydicom.dcmread(nih)
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 video
    ds.PixelData = pydicom.encaps.encapsulate([ds.PixelData])
    with pytest.raises(UnsupportedFile, match="MPEG2"):
        load_image(dicom_bytes(ds))


def test_missing_file_is_an_imaging_error(tmp_path):
    with pytest.raises(ImagingError, match="missing.dcm"):
        load_image(tmp_path / "missing.dcm")


def test_codestream_larger_than_its_header_is_refused_before_decoding(siim):
    ds = pydicom.dcmread(siim)
    ds.Rows = ds.Columns = 512  # the JPEG inside still says 1024×1024
    with pytest.raises(CorruptFile, match="1024×1024 but the header says 512×512"):
        load_image(dicom_bytes(ds))


def test_codestream_size_reads_jpeg_and_jpeg2000_frames(siim, nema_j2k):
    for path in (siim, nema_j2k):
        ds = pydicom.dcmread(path)
        frame = next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1))
        assert codestream_size(frame) == (ds.Rows, ds.Columns)
    assert codestream_size(b"\xff\xd8\xff\xe0\x00") is None and codestream_size(b"junk") is None


def test_colour_dicom_is_converted_to_grey_with_a_warning(nih):
    ds = pydicom.dcmread(nih)
    grey = ds.pixel_array
    rgb = np.stack([grey, grey // 2, grey // 4], axis=2).astype(np.uint8)  # a sepia-like photo of a film
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.PixelData = rgb.tobytes()
    rg = load_image(dicom_bytes(ds))
    assert rg.size == grey.shape and any("colour" in w for w in rg.warnings)
    lungs, mediastinum = lung_and_mediastinum(rg.pixels)
    assert mediastinum > lungs


@pytest.mark.parametrize("syntax", [pydicom.uid.RLELossless, pydicom.uid.JPEG2000Lossless,
                                    pydicom.uid.DeflatedExplicitVRLittleEndian])
def test_archive_encodings_decode_to_the_same_pixels(nih, syntax):
    ds = pydicom.dcmread(nih)
    if syntax.is_compressed:
        ds.compress(syntax)
    else:
        ds.file_meta.TransferSyntaxUID = syntax
    np.testing.assert_array_equal(load_image(dicom_bytes(ds)).pixels, load_image(nih).pixels)


def test_deflate_bomb_is_refused_before_inflating(nih, limits):
    ds = pydicom.dcmread(nih)
    ds.NumberOfFrames, ds.PixelData = 3, ds.PixelData * 3  # 3 MiB once inflated
    ds.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    data = dicom_bytes(ds)
    limits(max_pixels=1000)  # inflated limit = 2 × 1000 + 1 MiB
    with pytest.raises(ImageTooLarge, match="expands to more than"):
        load_image(data)
