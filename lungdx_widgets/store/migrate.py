"""``lungdx migrate-store``: copy a whole store from SQLite to PostgreSQL, verified, and safe to run again.

The target is opened (and so migrated) like any store; both must be at the same schema version.
Every table is copied in creation order (which is dependency order: a table is created after the
tables it references) with its ids, in ONE transaction on the target holding the store's write
lock, then the identity sequences are moved past the copied ids, the search index is built (its
keys are computed in Python), and row counts and per-table checksums of source and target are
compared before the commit: a copy that does not match is rolled back, never left half-done.
The target's own triggers are off for the copy only (``DISABLE TRIGGER USER``, inside the transaction,
so a failed copy leaves them on): the rows were checked when they were first written, and an older
database may hold what a later rule refuses (two sign-offs of one version, from before the one-sign-off
trigger); foreign keys stay enforced. A second run against a target that already matches reports "already complete";
a target holding other data is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import is_postgres_url
from .db import Store, open_store
from .errors import StoreError

#: SQLite tables that are not data: migration bookkeeping, and the FTS5 index (rebuilt on the target).
_NOT_COPIED_PREFIXES = ("sqlite_", "_sqlite_", "patients_search")


@dataclass(frozen=True)
class TableResult:
    table: str
    source_rows: int
    target_rows: int
    source_sha256: str
    target_sha256: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_sha256 == self.target_sha256


@dataclass
class CopyReport:
    status: str  # "copied" | "already complete"
    tables: list[TableResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)

    def lines(self) -> list[str]:
        rows = [f"{t.table:<20} {t.source_rows:>8} {t.target_rows:>8}  {t.target_sha256[:16]}  "
                f"{'ok' if t.ok else 'MISMATCH'}" for t in self.tables]
        return [f"{'table':<20} {'source':>8} {'target':>8}  {'sha256':<16}", *rows,
                f"{len(self.tables)} tables, {sum(t.target_rows for t in self.tables)} rows: {self.status}"]


def source_tables(store: Store) -> list[str]:
    """The SQLite store's data tables in creation (= dependency) order."""
    names = [r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")]
    return [n for n in names if not n.startswith(_NOT_COPIED_PREFIXES)]


def _columns(store: Store, table: str) -> list[str]:
    if store.db is not None:
        return [r[1] for r in store.conn.execute(f"PRAGMA table_info({table})")]
    return [r[0] for r in store.conn.execute("SELECT column_name FROM information_schema.columns WHERE "
                                             "table_schema = current_schema() AND table_name = ? "
                                             "ORDER BY ordinal_position", (table,))]


def _copied_columns(source: Store, target: Store, table: str) -> list[str]:
    """The source's columns, plus SQLite's implicit ``rowid`` where the PostgreSQL table spells it out."""
    cols = _columns(source, table)
    return cols + ["rowid"] if "rowid" in _columns(target, table) and "rowid" not in cols else cols


def table_digest(store: Store, table: str, columns: list[str]) -> tuple[int, str]:
    """(rows, SHA-256 over the rows' JSON sorted): the same on both engines for the same content."""
    rows = store.conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
    lines = sorted(json.dumps(list(r), ensure_ascii=False, separators=(",", ":")) for r in rows)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode() + b"\n")
    return len(lines), digest.hexdigest()


def compare(source: Store, target: Store, tables: list[str]) -> list[TableResult]:
    results = []
    for table in tables:
        cols = _copied_columns(source, target, table)
        (n_src, h_src), (n_dst, h_dst) = table_digest(source, table, cols), table_digest(target, table, cols)
        results.append(TableResult(table, n_src, n_dst, h_src, h_dst))
    return results


def _copy_table(source: Store, target: Store, table: str) -> None:
    cols = _copied_columns(source, target, table)
    cur = source.conn.execute(f"SELECT {', '.join(cols)} FROM {table}")
    target.conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    with target.conn.raw.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
        for batch in iter(lambda: cur.fetchmany(5000), []):
            for values in batch:
                copy.write_row(values)
    target.conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def _advance_identities(target: Store, table: str) -> None:
    """Identity sequences continue after the copied ids (else the next insert would collide)."""
    idents = target.conn.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                 "current_schema() AND table_name = ? AND is_identity = 'YES'", (table,)).fetchall()
    for (column,) in idents:
        target.conn.execute(f"SELECT setval(pg_get_serial_sequence(?, ?), max({column})) FROM {table} "
                            f"HAVING max({column}) IS NOT NULL", (table, column))


def copy_store(source_url: str | Path, target_url: str, progress: Callable[[str], Any] = lambda _: None) -> CopyReport:
    """Copy the SQLite store at ``source_url`` into the PostgreSQL database ``target_url`` (see the module doc)."""
    src_target = str(source_url)
    if is_postgres_url(src_target) or not is_postgres_url(target_url):
        raise StoreError("migrate-store copies a SQLite store (--from a path or sqlite:///path) "
                         "into PostgreSQL (--to postgresql://...).")
    if not Path(src_target.removeprefix("sqlite:///")).is_file():
        raise StoreError(f"There is no SQLite store at {src_target}.")
    with open_store(source_url) as source, open_store(target_url) as target:
        if source.schema_version() != target.schema_version():
            raise StoreError("The two stores are at different schema versions; update the software on both.")
        tables = source_tables(source)
        counts = {t: int(target.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}
        if any(counts.values()):
            results = compare(source, target, tables)
            if all(r.ok for r in results):
                return CopyReport("already complete", results)
            filled = ", ".join(f"{t} ({n})" for t, n in counts.items() if n)
            raise StoreError(f"{target.url} already holds other data ({filled}); "
                             "migrate into an empty database.")
        with target.transaction():  # all tables or none; the write lock keeps the app out meanwhile
            for table in tables:
                progress(f"copying {table}")
                _copy_table(source, target, table)
                _advance_identities(target, table)
            target.reindex_search()
            results = compare(source, target, tables)
            if not all(r.ok for r in results):
                bad = ", ".join(r.table for r in results if not r.ok)
                raise StoreError(f"The copy does not match the source ({bad}); nothing was written.")
        return CopyReport("copied", results)
