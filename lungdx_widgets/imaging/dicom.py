"""DICOM → normalised pixels + identifiers, refusing what is not a single chest radiograph.

Order matters for safety: the header is read first (``stop_before_pixels``), the image's
declared size is checked against ``Settings.max_pixels`` and the modality/frames are checked,
and only then are pixels decoded. ``force=True`` is never used: a file without the ``DICM``
preamble is not DICOM to us.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO

import numpy as np
from pydicom import Dataset, dcmread
from pydicom.pixels.decoders.base import get_decoder
from pydicom.pixels.processing import apply_modality_lut, apply_voi, apply_windowing
from pydicom.encaps import generate_frames
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, RLELossless

from ..config import get_settings
from ..types import Radiograph
from .codestream import codestream_size
from .errors import (CorruptFile, ImageTooLarge, ImageTooSmall, NotAChestRadiograph, UnsupportedFile,
                     decoder_errors)
from .plausibility import colour_to_gray, colour_warning

#: Projection radiography: computed (CR), digital (DX) and digitised film (RG).
RADIOGRAPH_MODALITIES = frozenset({"CR", "DX", "RG"})
#: Modalities that say nothing about the content (secondary capture exports); accepted with a warning.
UNSPECIFIC_MODALITIES = frozenset({"", "OT", "SC"})
MODALITY_NAMES = {
    "CT": "computed tomography (CT)", "MR": "magnetic resonance (MR)", "US": "ultrasound",
    "NM": "nuclear medicine", "PT": "PET", "XA": "X-ray angiography", "RF": "fluoroscopy",
    "MG": "mammography", "IO": "intra-oral dental", "PX": "panoramic dental", "ES": "endoscopy",
    "XC": "external camera photograph", "SM": "slide microscopy", "OP": "ophthalmic photograph",
    "ECG": "ECG waveform", "SR": "structured report", "DOC": "document", "SEG": "segmentation",
    "PR": "presentation state", "KO": "key object selection", "RTIMAGE": "radiotherapy image",
}
_CHEST_WORDS = ("CHEST", "THORAX", "THORAC", "TORAX", "LUNG", "RIB", "STERNUM")
_OTHER_BODY_PARTS = ("ABDOMEN", "PELVIS", "HAND", "FINGER", "KNEE", "FOOT", "TOE", "ANKLE", "SKULL", "HEAD",
                     "BRAIN", "HIP", "SHOULDER", "ELBOW", "WRIST", "SPINE", "LEG", "ARM", "FEMUR", "HUMERUS",
                     "TIBIA", "FOREARM", "BREAST", "JAW", "TMJ", "SINUS", "NECK", "EXTREMITY", "KUB")


@dataclass(frozen=True)
class _Header:
    """What is needed from the header before any pixel is decoded."""

    modality: str
    rows: int
    cols: int
    frames: int
    samples: int
    body_part: str
    transfer_syntax: UID
    sop_class: str


def read_dicom(data: bytes, sha256: str, who: str) -> Radiograph:
    """Decode one DICOM Part 10 file (``who`` names it in messages)."""
    _refuse_deflate_bomb(data, who)
    header = _read_header(data, who)
    warnings = _check_header(header, who)
    with decoder_errors(f"{who} looks like DICOM but is damaged or incomplete."):
        ds = dcmread(BytesIO(data))
    if "PixelData" not in ds:
        raise CorruptFile(f"{who} has a DICOM header but no image data (the file may be truncated).")
    _check_codestream(ds, header, who)
    with decoder_errors(f"{who}: the image data is damaged or incomplete and could not be decoded."):
        stored = ds.pixel_array
        if stored.shape[:2] != (header.rows, header.cols):
            raise CorruptFile(f"{who}: the decoded image does not match the size in its header.")
        pixels, window_warning = _present(stored, ds, header)
        meta = _identifiers(ds)
    return Radiograph(pixels=pixels, source_format="dicom", sha256=sha256,
                      warnings=tuple(warnings) + window_warning, **meta)


def _refuse_deflate_bomb(data: bytes, who: str) -> None:
    """pydicom inflates a deflated data set in one go: bound the inflated size first."""
    meta_end = 132 + 12 + int.from_bytes(data[140:144], "little") if len(data) >= 144 else len(data)
    if str(DeflatedExplicitVRLittleEndian).encode() not in data[132:meta_end]:
        return
    limit = get_settings().max_pixels * 2 + (1 << 20)
    inflated, pending = 0, data[meta_end:]
    with decoder_errors(f"{who}: the compressed DICOM data set is damaged."):
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        while pending and inflated <= limit:  # 1 MiB at a time: the output is counted, never kept
            chunk = inflater.decompress(pending, 1 << 20)
            if not chunk and inflater.unconsumed_tail == pending:
                break
            inflated, pending = inflated + len(chunk), inflater.unconsumed_tail
    if inflated > limit:
        raise ImageTooLarge(f"{who} expands to more than {limit:,} bytes when decompressed; it was not read.")


def _read_header(data: bytes, who: str) -> _Header:
    with decoder_errors(f"{who} looks like DICOM but its header is damaged or incomplete."):
        ds = dcmread(BytesIO(data), stop_before_pixels=True)
        sop_class = ds.get("SOPClassUID")
        header = _Header(
            modality=str(ds.get("Modality") or "").strip().upper(),
            rows=int(ds.get("Rows") or 0),
            cols=int(ds.get("Columns") or 0),
            frames=int(ds.get("NumberOfFrames") or 1),
            samples=int(ds.get("SamplesPerPixel") or 1),
            body_part=str(ds.get("BodyPartExamined") or "").strip().upper(),
            transfer_syntax=ds.file_meta.TransferSyntaxUID,
            sop_class=getattr(sop_class, "name", str(sop_class or "unknown")),
        )
    return header


def _check_header(h: _Header, who: str) -> list[str]:
    """Refuse before decoding; return warnings for what is merely doubtful."""
    warnings: list[str] = []
    if h.modality not in RADIOGRAPH_MODALITIES | UNSPECIFIC_MODALITIES:
        kind = MODALITY_NAMES.get(h.modality, f"'{h.modality}'")
        article = "an" if kind[0].lower() in "aeiou" else "a"
        raise NotAChestRadiograph(f"{who} is {article} {kind} study (DICOM modality {h.modality}), not a chest "
                                  "radiograph; only CR/DX radiographs can be analysed.")
    if h.modality in UNSPECIFIC_MODALITIES:
        warnings.append(f"The file does not record a radiograph modality ({h.modality or 'none'}); "
                        "check that it is a chest radiograph.")
    warnings += _check_body_part(h.body_part, who)
    if h.rows <= 0 or h.cols <= 0:
        if h.sop_class == "unknown":
            raise CorruptFile(f"{who} looks like DICOM but its header is damaged or incomplete (no image size).")
        raise NotAChestRadiograph(f"{who} contains no image ({h.sop_class}).")
    settings = get_settings()
    if h.rows * h.cols * max(h.frames, 1) > settings.max_pixels:
        frames = f" × {h.frames} frames" if h.frames > 1 else ""
        raise ImageTooLarge(f"{who} declares {h.cols}×{h.rows} pixels{frames}, above the limit of "
                            f"{settings.max_pixels:,} pixels; it was not decoded.")
    if h.frames > 1:
        raise NotAChestRadiograph(f"{who} holds {h.frames} frames (a cine loop or volume); a chest "
                                  "radiograph is a single image.")
    if min(h.rows, h.cols) < settings.min_side:
        raise ImageTooSmall(f"{who} is only {h.cols}×{h.rows} pixels; at least {settings.min_side} pixels "
                            "a side are needed.")
    if h.samples not in (1, 3):
        raise UnsupportedFile(f"{who} has {h.samples} samples per pixel; only grayscale or colour images are read.")
    try:
        available = get_decoder(h.transfer_syntax).is_available
    except NotImplementedError:
        available = False
    if not available:
        name = getattr(h.transfer_syntax, "name", str(h.transfer_syntax))
        raise UnsupportedFile(f"{who} is compressed with '{name}', which this workbench cannot decode; "
                              "export it uncompressed or as JPEG / JPEG 2000.")
    return warnings


def _check_codestream(ds: Dataset, h: _Header, who: str) -> None:
    """A compressed frame must declare the size in the header (the one checked against the limit)."""
    syntax = h.transfer_syntax
    if not syntax.is_encapsulated or syntax == RLELossless:  # RLE sizes come from the header
        return
    with decoder_errors(f"{who}: the compressed image data is damaged or incomplete."):
        frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    declared = codestream_size(frame)
    if declared != (h.rows, h.cols):
        found = f"{declared[1]}×{declared[0]}" if declared else "an unreadable size"
        raise CorruptFile(f"{who}: the compressed image declares {found} but the header says "
                          f"{h.cols}×{h.rows}; it was not decoded.")


def _check_body_part(body_part: str, who: str) -> list[str]:
    if not body_part or any(w in body_part for w in _CHEST_WORDS):
        return []
    if any(w in body_part for w in _OTHER_BODY_PARTS):
        raise NotAChestRadiograph(f"{who} is a radiograph of '{body_part}', not of the chest.")
    return [f"The file names the body part '{body_part}'; check that it is a chest radiograph."]


def _present(stored: np.ndarray, ds: Dataset, h: _Header) -> tuple[np.ndarray, tuple[str, ...]]:
    """Stored values → [0,1] with bones bright: BitsStored, modality LUT, VOI LUT/window, MONOCHROME1."""
    if h.samples == 3:  # colour DICOM (e.g. a photographed film): pydicom already gives RGB
        gray, colourfulness = colour_to_gray(stored, float(np.iinfo(stored.dtype).max)
                                             if np.issubdtype(stored.dtype, np.integer) else 1.0)
        return gray, colour_warning(colourfulness)
    arr = _respect_bits_stored(stored, int(ds.get("BitsStored") or stored.dtype.itemsize * 8),
                               int(ds.get("PixelRepresentation") or 0))
    values = apply_modality_lut(arr, ds)
    voi = _apply_voi(values, ds)
    warnings: tuple[str, ...] = ()
    windowed: np.ndarray
    if voi is None:
        if "WindowWidth" in ds or "VOILUTSequence" in ds:
            warnings = ("The display window stored in the file is invalid; the full range of values is shown.",)
        lo, hi = float(values.min()), float(values.max())
        windowed = values
    else:
        windowed, lo, hi = voi
    unit = np.asarray(windowed, dtype=np.float32)
    unit = (unit - lo) / (hi - lo) if hi > lo else np.zeros_like(unit)
    np.clip(unit, 0.0, 1.0, out=unit)
    if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        unit = 1.0 - unit
    return np.ascontiguousarray(unit, dtype=np.float32), warnings


def _respect_bits_stored(arr: np.ndarray, bits_stored: int, signed: int) -> np.ndarray:
    """Clamp to the range BitsStored allows (decoders of compressed data do not always do it)."""
    if not np.issubdtype(arr.dtype, np.integer) or not 0 < bits_stored < arr.dtype.itemsize * 8:
        return arr
    if signed:
        return np.clip(arr, -(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1)
    return np.minimum(arr, (1 << bits_stored) - 1)


def _apply_voi(values: np.ndarray, ds: Dataset) -> tuple[np.ndarray, float, float] | None:
    """The file's own VOI LUT (preferred) or window, with its output range; None if absent or invalid."""
    try:
        if ds.get("VOILUTSequence"):
            item = ds.VOILUTSequence[0]
            entries, first = int(item.LUTDescriptor[0]) or 65536, int(item.LUTDescriptor[1])
            lut_out = apply_voi(np.arange(first, first + entries), ds, 0)
            return apply_voi(values, ds, 0), float(lut_out.min()), float(lut_out.max())
        if "WindowCenter" in ds and "WindowWidth" in ds:
            bounds = apply_windowing(np.array([-1e300, 1e300]), ds, 0)
            return apply_windowing(values, ds, 0), float(bounds[0]), float(bounds[1])
    except Exception:  # noqa: BLE001 - a malformed window is a display problem, not a reason to refuse
        return None
    return None


def _identifiers(ds: Dataset) -> dict:
    """Radiograph fields taken from the header (``None`` when absent or empty)."""
    name = ds.get("PatientName")
    return {
        "bit_depth": int(ds.get("BitsStored") or 8),
        "photometric": str(ds.get("PhotometricInterpretation") or "MONOCHROME2").strip(),
        "view": _text(ds, "ViewPosition"),
        "modality": _text(ds, "Modality"),
        "patient_id": _text(ds, "PatientID"),
        "patient_name": (name.family_comma_given().strip(", ") or None) if name else None,
        "patient_sex": _text(ds, "PatientSex"),
        "patient_birth_date": iso_date(ds.get("PatientBirthDate")),
        "study_uid": _text(ds, "StudyInstanceUID"),
        "acquired": next((d for d in (iso_date(ds.get(k)) for k in
                                      ("AcquisitionDate", "ContentDate", "SeriesDate", "StudyDate")) if d), None),
    }


def _text(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    text = "" if value is None else str(value).strip()
    return text or None


def iso_date(value: object) -> str | None:
    """DICOM DA ``YYYYMMDD`` → ``YYYY-MM-DD``; None when empty or invalid."""
    text = str(value or "").strip()
    if not re.fullmatch(r"\d{8}", text):
        return None
    try:
        return datetime.strptime(text, "%Y%m%d").date().isoformat()
    except ValueError:
        return None
