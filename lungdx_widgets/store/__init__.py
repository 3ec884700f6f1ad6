"""Clinical record store on SQLite (sqlite-utils): patients, studies, predictions, annotations, users, audit.

``open_store(path)`` returns a :class:`Store`; records are frozen dataclasses (``records.py``),
errors are ``LungDxError`` subclasses (``errors.py``).
"""

from .db import Store, open_store
from .errors import Conflict, IdentityMismatch, NotFound, PermissionDenied, ValidationError

__all__ = ["Store", "open_store", "Conflict", "IdentityMismatch", "NotFound", "PermissionDenied", "ValidationError"]
