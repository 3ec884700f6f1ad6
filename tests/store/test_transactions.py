"""All-or-nothing writes: rollback on error, no stray image files, and a kill -9 mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from lungdx_widgets.store import open_store

from .conftest import load


def _count(store, table: str) -> int:
    return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_failure_inside_a_transaction_leaves_nothing(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_patient("P1", "Ada Quillfeather", actor="clerk")
            store.add_encounter("P1", "clerk", "2024-01-01", "Cough")
            store.add_allergy("P1", "clerk", "Penicillin", "drug")
            raise RuntimeError("power cut")
    assert [_count(store, t) for t in ("patients", "encounters", "allergies", "audit_log")] == [0, 0, 0, 0]
    assert store.search_patients("quill") == []  # the FTS index rolled back too


def test_rolled_back_study_leaves_no_image_file(store, png_files, private_image_store):
    radiograph, data = load(png_files[0])
    store.add_patient("P1", "Ada Quillfeather")
    with pytest.raises(RuntimeError):
        with store.transaction():
            study = store.add_study("P1", radiograph, data, "dr-a")
            assert store.study_image_path(study).read_bytes() == data
            raise RuntimeError("later step failed")
    assert not store.study_image_path(study).exists()
    assert _count(store, "studies") == 0


REFUSE_ADD_STUDY_AUDIT = {
    "sqlite": ["CREATE TEMP TRIGGER refuse AFTER INSERT ON audit_log WHEN new.action = 'add_study' "
               "BEGIN SELECT RAISE(ABORT, 'disk says no'); END"],
    "postgresql": ["CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                   "'BEGIN RAISE EXCEPTION ''disk says no''; END'",
                   "CREATE TRIGGER refuse AFTER INSERT ON audit_log FOR EACH ROW "
                   "WHEN (new.action = 'add_study') EXECUTE FUNCTION refuse()"],
}


def test_failing_audit_write_removes_the_new_image(store, backend, png_files, private_image_store):
    radiograph, data = load(png_files[1])
    store.add_patient("P1", "Ada Quillfeather")
    for statement in REFUSE_ADD_STUDY_AUDIT[backend]:
        store.conn.execute(statement)
    with pytest.raises(Exception, match="disk says no"):
        store.add_study("P1", radiograph, data, "dr-a")
    assert _count(store, "studies") == 0
    assert private_image_store.is_dir()  # the file had been written...
    assert [p for p in private_image_store.rglob("*") if p.is_file()] == []  # ...and was removed, temp file too


WRITER = textwrap.dedent("""
    import os, sys
    from lungdx_widgets.store import open_store
    store = open_store(sys.argv[1])
    for i in range(5):
        store.add_patient(f"BASE-{i}", f"Committed Person{i}", actor="writer")
    print("wal", os.path.getsize(sys.argv[1] + "-wal"), flush=True)
    store.conn.execute("PRAGMA cache_size = 20")  # spill uncommitted pages into the WAL early
    with store.transaction():
        for i in range(10**7):
            store.add_patient(f"BATCH-{i:07d}", f"Batch Person{i} " + "x" * 200, actor="writer")
            store.add_note(f"BATCH-{i:07d}", "writer", "y" * 500)
            if i == 3000:
                print("mid-batch", flush=True)
""")


def test_kill_9_mid_batch_leaves_a_consistent_database(tmp_path):
    path = tmp_path / "killed.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        wal_after_base = int(proc.stdout.readline().split()[1])
        assert proc.stdout.readline().strip() == "mid-batch"
        wal_at_kill = os.path.getsize(f"{path}-wal")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert wal_at_kill > wal_after_base  # the batch had reached the disk, uncommitted

    with open_store(path) as s:
        assert s.integrity_check() == "ok"
        assert s.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert [_count(s, t) for t in ("patients", "notes")] == [5, 0]
        assert s.conn.execute("SELECT count(*) FROM audit_log WHERE object LIKE 'patient:BATCH%'").fetchone()[0] == 0
        assert len(s.search_patients("committed")) == 5 and s.search_patients("batch") == []
        s.add_patient("AFTER", "Writes Still Work")  # no lock left behind
        assert s.has_patient("AFTER")
