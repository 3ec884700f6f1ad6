"""PostgreSQL's own mechanics: migrations by the same names, the write lock, raw rewrites refused,
a killed writer, URLs in settings, and ``migrate-store`` from a real SQLite store."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest

from lungdx_widgets.store import open_store
from lungdx_widgets.store.dialect import PgConnection, translate
from lungdx_widgets.store.errors import StoreError
from lungdx_widgets.store.schema import migration_names
from lungdx_widgets.store.schema_pg import PG_MIGRATIONS, pg_migration_names

from .test_schema import EXPECTED_TABLES


def _plain(url: str) -> PgConnection:
    return PgConnection(psycopg.connect(url, autocommit=True))


def test_the_two_engines_have_the_same_migrations_in_the_same_order():
    assert pg_migration_names() == migration_names()


def test_placeholders_are_translated_outside_string_literals():
    assert translate("SELECT ? , '?', 'it''s ?', x LIKE 'a%' WHERE y = ?") == \
        "SELECT %s , '?', 'it''s ?', x LIKE 'a%%' WHERE y = %s"


def test_migrations_from_an_empty_database(pg_cluster):
    url = pg_cluster.create_database(template="template0")
    try:
        with open_store(url) as s:
            assert s.schema_version() == migration_names()
            tables = {r[0] for r in s.conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
            assert EXPECTED_TABLES <= tables
            assert s.integrity_check() == "ok"
        with open_store(url) as s:  # re-opening applies nothing twice
            assert s.conn.execute("SELECT count(*) FROM lungdx_migrations").fetchone()[0] == len(migration_names())
    finally:
        pg_cluster.drop_database(url)


def test_upgrade_from_a_previous_version_keeps_and_indexes_data(pg_cluster):
    url = pg_cluster.create_database(template="template0")
    try:
        conn = _plain(url)
        PG_MIGRATIONS.apply(conn, stop_before="0003_model_registry")
        conn.execute("INSERT INTO patients (patient_id, name, created) VALUES ('OLD-1', '정하늘', '2020-01-01')")
        conn.close()
        with open_store(url) as s:
            assert s.schema_version() == migration_names()
            assert [p.patient_id for p in s.search_patients("하늘")] == ["OLD-1"]
            assert [p.patient_id for p in s.search_patients("ㅈㅎㄴ")] == ["OLD-1"]
            s.register_model("v1", "weights/v1.pt", "0" * 64, actor="test")
    finally:
        pg_cluster.drop_database(url)


@pytest.mark.parametrize("sql", [
    "INSERT INTO audit_log (id, time, actor, action, object) VALUES ({id}, 't', 'x', 'view', 'p') "
    "ON CONFLICT (id) DO UPDATE SET actor = excluded.actor",
    "INSERT INTO audit_log (id, time, actor, action, object) VALUES ({id}, 't', 'x', 'view', 'p')",
    "UPDATE audit_log SET actor = 'x'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log CASCADE",
    "DELETE FROM audit_chain",
])
def test_history_cannot_be_rewritten_from_a_plain_connection(pg_url, sql):
    with open_store(pg_url) as store:
        store.audit("dr_a", "view", "patient:P1")
        first = store.audit_events(limit=1)[0]
    raw = _plain(pg_url)
    try:
        with pytest.raises(psycopg.errors.IntegrityError):
            raw.execute(sql.format(id=first.id))
    finally:
        raw.close()
    with open_store(pg_url) as store:
        assert store.audit_events(limit=5) == [first] and store.verify_audit().ok


def test_writers_queue_on_the_write_lock(pg_url):
    """BEGIN IMMEDIATE's twin: a second writer waits for the first to commit (no interleaving)."""
    first, second = open_store(pg_url), open_store(pg_url)
    order: list[str] = []
    try:
        with first.transaction():
            worker = threading.Thread(target=lambda: (second.add_patient("P2", "Second Writer"), order.append("2")))
            worker.start()
            time.sleep(0.5)
            assert worker.is_alive() and not first.has_patient("P2")  # blocked on the lock
            first.add_patient("P1", "First Writer")
            order.append("1")
        worker.join(timeout=30)
        assert order == ["1", "2"] and second.count_patients() == 2
    finally:
        first.close()
        second.close()


WRITER = textwrap.dedent("""
    import sys
    from lungdx_widgets.store import open_store
    store = open_store(sys.argv[1])
    store.add_patient("BASE-1", "Committed Person", actor="writer")
    with store.transaction():
        for i in range(10**7):
            store.add_patient(f"BATCH-{i:07d}", f"Batch Person{i}", actor="writer")
            if i == 300:
                print("mid-batch", flush=True)
""")


def test_killed_writer_leaves_nothing_and_no_lock(pg_url):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, pg_url], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "mid-batch"
    finally:
        proc.kill()
        proc.wait(timeout=30)
    with open_store(pg_url) as s:
        assert s.count_patients() == 1 and s.search_patients("batch") == []
        s.add_patient("AFTER", "Writes Still Work")  # the advisory lock died with its session
        assert s.has_patient("AFTER") and s.verify_audit().ok


def test_urls_in_settings_and_clear_errors(pg_url, monkeypatch):
    from lungdx_widgets.config import get_settings, load_settings

    settings = load_settings({"LUNGDX_DB": pg_url})
    assert settings.db_url == pg_url and settings.store_target == pg_url
    assert load_settings({"LUNGDX_DB": "sqlite:////tmp/x/lungdx.db"}).store_target == Path("/tmp/x/lungdx.db")
    monkeypatch.setenv("LUNGDX_DB", pg_url)
    get_settings.cache_clear()
    try:
        with open_store() as s:
            assert s.dialect.name == "postgresql"
            with pytest.raises(StoreError, match="pg_dump"):
                s.backup("/tmp/never-written.dump")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    with pytest.raises(StoreError, match="Cannot open") as exc:
        open_store(pg_url.replace("/test_", "/missing_").replace("lungdx@", "lungdx:s3cret@"))
    assert "s3cret" not in str(exc.value)


def _lungdx(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lungdx_widgets.cli", *args], capture_output=True, text=True,
                          timeout=600)


def test_migrate_store_copies_the_demo_database_exactly_and_reruns(demo_db, pg_cluster, tmp_path):
    import shutil

    source = tmp_path / "demo-copy.db"
    shutil.copy(demo_db, source)
    url = pg_cluster.create_database(template="template0")
    try:
        first = _lungdx("migrate-store", "--from", f"sqlite:///{source}", "--to", url)
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip().endswith(": copied") and "MISMATCH" not in first.stdout
        again = _lungdx("migrate-store", "--from", str(source), "--to", url)
        assert again.returncode == 0 and again.stdout.strip().endswith(": already complete"), again.stderr
        with open_store(source) as lite, open_store(url) as pg:
            for table in ("patients", "studies", "predictions", "audit_log", "users"):
                rows = f"SELECT count(*) FROM {table}"
                assert lite.conn.execute(rows).fetchone()[0] == pg.conn.execute(rows).fetchone()[0] > 0
            assert pg.verify_audit().ok and pg.verify_audit().checked == lite.verify_audit().checked
            assert pg.integrity_check() == "ok"
            patient = lite.search_patients("")[0]
            assert pg.get_patient(patient.patient_id) == patient
            for query in (patient.name.split()[-1][:3], patient.patient_id):
                assert [p.patient_id for p in pg.search_patients(query)] == \
                    [p.patient_id for p in lite.search_patients(query)]
            study = lite.studies_for_patient(patient.patient_id)[0]
            assert pg.get_study(study.id) == study
            lite.add_patient("NEW-1", "Added Later")  # the source moved on: the target is not overwritten
            pg.add_patient("PG-1", "Written On Postgres")  # ids continue after the copied ones
            assert pg.audit_events(limit=1)[0].id == lite.audit_events(limit=1)[0].id
        third = _lungdx("migrate-store", "--from", str(source), "--to", url)
        assert third.returncode != 0 and "already holds other data" in third.stderr
    finally:
        pg_cluster.drop_database(url)


def test_the_command_line_on_postgresql(pg_url):
    """``--db postgresql://…`` on the commands: a demo database built twice (nothing added twice), search, users."""
    done = _lungdx("init", "--demo", "--demo-patients", "4", "--no-analyze", "--db", pg_url)
    assert done.returncode == 0, done.stderr
    with open_store(pg_url) as s:
        counts = [s.count_patients(), len(s.list_users()), len(s.audit_events(limit=10_000))]
        assert counts[0] >= 4 and counts[1] == 3 and s.verify_audit().ok
    assert _lungdx("init", "--demo", "--demo-patients", "4", "--no-analyze", "--db", pg_url).returncode == 0
    with open_store(pg_url) as s:
        assert [s.count_patients(), len(s.list_users())] == counts[:2]
    found = _lungdx("patients", "search", "DEMO-000", "--json", "--db", pg_url)
    assert found.returncode == 0 and f"DEMO-{counts[0]:04d}" in found.stdout, found.stderr
    refused = _lungdx("backup", "/tmp/never.dump", "--db", pg_url)
    assert refused.returncode != 0 and "pg_dump" in refused.stderr


def test_migrate_store_keeps_history_a_later_rule_refuses_and_rearms_the_triggers(tmp_path, pg_cluster, png_files):
    """Two sign-offs of one version (written before the one-sign-off trigger existed) copy as they are;
    afterwards the target refuses a third, and its append-only triggers hold again."""
    import sqlite3

    from lungdx_widgets.store.migrate import copy_store

    from .conftest import findings, load, triage

    source = tmp_path / "old.db"
    with open_store(source) as lite:
        lite.add_patient("P1", "Ada Quillfeather")
        study = lite.add_study("P1", *load(png_files[0]), "dr-a")
        lite.add_prediction(study.id, findings(0.8), triage("urgent"), "model")
        lite.sign_study(study.id, "dr-a", verdicts={"Pneumonia": "present"})
    raw = sqlite3.connect(source)
    raw.execute("DROP TRIGGER signoffs_one_per_version")  # as an old database had it
    raw.execute("INSERT INTO signoffs (study_id, signed_by, signed_at, agreement_json, annotation_version) "
                "SELECT study_id, 'dr-b', signed_at, agreement_json, annotation_version FROM signoffs")
    raw.commit()
    raw.close()
    url = pg_cluster.create_database(template="template0")
    try:
        report = copy_store(source, url)
        assert report.status == "copied" and report.ok
        assert {t.table: t.target_rows for t in report.tables}["signoffs"] == 2
        plain = _plain(url)
        try:
            with pytest.raises(psycopg.errors.IntegrityError, match="already signed"):
                plain.execute("INSERT INTO signoffs (study_id, signed_by, signed_at, agreement_json, "
                              "annotation_version) VALUES (?, 'dr-c', 't', '{}', 0)", (study.id,))
            with pytest.raises(psycopg.errors.IntegrityError, match="never overwritten"):
                plain.execute("DELETE FROM signoffs")
        finally:
            plain.close()
    finally:
        pg_cluster.drop_database(url)
