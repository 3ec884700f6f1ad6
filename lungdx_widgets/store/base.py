"""The connection every store part shares: one sqlite-utils Database plus the transaction rule.

Each area (users, patients, studies, ...) is a mixin over :class:`StoreBase`, so the single
``Store`` class offers the whole contract while each file keeps one job.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from sqlite_utils import Database

from .errors import NotFound


def now_iso() -> str:
    """Local time with its UTC offset, to the second (sorts correctly, readable in the UI)."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class StoreBase:
    """Holds the connection; ``transaction()`` makes a group of writes all-or-nothing."""

    def __init__(self, db: Database, path: Path) -> None:
        self.db = db
        self.path = path
        self._lock = threading.RLock()
        self._undo: list[Callable[[], None]] = []

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:  # the concrete Store, so `with open_store() as store` keeps its type
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator["StoreBase"]:
        """All writes inside commit together or not at all; nested blocks become savepoints.

        The outermost block takes the write lock up front (``BEGIN IMMEDIATE``) so two writers
        never deadlock upgrading a read lock, and a read-modify-write (annotation versions) is atomic.
        Side effects outside the database (image files) register an undo with :meth:`on_rollback`.
        """
        with self._lock:
            undo_mark = len(self._undo)
            if self.conn.in_transaction:
                try:
                    with self.db.atomic():
                        yield self
                except BaseException:
                    self._run_undo(undo_mark)
                    raise
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                self._run_undo(0)
                raise
            self._undo.clear()

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
        """Insert one row (inside the caller's transaction) and return its rowid."""
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cur = self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values()))
        return int(cur.lastrowid)  # type: ignore[arg-type]

    # Defined in audit.py; declared here so every mixin can record its writes.
    def audit(self, actor: str, action: str, obj: str, outcome: str = "ok", detail: str = "") -> None:  # pragma: no cover
        raise NotImplementedError

    def audit_listing(self, actor: str, action: str, patient_ids: list[str], detail: str = "") -> None:  # pragma: no cover
        raise NotImplementedError
