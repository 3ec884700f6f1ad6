"""Clinical record store on SQLite (sqlite-utils) or PostgreSQL (psycopg): patients, studies, predictions, annotations, users, audit.

``open_store(path_or_url)`` returns a :class:`Store`; records are frozen dataclasses (``records.py``),
errors are ``LungDxError`` subclasses (``errors.py``). ``Store``/``open_store`` load lazily:
importing ``store.errors`` or ``store.records`` must not pay for sqlite-utils (it imports pandas).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import Conflict, IdentityMismatch, NotFound, PermissionDenied, ValidationError

if TYPE_CHECKING:
    from .db import Store, open_store

__all__ = ["Store", "open_store", "Conflict", "IdentityMismatch", "NotFound", "PermissionDenied", "ValidationError"]


def __getattr__(name: str):
    if name in ("Store", "open_store"):
        from . import db

        return getattr(db, name)
    raise AttributeError(name)
