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


def _drop_triggers(db: Path) -> sqlite3.Connection:
    """What someone with write access to the file can always do."""
    conn = sqlite3.connect(db)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"):
        conn.execute(f"DROP TRIGGER {name}")
    return conn


@pytest.mark.parametrize("tamper,problem", [
    ("UPDATE audit_log SET actor = 'someone_else' WHERE id = {first}", "audit row {first}: changed"),
    ("DELETE FROM audit_log WHERE id = {first}", "audit row {first}: deleted"),
    ("INSERT INTO audit_log (time, actor, action, object) VALUES ('t', 'ghost', 'view', 'patient:P9')",
     "not in the chain"),
])
def test_audit_verify_finds_rows_changed_deleted_or_added_around_the_store(tmp_path: Path, tamper: str, problem: str):
    from lungdx_widgets.cli import main

    db = tmp_path / "chain.db"
    with open_store(db) as store:
        for i in range(3):
            store.audit("dr_a", "view", f"patient:P{i}")
        first = store.audit_events(limit=10)[-1].id
        assert store.verify_audit().ok and store.verify_audit().checked == 3
    assert main(["audit", "verify", "--db", str(db)]) == 0
    conn = _drop_triggers(db)
    conn.execute(tamper.format(first=first))
    conn.commit()
    conn.close()
    with open_store(db) as store:
        result = store.verify_audit()
    assert not result.ok and any(problem.format(first=first) in p for p in result.problems)
    assert main(["audit", "verify", "--db", str(db)]) == 1


def test_rows_written_before_the_chain_existed_are_chained_by_its_migration(tmp_path: Path):
    from lungdx_widgets.store.db import connect
    from lungdx_widgets.store.schema import apply_migrations

    db = tmp_path / "old.db"
    old = connect(db)
    apply_migrations(old, stop_before="0005_security_audit_chain")
    old.conn.execute("INSERT INTO audit_log (time, actor, action, object) VALUES ('t', 'dr_old', 'view', 'patient:P1')")
    old.close()
    with open_store(db) as store:  # migrates: the old row joins the chain
        store.audit("dr_new", "view", "patient:P2")
        assert store.verify_audit().ok and store.verify_audit().checked == 2
