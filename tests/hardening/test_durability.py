"""Durability: SIGKILL mid-upload, mid-save, mid-export and of the server loses nothing confirmed.

A worker process (``store_worker``) does real store work and prints a line after each commit; the
test kills it with SIGKILL at varying moments, then checks the database and the image store the
way an administrator would after a power cut. Backup is checked by a round trip through the CLI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import psutil

from lungdx_widgets.config import PROJECT_ROOT
from lungdx_widgets.imaging import load_image
from lungdx_widgets.store import open_store

from ..support import login_session, running_server
from .conftest import PATIENT, findings, image_files, sha256_file, triage
from .processes import Worker

TEMP_PREFIX = ".incoming-"  # the store's in-progress image files (studies.py)


def assert_consistent(db: Path, image_store: Path) -> None:
    """What must hold after any crash: a sound file, whole studies only, every write with its audit row."""
    with open_store(db) as store:
        assert store.integrity_check() == "ok"
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        studies = store.conn.execute("SELECT id, sha256, image_path FROM studies").fetchall()
        for study_id, sha, rel in studies:
            path = image_store / rel
            assert path.is_file(), f"study {study_id} has no image file"
            assert sha256_file(path) == sha, f"study {study_id}: image file is not the uploaded bytes"
        audited = {row[0] for row in store.conn.execute("SELECT object FROM audit_log WHERE action = 'add_study'")}
        assert audited == {f"study:{s[0]}" for s in studies}, "a study without its audit row, or the reverse"
    for path in image_files(image_store):
        if not path.name.startswith(TEMP_PREFIX):  # a final name is only ever given to a complete file
            assert sha256_file(path) == path.stem, f"half-written image under its final name: {path}"


def test_kill_9_during_uploads_keeps_every_confirmed_study(patient_store, image_store, worker_env, shared_data):
    db = patient_store.path
    patient_store.close()
    confirmed: list[str] = []
    for round_no, delay in enumerate((0.0, 0.004, 0.013)):  # different moments inside a transaction
        worker = Worker("uploads", db, str(shared_data / "lowres" / "images"), worker_env)
        worker.wait_for("CONFIRMED", 5 + 10 * round_no)
        time.sleep(delay)
        confirmed += worker.kill()
        assert_consistent(db, image_store)
    with open_store(db) as store:
        stored = {(str(s.id), s.sha256) for s in store.studies_for_patient(PATIENT)}
    lost = {tuple(c.split()[1:3]) for c in confirmed} - stored
    assert not lost, f"confirmed uploads lost after kill -9: {lost}"


def test_kill_9_during_annotation_saves_keeps_every_confirmed_version(patient_store, image_store, worker_env,
                                                                       png_bytes):
    study = patient_store.add_study(PATIENT, load_image(png_bytes), png_bytes, "doc")
    db = patient_store.path
    patient_store.close()
    confirmed: list[str] = []
    for delay in (0.0, 0.006):
        worker = Worker("annotations", db, str(study.id), worker_env)
        worker.wait_for("CONFIRMED", 8)
        time.sleep(delay)
        confirmed += worker.kill()
    assert_consistent(db, image_store)
    with open_store(db) as store:
        history = store.annotation_history(study.id)
        versions = [h.version for h in history]
        assert versions == list(range(1, len(history) + 1)), "a version is missing or half-saved"
        assert all(len(h.boxes) == h.version for h in history), "a version lost some of its boxes"
        saves = store.conn.execute("SELECT count(*) FROM audit_log WHERE action = 'save_annotations'").fetchone()[0]
        assert saves == len(history)
    confirmed_versions = {int(c.split()[1]) for c in confirmed if c.startswith("version")}
    assert confirmed_versions and confirmed_versions <= set(versions)


def test_kill_9_during_export_leaves_audited_files_whole_and_export_can_be_rerun(
        patient_store, image_store, worker_env, shared_data, tmp_path):
    for path in sorted((shared_data / "lowres" / "images").glob("*.png"))[:24]:
        data = path.read_bytes()
        study = patient_store.add_study(PATIENT, load_image(data), data, "doc", filename=path.name)
        patient_store.add_prediction(study.id, findings(), triage(), "doc")
    db, out = patient_store.path, tmp_path / "export"
    patient_store.close()
    worker = Worker("export", db, str(out), worker_env)
    worker.wait_for("STARTED")
    deadline = time.monotonic() + 60
    with open_store(db) as watcher:  # kill once the export is part-way through
        while watcher.conn.execute("SELECT count(*) FROM audit_log WHERE action = 'export_html'").fetchone()[0] < 3:
            assert time.monotonic() < deadline and worker.proc.poll() is None, "export did not progress"
            time.sleep(0.02)
    assert not [c for c in worker.kill() if c.startswith("export")], "export finished before the kill"
    assert_consistent(db, image_store)
    with open_store(db) as store:
        exported = [int(o.split(":")[1]) for (o,) in store.conn.execute(
            "SELECT object FROM audit_log WHERE action = 'export_html'")]
        assert 3 <= len(exported) < 24
        for study_id in exported:  # an audited export is a complete document
            assert (out / f"study-{study_id}.html").read_text(encoding="utf-8").rstrip().endswith("</html>")
        from lungdx_widgets.reports.export import export_studies

        result = export_studies(store, "html", out, "doc")  # the interrupted export simply runs again
        assert result.studies == 24 and not result.skipped


def test_kill_9_of_the_server_then_restart_serves_again(tmp_path):
    db = tmp_path / "served.db"
    with open_store(db) as store:
        store.add_user("admin1", "admin-password", "admin")
    with running_server(db, log=tmp_path / "server-1.log") as base:
        login_session(base, "admin1", "admin-password")
        port = urlparse(base).port
        listener = next(c.pid for c in psutil.net_connections("tcp")
                        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN)
        os.killpg(os.getpgid(listener), signal.SIGKILL)  # the server and everything it started
        psutil.Process(listener).wait(timeout=30) if psutil.pid_exists(listener) else None
    with open_store(db) as store:
        assert store.integrity_check() == "ok"
    with running_server(db, log=tmp_path / "server-2.log") as base:
        session = login_session(base, "admin1", "admin-password")
        assert session.get(base + "/api/status", timeout=30).status_code == 200
    with open_store(db) as store:
        logins = [e.outcome for e in store.audit_events(actor="admin1", action="login")]
        assert logins == ["ok", "ok"]


def test_backup_then_restore_round_trip(patient_store, png_bytes, tmp_path):
    study = patient_store.add_study(PATIENT, load_image(png_bytes), png_bytes, "doc")
    patient_store.add_prediction(study.id, findings(), triage(), "doc")
    patient_store.sign_study(study.id, "doc", {"Pneumonia": True})
    tables = ["patients", "users", "studies", "predictions", "signoffs", "audit_log"]
    counts = {t: patient_store.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    dest = tmp_path / "backup" / "copy.db"
    result = subprocess.run([sys.executable, "-m", "lungdx_widgets.cli", "backup", str(dest),
                             "--db", str(patient_store.path)], capture_output=True, text=True, timeout=120,
                            cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr
    with open_store(dest) as restored:
        assert restored.integrity_check() == "ok"
        copied = {t: restored.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
        # The backup itself is audited in the live database after the copy was taken.
        assert copied == counts
        assert restored.get_study(study.id).sha256 == study.sha256
        assert restored.first_signoff(study.id) is not None
        assert restored.authenticate("doc", "doc-password") is not None
    assert [e.action for e in patient_store.audit_events(limit=1)] == ["backup"]
