"""The store's SQL dialects: SQLite (the embedded default) and PostgreSQL (a department's server).

Why a seam this thin and not SQLAlchemy: the store is hand-written SQL with ``?`` parameters, and
the two engines differ in a handful of places only (placeholders, the id of an inserted row, how a
write transaction takes its lock, case-insensitive order, the search index). Each difference is one
attribute or method of :class:`Dialect`; every query elsewhere stays one string for both engines.
:class:`PgConnection` gives a psycopg connection the ``sqlite3`` calls the store makes
(``execute(sql, params)`` with ``?``, ``executemany``, ``in_transaction``, ``cursor.lastrowid``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any, Protocol

#: Key of the advisory lock every PostgreSQL write transaction takes first (BEGIN IMMEDIATE's twin):
#: writers queue instead of interleaving, so a read-modify-write (annotation version, audit chain) is atomic.
WRITE_LOCK_KEY = 0x1D6D_0C5A


class Connection(Protocol):
    """What the store calls on its connection (``sqlite3.Connection`` has it; :class:`PgConnection` too)."""

    @property
    def in_transaction(self) -> bool: ...
    def execute(self, sql: str, params: Any = ...) -> Any: ...
    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Any: ...
    def close(self) -> None: ...


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """``?`` → ``%s`` and ``%`` → ``%%`` (psycopg's placeholder syntax), leaving string literals' ``?`` alone.

    Cached: the store's statements are a few hundred fixed strings.
    """
    out, quoted = [], False
    for c in sql:
        if c == "'":
            quoted = not quoted  # '' inside a literal toggles twice: still inside
        if c == "%":
            out.append("%%")
        elif c == "?" and not quoted:
            out.append("%s")
        else:
            out.append(c)
    return "".join(out)


class PgCursor:
    """A psycopg cursor with the sqlite3 cursor's ``lastrowid`` (the ``RETURNING id`` value, if any)."""

    def __init__(self, cur: Any, lastrowid: int | None = None) -> None:
        self._cur = cur
        self.lastrowid = lastrowid

    @property
    def description(self) -> Any:
        return self._cur.description

    @property
    def rowcount(self) -> int:
        return int(self._cur.rowcount)

    def fetchone(self) -> Any:
        return self._cur.fetchone() if self._cur.description else None

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall() if self._cur.description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection in autocommit mode (transactions are explicit, as on SQLite) taking ``?`` SQL."""

    def __init__(self, conn: Any) -> None:
        self.raw = conn

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return bool(self.raw.info.transaction_status != TransactionStatus.IDLE)

    def execute(self, sql: str, params: Any = ()) -> PgCursor:
        return PgCursor(self.raw.execute(translate(sql), tuple(params)))

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> PgCursor:
        cur = self.raw.cursor()
        cur.executemany(translate(sql), [tuple(p) for p in seq])
        return PgCursor(cur)

    def close(self) -> None:
        self.raw.close()


class Dialect:
    """SQLite's way; :class:`PostgresDialect` overrides what differs."""

    name = "sqlite"
    #: The statements that open the outermost (write) transaction.
    begin: tuple[str, ...] = ("BEGIN IMMEDIATE",)
    integrity_error: type[Exception] = sqlite3.IntegrityError
    database_error: type[Exception] = sqlite3.DatabaseError

    def nocase(self, column: str) -> str:
        """``column`` as an ORDER BY key that ignores case (each engine's own index serves it)."""
        return f"{column} COLLATE NOCASE"

    def insert(self, conn: Connection, table: str, values: dict[str, Any]) -> int:
        """Insert one row; its rowid (0 where the table has no integer id)."""
        cur = conn.execute(self._insert_sql(table, values), tuple(values.values()))
        return int(cur.lastrowid or 0)

    def _insert_sql(self, table: str, values: dict[str, Any]) -> str:
        return f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)})"

    def search_source(self) -> tuple[str, str]:
        """(FROM ... WHERE clause choosing the candidate index rows, the column joining them to ``patients``)."""
        return "patients_search s WHERE patients_search MATCH ?", "rowid"

    def search_candidates(self, match: str, grams: tuple[str, ...]) -> Any:
        """The parameter of :meth:`search_source`'s placeholder."""
        return match

    def index_patient(self, conn: Connection, patient_id: str, name: str) -> None:
        """Bring one patient's search row up to date (SQLite's triggers already did)."""


class PostgresDialect(Dialect):
    name = "postgresql"
    begin = ("BEGIN", f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")

    def __init__(self) -> None:
        import psycopg

        self.integrity_error = psycopg.errors.IntegrityError
        self.database_error = psycopg.Error

    def nocase(self, column: str) -> str:
        return f"lower({column})"

    def insert(self, conn: Connection, table: str, values: dict[str, Any]) -> int:
        from .schema_pg import IDENTITY_TABLES

        if table not in IDENTITY_TABLES:
            conn.execute(self._insert_sql(table, values), tuple(values.values()))
            return 0
        row = conn.execute(self._insert_sql(table, values) + " RETURNING id", tuple(values.values())).fetchone()
        return int(row[0])

    def search_source(self) -> tuple[str, str]:
        return "patients_search s WHERE s.grams @> ?::text[]", "patient_id"

    def search_candidates(self, match: str, grams: tuple[str, ...]) -> Any:
        return list(grams)

    def index_patient(self, conn: Connection, patient_id: str, name: str) -> None:
        """PostgreSQL cannot call the Python key functions from a trigger: the store writes the row itself."""
        from .search import index_row

        row = index_row(patient_id, name)
        conn.execute("INSERT INTO patients_search (patient_id, grams, name_key, mrn_key, initials) "
                     "VALUES (?, ?, ?, ?, ?) ON CONFLICT (patient_id) DO UPDATE SET grams = excluded.grams, "
                     "name_key = excluded.name_key, mrn_key = excluded.mrn_key, initials = excluded.initials",
                     (patient_id, *row))


SQLITE = Dialect()
