"""Audit analysts' and admins' reads of patient data through the server's file routes.

``/files/…``, ``/voila/files/…`` and ``/api/contents/…`` (with content) serve any file below
the server root, including the database and the image store (DICOM headers name the patient).
Those requests bypass the store, so the store cannot audit them: the server writes one
``read_file`` row per request for a path inside a patient-data folder. Reads from analysts'
*kernels* (their code runs as the server's Unix user) cannot be seen here; see SECURITY.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..config import demo_images_for, get_settings, images_for

_FILE_ROUTE = re.compile(r"/(?P<route>files|voila/files|api/contents)/(?P<path>.+)")


def patient_data_dirs(root: Path) -> list[str]:
    """Root-relative folders that hold patient data (``data/`` and wherever the store lives)."""
    s = get_settings()
    dirs = {root / "data", s.db.parent, images_for(s), demo_images_for(s), s.snapshots}
    found = []
    for d in dirs:
        try:
            found.append(d.resolve().relative_to(root.resolve()).as_posix())
        except ValueError:
            continue  # outside the root: not reachable through the file routes
    return sorted(found)


def audited_read(method: str, path: str, content_arg: str | None, data_dirs: list[str]) -> str | None:
    """The root-relative file a request reads from a patient-data folder, else None.

    ``path`` is the canonical request path (see ``routes.canonical_path``); a contents-API GET with
    ``content=0`` only lists metadata and is not a read.
    """
    m = _FILE_ROUTE.fullmatch(path)
    if method not in ("GET", "HEAD") or m is None:
        return None
    if m["route"] == "api/contents" and content_arg == "0":
        return None
    target = m["path"].rstrip("/")
    if any(target == d or target.startswith(d + "/") for d in data_dirs):
        return target
    return None
