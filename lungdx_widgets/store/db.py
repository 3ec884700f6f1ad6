"""Open the database: one connection with the durability pragmas, schema migrated, wrapped as ``Store``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from ..config import get_settings
from .annotations import AnnotationsMixin
from .audit import AuditMixin
from .demographics import DemographicsMixin
from .errors import StoreError
from .pacs import PacsMixin
from .patients import PatientsMixin
from .predictions import PredictionsMixin
from .registry import RegistryMixin
from .schema import MIGRATIONS, apply_migrations
from .search import register_functions
from .studies import StudiesMixin
from .throttle import ThrottleMixin
from .users import UsersMixin

#: Applied to every connection: referential integrity, crash safety, concurrent readers.
PRAGMAS = ("PRAGMA foreign_keys = ON", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
           "PRAGMA busy_timeout = 10000")


def connect(path: Path | str) -> Database:
    """A sqlite-utils Database in autocommit mode (transactions are explicit) with ``PRAGMAS`` set."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(str(path), timeout=10, isolation_level=None, check_same_thread=False)
        for pragma in PRAGMAS:
            conn.execute(pragma)
        register_functions(conn)  # the patient search index's triggers call them
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"Cannot open the database {path}: {exc}.") from exc
    return Database(conn, execute_plugins=False)


class Store(UsersMixin, AuditMixin, PatientsMixin, StudiesMixin, PredictionsMixin, AnnotationsMixin,
            RegistryMixin, ThrottleMixin, DemographicsMixin, PacsMixin):
    """The clinical record store (see ARCHITECTURE.md, "store"): every write is audited, in one transaction."""

    def reopen(self) -> "Store":
        """Another connection to the same database, for a worker thread (connections are not shared
        between threads: one thread's open transaction would be the other's)."""
        return open_store(self.path, migrate=False)

    def schema_version(self) -> list[str]:
        """Applied migration names, in order."""
        return [m.name for m in MIGRATIONS.applied(self.db)]

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    def backup(self, dest: Path | str, actor: str = "system") -> Path:
        """Consistent copy through SQLite's online backup API (safe while others write)."""
        dest = Path(dest)
        if dest.resolve() == self.path.resolve():
            raise StoreError("The backup must go to a different file than the database itself.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(str(dest))
        try:
            with self._lock:
                self.conn.backup(target)
        finally:
            target.close()
        self.audit(actor, "backup", f"file:{dest}")
        return dest


def open_store(path: Path | str | None = None, *, migrate: bool = True) -> Store:
    """Open (creating if needed) and migrate the database at ``path`` (default ``Settings.db``)."""
    path = Path(path) if path else get_settings().db
    store = Store(connect(path), path)
    if migrate:
        try:
            if MIGRATIONS.pending(store.db):
                with store.transaction():  # write lock first: two processes never migrate at once
                    apply_migrations(store.db)
        except sqlite3.DatabaseError as exc:
            store.close()
            raise StoreError(f"Cannot prepare the database {path}: {exc}.") from exc
    return store
