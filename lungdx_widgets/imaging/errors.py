"""Why an uploaded file was refused, in words a clinician understands.

Every failure of :func:`~lungdx_widgets.imaging.load_image` is one of these classes; decoder
exceptions (pydicom, Pillow, the JPEG/JPEG 2000 plug-ins) are translated by
:func:`decoder_errors` so nothing else escapes to the UI or the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import LungDxError
from .names import display_filename


class ImagingError(LungDxError):
    """The file could not be turned into a chest radiograph."""


class UnsupportedFile(ImagingError):
    """Not a format the workbench reads (or a compression it cannot decode)."""


class CorruptFile(ImagingError):
    """The format is recognised but the content is damaged or incomplete."""


class NotAChestRadiograph(ImagingError):
    """A readable image that is not a single-frame projection radiograph (CT, MR, cine, ...)."""


class ImageTooLarge(ImagingError):
    """More pixels (or bytes) than the configured limit; refused before decoding."""


class ImageTooSmall(ImagingError):
    """Too few pixels for a diagnostic read."""


def describe(filename: str | None) -> str:
    """``"'name.dcm'"`` or ``"The file"``: how messages refer to the upload."""
    name = display_filename(filename)
    return f"'{name}'" if name else "The file"


@contextmanager
def decoder_errors(message: str, error: type[ImagingError] = CorruptFile) -> Iterator[None]:
    """Run third-party decoding code; any exception it raises becomes ``error(message)``.

    Decoders fail on hostile input with arbitrary exception types (ValueError, struct.error,
    KeyError, MemoryError, ...), so a broad catch is the point here. Our own typed errors pass.
    """
    try:
        yield
    except ImagingError:
        raise
    except Exception as exc:  # noqa: BLE001 - translating foreign failures is this function's job
        raise error(message) from exc
