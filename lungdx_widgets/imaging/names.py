"""Uploaded file names are untrusted text: keep them only as a short, printable label.

A browser, a USB stick or a hostile client can send names with folders (``../../x``, ``C:\\x``),
NUL or control characters, or bytes that are not UTF-8 (Linux hands those to Python as lone
surrogates, which SQLite refuses to store). Images are stored by content hash, so a name is
never a path; this makes sure it cannot be mistaken for one in messages, exports or the database.
"""

from __future__ import annotations

import unicodedata

#: Longest label kept (most file systems allow 255 bytes in one name).
MAX_NAME_CHARS = 128
_SEPARATORS = ("/", "\\")


def display_filename(name: str | bytes | None) -> str:
    """The last path component of ``name``, printable, at most ``MAX_NAME_CHARS``; ``""`` if nothing is left."""
    if name is None:
        return ""
    text = bytes(name).decode("utf-8", "replace") if isinstance(name, (bytes, bytearray)) else str(name)
    for sep in _SEPARATORS:
        text = text.rsplit(sep, 1)[-1]
    text = "".join(_printable(ch) for ch in text)
    text = text.strip().lstrip(".")  # "..", ".hidden": never a relative path or a dot-file
    return text[:MAX_NAME_CHARS]


def _printable(ch: str) -> str:
    """Undecodable bytes (lone surrogates) become U+FFFD; NUL and other control characters go."""
    kind = unicodedata.category(ch)
    if kind == "Cs":
        return "\ufffd"
    return "" if kind[0] == "C" else ch
