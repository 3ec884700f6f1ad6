"""The connection every store part shares (SQLite through sqlite-utils, or PostgreSQL) plus the transaction rule.

Each area (users, patients, studies, ...) is a mixin over :class:`StoreBase`, so the single
``Store`` class offers the whole contract while each file keeps one job. What differs between the
two engines is in ``self.dialect`` (``dialect.py``); the SQL of the mixins is shared.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from . import _without_pandas  # noqa: F401  (before sqlite_utils: see that module)
from sqlite_utils import Database  # noqa: E402

from .dialect import SQLITE, Connection, Dialect
from .errors import NotFound


def now_iso() -> str:
    """Local time with its UTC offset, to the second (sorts correctly, readable in the UI)."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class StoreBase:
    """Holds the connection; ``transaction()`` makes a group of writes all-or-nothing."""

    def __init__(self, db: Database | None, path: Path, *, conn: Connection | None = None,
                 dialect: Dialect = SQLITE, url: str = "", target: str = "") -> None:
        """``db``: the SQLite database; on PostgreSQL ``db`` is None and ``conn`` the wrapped connection."""
        self.db = db
        self.path = path
        self.url = url or str(path)  # what the store was opened from, for messages (no password in it)
        #: What ``open_store`` takes to open this database again (the file, or the full URL).
        self.target: Path | str = target or path
        self.dialect = dialect
        self._conn: Connection = conn if conn is not None else db.conn  # type: ignore[union-attr]
        self._lock = threading.RLock()
        self._undo: list[Callable[[], None]] = []
        self._savepoints = 0

    @property
    def conn(self) -> Any:
        """The connection: ``sqlite3.Connection``, or :class:`~.dialect.PgConnection` (same calls)."""
        return self._conn

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:  # the concrete Store, so `with open_store() as store` keeps its type
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator["StoreBase"]:
        """All writes inside commit together or not at all; nested blocks become savepoints.

        The outermost block takes the write lock up front (``BEGIN IMMEDIATE``; on PostgreSQL an
        advisory transaction lock) so two writers never deadlock upgrading a read lock, and a
        read-modify-write (annotation versions) is atomic.
        Side effects outside the database (image files) register an undo with :meth:`on_rollback`.
        """
        with self._lock:
            undo_mark = len(self._undo)
            if self.conn.in_transaction:
                try:
                    with self._savepoint():
                        yield self
                except BaseException:
                    self._run_undo(undo_mark)
                    raise
                return
            for statement in self.dialect.begin:
                self.conn.execute(statement)
            try:
                yield self
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                self._run_undo(0)
                raise
            self._undo.clear()

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        """A nested block: rolled back alone on error (if the error left the transaction alive)."""
        self._savepoints += 1
        name = f"lungdx_sp{self._savepoints}"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:  # a RAISE(ROLLBACK) may have ended the whole transaction
                self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                self.conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        else:
            self.conn.execute(f"RELEASE SAVEPOINT {name}")
        finally:
            self._savepoints -= 1

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Run ``undo`` if the enclosing transaction is rolled back (e.g. delete a file just written)."""
        self._undo.append(undo)

    def _run_undo(self, mark: int) -> None:
        while len(self._undo) > mark:
            self._undo.pop()()

    # -- small query helpers -------------------------------------------------------------
    def _rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, params)
        names = [c[0] for c in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def _row(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _require(self, sql: str, params: Any, what: str) -> dict[str, Any]:
        row = self._row(sql, params)
        if row is None:
            raise NotFound(f"{what} was not found.")
        return row

    def _insert(self, table: str, values: dict[str, Any]) -> int:
        """Insert one row (inside the caller's transaction) and return its id (rowid on SQLite)."""
        return self.dialect.insert(self.conn, table, values)

    # Defined in audit.py; declared here so every mixin can record its writes.
    def audit(self, actor: str, action: str, obj: str, outcome: str = "ok", detail: str = "") -> None:  # pragma: no cover
        raise NotImplementedError

    def audit_listing(self, actor: str, action: str, patient_ids: list[str], detail: str = "") -> None:  # pragma: no cover
        raise NotImplementedError
