"""History cannot be rewritten from a plain sqlite3 connection with REPLACE (which deletes without
firing DELETE triggers unless ``recursive_triggers`` is on) or an upsert."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lungdx_widgets.store import open_store

REWRITES = {
    "insert or replace": "INSERT OR REPLACE INTO {t} ({cols}) VALUES ({marks})",
    "replace": "REPLACE INTO {t} ({cols}) VALUES ({marks})",
    "upsert": "INSERT INTO {t} ({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET id = excluded.id",
}


def _rewrite(db: Path, table: str, row: dict, how: str, recursive: bool) -> None:
    conn = sqlite3.connect(db)  # plain: none of the store's pragmas
    try:
        if recursive:
            conn.execute("PRAGMA recursive_triggers = ON")
        sql = REWRITES[how].format(t=table, cols=", ".join(row), marks=", ".join("?" for _ in row))
        conn.execute(sql, tuple(row.values()))
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def db_with_history(tmp_path: Path) -> Path:
    db = tmp_path / "h.db"
    with open_store(db) as store:
        store.audit("dr_a", "view", "patient:P1")
    conn = sqlite3.connect(db)  # a sign-off row (foreign keys are off on a plain connection)
    conn.execute("INSERT INTO signoffs (id, study_id, signed_by, signed_at, agreement_json, annotation_version)"
                 " VALUES (7, 1, 'dr_a', '2026-01-01', '{}', 1)")
    conn.commit()
    conn.close()
    return db


@pytest.mark.parametrize("recursive", [False, True])
@pytest.mark.parametrize("how", sorted(REWRITES))
def test_audit_and_signoff_rows_cannot_be_replaced(db_with_history: Path, how: str, recursive: bool):
    with open_store(db_with_history) as store:
        audit_id = store.audit_events(limit=1)[0].id
    forged_audit = {"id": audit_id, "time": "2026-01-01", "actor": "someone_else", "action": "view",
                    "object": "patient:P2", "outcome": "ok", "detail": ""}
    forged_signoff = {"id": 7, "study_id": 1, "signed_by": "dr_b", "signed_at": "2026-01-02",
                      "agreement_json": '{"Pneumonia": false}', "annotation_version": 2}
    for table, row in (("audit_log", forged_audit), ("signoffs", forged_signoff)):
        with pytest.raises(sqlite3.IntegrityError):
            _rewrite(db_with_history, table, row, how, recursive)
    conn = sqlite3.connect(db_with_history)
    assert conn.execute("SELECT actor, object FROM audit_log WHERE id = ?", (audit_id,)).fetchone() == \
        ("dr_a", "patient:P1")
    assert conn.execute("SELECT signed_by, annotation_version FROM signoffs WHERE id = 7").fetchone() == ("dr_a", 1)
    conn.close()


def test_new_rows_still_append(db_with_history: Path):
    with open_store(db_with_history) as store:
        before = len(store.audit_events())
        store.audit("dr_a", "view", "patient:P3")
        assert len(store.audit_events()) == before + 1
