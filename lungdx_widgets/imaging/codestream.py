"""Image size declared *inside* a compressed DICOM frame (JPEG, JPEG-LS, JPEG 2000).

The DICOM header's Rows/Columns are checked against the pixel limit, but a decoder allocates
what the codestream itself declares. A frame whose codestream disagrees with its header could
make the decoder allocate gigabytes, so the two are compared before decoding.
"""

from __future__ import annotations

import struct

_JPEG_SOI = b"\xff\xd8"
_J2K_SOC_SIZ = b"\xff\x4f\xff\x51"
#: Start-of-frame markers: SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC); F7 is JPEG-LS SOF55.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}
_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD8)) | {0x01}  # RSTn, TEM: no length field
_SEARCH_LIMIT = 1 << 16  # a JP2 box wrapper puts the codestream a little further in


def codestream_size(frame: bytes) -> tuple[int, int] | None:
    """(rows, columns) declared by a JPEG-family frame, or None when it cannot be read."""
    if frame.startswith(_JPEG_SOI):
        return _jpeg_size(frame)
    at = frame.find(_J2K_SOC_SIZ, 0, _SEARCH_LIMIT)
    if at >= 0 and len(frame) >= at + 24:
        # SIZ: Lsiz, Rsiz (2 bytes each), then Xsiz, Ysiz, XOsiz, YOsiz (4 bytes each).
        xsiz, ysiz, xo, yo = struct.unpack(">IIII", frame[at + 8:at + 24])
        return ysiz - yo, xsiz - xo
    return None


def _jpeg_size(frame: bytes) -> tuple[int, int] | None:
    offset = 2
    while offset + 4 <= len(frame):
        if frame[offset] != 0xFF:
            return None
        marker = frame[offset + 1]
        if marker == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        if marker in _STANDALONE_MARKERS:
            offset += 2
            continue
        if marker in _SOF_MARKERS:
            if offset + 9 > len(frame):
                return None
            height, width = struct.unpack(">HH", frame[offset + 5:offset + 9])
            return height, width
        offset += 2 + struct.unpack(">H", frame[offset + 2:offset + 4])[0]
    return None
