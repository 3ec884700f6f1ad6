"""Open the database: one connection (SQLite with the durability pragmas, or PostgreSQL), schema migrated, as ``Store``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from . import _without_pandas  # noqa: F401  (before sqlite_utils: see that module)
from sqlite_utils import Database  # noqa: E402

from ..config import get_settings, is_postgres_url
from .dialect import PgConnection, PostgresDialect
from .annotations import AnnotationsMixin
from .audit import AuditMixin
from .demographics import DemographicsMixin
from .errors import StoreError
from .pacs import PacsMixin
from .patients import PatientsMixin
from .predictions import PredictionsMixin
from .model_versions import RegistryMixin
from .schema import MIGRATIONS, apply_migrations
from .schema_pg import PG_MIGRATIONS
from .search import index_row, register_functions
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


def connect_pg(url: str) -> PgConnection:
    """A psycopg connection in autocommit mode (transactions are explicit, as on SQLite)."""
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise StoreError(f"Cannot open the database {redact(url)}: {str(exc).strip()}.") from exc
    return PgConnection(conn)


def redact(url: str) -> str:
    """The URL without its password, for messages and the audit log."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as its scheme only
        return url.split("://", 1)[0] + "://…"
    return f"postgresql://{parts.get('user', '')}@{parts.get('host', '')}/{parts.get('dbname', '')}"


class Store(UsersMixin, AuditMixin, PatientsMixin, StudiesMixin, PredictionsMixin, AnnotationsMixin,
            RegistryMixin, ThrottleMixin, DemographicsMixin, PacsMixin):
    """The clinical record store (see ARCHITECTURE.md, "store"): every write is audited, in one transaction."""

    def reopen(self) -> "Store":
        """Another connection to the same database, for a worker thread (connections are not shared
        between threads: one thread's open transaction would be the other's)."""
        return open_store(self.target, migrate=False)

    def schema_version(self) -> list[str]:
        """Applied migration names, in order."""
        if self.db is None:
            return PG_MIGRATIONS.applied(self.conn)
        return [m.name for m in MIGRATIONS.applied(self.db)]

    def integrity_check(self) -> str:
        """"ok" or what is wrong. PostgreSQL checks its own pages; the store checks every row is reachable
        and every foreign key holds (a cheap scan, the closest twin of SQLite's ``PRAGMA integrity_check``)."""
        if self.db is not None:
            return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])
        missing = self.conn.execute("SELECT count(*) FROM patients p WHERE NOT EXISTS "
                                    "(SELECT 1 FROM patients_search s WHERE s.patient_id = p.patient_id)").fetchone()[0]
        return "ok" if missing == 0 else f"{missing} patients are missing from the search index (run reindex_search)"

    def reindex_search(self) -> int:
        """Write the search row of every patient that lacks one (PostgreSQL: after a bulk load or a copy).

        On SQLite the index triggers keep it current: nothing to do. Returns the rows written.
        """
        if self.db is not None:
            return 0
        with self.transaction():
            rows = self.conn.execute("SELECT patient_id, name FROM patients p WHERE NOT EXISTS "
                                     "(SELECT 1 FROM patients_search s WHERE s.patient_id = p.patient_id)").fetchall()
            self.conn.executemany("INSERT INTO patients_search (patient_id, grams, name_key, mrn_key, initials) "
                                  "VALUES (?, ?, ?, ?, ?)", [(mrn, *index_row(mrn, name)) for mrn, name in rows])
        return len(rows)

    def backup(self, dest: Path | str, actor: str = "system") -> Path:
        """Consistent copy through SQLite's online backup API (safe while others write)."""
        if self.db is None:
            raise StoreError("A PostgreSQL store is backed up with PostgreSQL's own tools: "
                             f"pg_dump --format=custom --file={dest} <database URL> (consistent while others write).")
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
    """Open (creating if needed) and migrate the database at ``path`` (default ``Settings.db``).

    ``path``: a SQLite file (a path or ``sqlite:///path``) or a ``postgresql://`` URL (an existing database).
    """
    target = str(path) if path else str(get_settings().store_target)
    if is_postgres_url(target):
        store = Store(None, Path(), conn=connect_pg(target), dialect=PostgresDialect(), url=redact(target),
                      target=target)
    else:
        path = Path(target.removeprefix("sqlite:///"))  # SQLAlchemy's form: sqlite:////abs, sqlite:///rel
        store = Store(connect(path), path)
    if migrate:
        try:
            _migrate(store)
        except store.dialect.database_error as exc:
            store.close()
            raise StoreError(f"Cannot prepare the database {store.url}: {str(exc).strip()}.") from exc
    return store


def _migrate(store: Store) -> None:
    """Apply pending migrations under the write lock: two processes never migrate at once."""
    if store.db is None:
        if PG_MIGRATIONS.pending(store.conn):
            with store.transaction():
                PG_MIGRATIONS.apply(store.conn)
    elif MIGRATIONS.pending(store.db):
        with store.transaction():
            apply_migrations(store.db)
