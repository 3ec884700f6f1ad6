"""Build hostile and unusual variants of the shared real files, in memory (never written to shared/)."""

from __future__ import annotations

import struct
import zlib
from io import BytesIO
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"


def dicom_bytes(ds: pydicom.Dataset) -> bytes:
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def dicom_with(path: Path, **attributes) -> bytes:
    """The shared DICOM with some header attributes replaced."""
    ds = pydicom.dcmread(path)
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return dicom_bytes(ds)


def header_only(data: bytes) -> bytes:
    """Everything before the Pixel Data element (a transfer cut short at the image)."""
    return data[:data.rindex(PIXEL_DATA_TAG)]


def multi_frame(path: Path, frames: int) -> bytes:
    """An uncompressed DICOM turned into a ``frames``-frame cine of the same image."""
    ds = pydicom.dcmread(path)
    ds.NumberOfFrames = frames
    ds.PixelData = ds.PixelData * frames
    return dicom_bytes(ds)


def png_bytes(array: np.ndarray) -> bytes:
    """uint8 → 8-bit PNG, uint16 → 16-bit PNG, (rows, cols, 3) uint8 → RGB PNG."""
    out = BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes(array: np.ndarray, quality: int = 95) -> bytes:
    out = BytesIO()
    Image.fromarray(array).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def png_bomb(width: int, height: int, rows_written: int | None = None) -> bytes:
    """An 8-bit grey PNG of ``width``×``height`` zeros: tiny on disk, huge once decoded.

    ``rows_written`` < ``height`` saves time when only the header matters (the data is then short).
    """
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + pixels
    idat = b"".join(compressor.compress(row) for _ in range(rows_written or height)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
