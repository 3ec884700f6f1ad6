"""Schema: migrations from empty and from the previous version, pragmas on every connection, foreign keys."""

from __future__ import annotations


import pytest

from lungdx_widgets.store import NotFound, open_store
from lungdx_widgets.store.db import connect
from lungdx_widgets.store.schema import apply_migrations, migration_names

EXPECTED_TABLES = {"users", "audit_log", "patients", "patients_search", "encounters", "allergies", "conditions",
                   "medications", "notes", "studies", "predictions", "triage_overrides", "annotation_sets",
                   "annotations", "signoffs", "snapshots", "model_versions"}


def _tables(store) -> set[str]:
    return {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table')")}


def test_migrations_from_empty_create_every_table_once(tmp_path):
    path = tmp_path / "new.db"
    with open_store(path) as s:
        assert s.schema_version() == migration_names()
        assert EXPECTED_TABLES <= _tables(s)
        assert s.integrity_check() == "ok"
    with open_store(path) as s:  # re-opening applies nothing twice
        assert s.schema_version() == migration_names()
        assert s.conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == len(migration_names())


def test_upgrade_from_previous_version_keeps_data(tmp_path):
    path = tmp_path / "old.db"
    names = migration_names()
    db = connect(path)
    apply_migrations(db, stop_before="0003_model_registry")  # a database from before the model registry
    db.execute("INSERT INTO patients (patient_id, name, created) VALUES ('OLD-1', 'Olga Oldversion', '2020-01-01')")
    assert "model_versions" not in db.table_names()
    db.close()

    with open_store(path) as s:
        assert s.schema_version() == names
        assert [p.patient_id for p in s.search_patients("oldver")] == ["OLD-1"]
        s.register_model("v1", "weights/v1.pt", "0" * 64, actor="test")
        assert s.list_models()[0].status == "candidate"


@pytest.mark.parametrize("pragma, expected", [("foreign_keys", 1), ("journal_mode", "wal"), ("synchronous", 2)])
def test_pragmas_hold_on_every_connection(tmp_path, pragma, expected):
    path = tmp_path / "p.db"
    first, second = open_store(path), open_store(path)
    try:
        for s in (first, second):
            assert s.conn.execute(f"PRAGMA {pragma}").fetchone()[0] == expected
    finally:
        first.close()
        second.close()


def test_foreign_keys_are_enforced(store, integrity_error):
    with pytest.raises(integrity_error, match="(?i)FOREIGN KEY"):
        store.conn.execute("INSERT INTO encounters (patient_id, date, reason) VALUES ('NOBODY', '2024-01-01', 'x')")
    with pytest.raises(integrity_error, match="(?i)FOREIGN KEY"):
        store.conn.execute("INSERT INTO predictions (study_id, model_version, probabilities_json, thresholds_json, "
                           "boxes_json, triage_level, triage_reasons_json, created, created_by) "
                           "VALUES (999, 'm', '{}', '{}', '[]', 'routine', '[]', 'now', 'me')")
    with pytest.raises(NotFound, match="NOBODY"):
        store.add_encounter("NOBODY", "dr-a", "2024-01-01", "Cough")
    assert store.conn.execute("SELECT count(*) FROM encounters").fetchone()[0] == 0
