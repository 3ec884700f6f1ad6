"""The one entry point from uploaded bytes to a :class:`~lungdx_widgets.types.Radiograph`."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import replace
from pathlib import Path

from PIL import Image

from ..config import get_settings
from ..types import Radiograph
from .dicom import read_dicom
from .errors import CorruptFile, ImageTooLarge, ImagingError, describe
from .plausibility import plausibility_warnings
from .raster import read_raster
from .sniff import sniff


def load_image(src: bytes | bytearray | memoryview | str | Path, *, filename: str | None = None) -> Radiograph:
    """Read a DICOM, PNG or JPEG chest radiograph, or raise an :class:`ImagingError` saying why not.

    The format comes from the content, never from ``filename`` (which only names the file in
    messages). Pixels are float32 in [0, 1] with bones bright; doubtful images carry warnings.
    """
    data, filename = _read_source(src, filename)
    who = describe(filename)
    _check_upload_size(len(data), who)
    if not data:
        raise CorruptFile(f"{who} is empty.")
    kind = sniff(data, filename)
    sha256 = hashlib.sha256(data).hexdigest()
    with warnings.catch_warnings():
        # Decoders warn about oddities (reported to the user as errors or warnings instead);
        # Pillow's decompression-bomb warning must stop decoding, so it becomes an exception.
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        radiograph = read_dicom(data, sha256, who) if kind == "dicom" else read_raster(data, kind, sha256, who)
    return replace(radiograph, warnings=radiograph.warnings + plausibility_warnings(radiograph.pixels))


def _read_source(src: bytes | bytearray | memoryview | str | Path, filename: str | None) -> tuple[bytes, str | None]:
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src), filename
    path = Path(src)
    return read_file(path, filename or path.name), filename or path.name


def read_file(path: Path, name: str | None = None) -> bytes:
    """A file's bytes, refused (without reading it) when larger than ``Settings.max_upload_bytes``."""
    who = describe(name or path.name)
    try:
        _check_upload_size(path.stat().st_size, who)
        return path.read_bytes()
    except OSError as exc:
        raise ImagingError(f"Could not read {who}: {exc.strerror or exc}.") from exc


def _check_upload_size(size: int, who: str) -> None:
    limit = get_settings().max_upload_bytes
    if size > limit:
        raise ImageTooLarge(f"{who} is {size / 2**20:.1f} MiB, above the upload limit of {limit / 2**20:.0f} MiB.")
