"""Recognise a file by its first bytes, never by its name or the browser's MIME type."""

from __future__ import annotations

from typing import Literal

from .errors import UnsupportedFile, describe

ImageKind = Literal["dicom", "png", "jpeg"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
DICOM_PREAMBLE = 128
DICOM_MAGIC = b"DICM"

#: Formats people upload by mistake, named so the refusal says what the file actually is.
_OTHER_FORMATS: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "a gzip-compressed archive"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    (b"RIFF", "a RIFF file (WebP, AVI or WAV)"),
    (b"\x00\x00\x00\x0cjP  ", "a bare JPEG 2000 file (not wrapped in DICOM)"),
    (b"\xff\x4f\xff\x51", "a bare JPEG 2000 codestream (not wrapped in DICOM)"),
)


def sniff(data: bytes, filename: str | None = None) -> ImageKind:
    """Return the image kind or raise :class:`UnsupportedFile` naming what was found."""
    if len(data) >= DICOM_PREAMBLE + 4 and data[DICOM_PREAMBLE:DICOM_PREAMBLE + 4] == DICOM_MAGIC:
        return "dicom"
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    what = next((name for magic, name in _OTHER_FORMATS if data.startswith(magic)), None)
    if what is None and data[:4] in (b"\x02\x00\x00\x00", b"\x08\x00\x00\x00", b"\x08\x00\x05\x00", b"\x08\x00\x16\x00"):
        what = "a DICOM data set without the standard file header (export it as a DICOM Part 10 file)"
    found = what or "not an image format the workbench reads"
    raise UnsupportedFile(f"{describe(filename)} is {found}; upload a chest radiograph as DICOM, PNG or JPEG.")
