"""Imaging I/O: uploaded bytes → :class:`~lungdx_widgets.types.Radiograph`, or a clear refusal."""

from .errors import CorruptFile, ImageTooLarge, ImageTooSmall, ImagingError, NotAChestRadiograph, UnsupportedFile
from .identity import check_identity
from .load import load_image

__all__ = ["load_image", "check_identity", "ImagingError", "UnsupportedFile", "CorruptFile",
           "NotAChestRadiograph", "ImageTooLarge", "ImageTooSmall"]
