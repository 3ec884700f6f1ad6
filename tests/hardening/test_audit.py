"""Audit completeness: each audited action leaves exactly one row, and the log cannot be rewritten."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lungdx_widgets.imaging import load_image
from lungdx_widgets.types import Box

from .conftest import PATIENT, audit_rows, findings, triage


def new_events(store, before: int) -> list[tuple[str, str, str]]:
    """(action, object, outcome) of the rows appended since the log held ``before`` rows, oldest first."""
    rows = store.conn.execute("SELECT action, object, outcome FROM audit_log ORDER BY id LIMIT -1 OFFSET ?",
                              (before,)).fetchall()
    return [tuple(r) for r in rows]


@pytest.fixture
def study(patient_store, png_bytes):
    return patient_store.add_study(PATIENT, load_image(png_bytes, filename="a.png"), png_bytes, "doc",
                                   filename="a.png")


def test_viewing_a_patient_record_is_one_audit_row(patient_store):
    before = audit_rows(patient_store)
    patient_store.patient_record(PATIENT, "doc")
    assert new_events(patient_store, before) == [("view", f"patient:{PATIENT}", "ok")]


def test_upload_is_one_audit_row(patient_store, png_bytes):
    before = audit_rows(patient_store)
    s = patient_store.add_study(PATIENT, load_image(png_bytes), png_bytes, "doc", filename="x.png")
    assert new_events(patient_store, before) == [("add_study", f"study:{s.id}", "ok")]


def test_uploading_the_same_file_again_is_one_audit_row_and_no_new_study(patient_store, study, png_bytes):
    before = audit_rows(patient_store)
    again = patient_store.add_study(PATIENT, load_image(png_bytes), png_bytes, "nurse", filename="a.png")
    assert again.id == study.id and len(patient_store.studies_for_patient(PATIENT)) == 1
    assert new_events(patient_store, before) == [("add_study", f"study:{study.id}", "duplicate")]


def test_annotation_save_prediction_and_signoff_are_one_row_each(patient_store, study):
    before = audit_rows(patient_store)
    patient_store.save_annotations(study.id, [Box("Nodule", 10, 20, 30, 40, source="human")], 0, "doc")
    assert new_events(patient_store, before) == [("save_annotations", f"study:{study.id}", "ok")]

    before = audit_rows(patient_store)
    patient_store.add_prediction(study.id, findings(), triage(), "doc")
    assert [e[0] for e in new_events(patient_store, before)] == ["add_prediction"]

    before = audit_rows(patient_store)
    patient_store.sign_study(study.id, "doc", {"Pneumonia": True})
    assert new_events(patient_store, before) == [("sign_study", f"study:{study.id}", "ok")]


def test_export_is_one_export_row_per_study_plus_the_chart_read(patient_store, study, tmp_path: Path):
    from lungdx_widgets.reports.export import export_studies

    patient_store.add_prediction(study.id, findings(), triage(), "doc")
    before = audit_rows(patient_store)
    result = export_studies(patient_store, "html", tmp_path / "out", "doc", study_ids=[study.id])
    assert result.studies == 1
    events = new_events(patient_store, before)
    # Exporting reads the chart (audited as a view of the patient) and writes one export row.
    assert sorted(events) == sorted([("export_html", f"study:{study.id}", "ok"), ("view", f"patient:{PATIENT}", "ok")])


@pytest.mark.parametrize("username, password, outcome", [
    ("doc", "doc-password", "ok"),
    ("doc", "wrong-password", "denied"),
    ("nobody", "whatever-pass", "denied"),
])
def test_every_login_attempt_is_one_audit_row(patient_store, username, password, outcome):
    before = audit_rows(patient_store)
    user = patient_store.authenticate(username, password)
    assert (user is not None) == (outcome == "ok")
    assert new_events(patient_store, before) == [("login", f"user:{username}", outcome)]


def test_disabled_user_login_is_denied_and_audited(patient_store):
    patient_store.set_user_disabled("doc", True, "setup")
    before = audit_rows(patient_store)
    assert patient_store.authenticate("doc", "doc-password") is None
    assert new_events(patient_store, before) == [("login", "user:doc", "denied")]


def test_refused_upload_writes_no_audit_row_and_no_study(patient_store):
    from lungdx_widgets.errors import LungDxError

    before = audit_rows(patient_store)
    with pytest.raises(LungDxError):
        load_image(b"not an image at all", filename="junk.png")
    assert new_events(patient_store, before) == []
    assert patient_store.studies_for_patient(PATIENT) == []


@pytest.mark.parametrize("sql", [
    "UPDATE audit_log SET actor = 'someone-else'",
    "UPDATE audit_log SET outcome = 'ok' WHERE outcome = 'denied'",
    "DELETE FROM audit_log",
    "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
    "REPLACE INTO audit_log (id, time, actor, action, object, outcome, detail) "
    "SELECT id, time, 'forged', action, object, outcome, detail FROM audit_log",
    "INSERT OR REPLACE INTO audit_log (id, time, actor, action, object, outcome, detail) "
    "SELECT id, time, 'forged', action, object, outcome, detail FROM audit_log",
])
def test_audit_log_cannot_be_rewritten_through_the_store_connection(patient_store, sql):
    patient_store.authenticate("doc", "wrong-password")
    snapshot = patient_store.conn.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        patient_store.conn.execute(sql)
    assert patient_store.conn.execute("SELECT * FROM audit_log ORDER BY id").fetchall() == snapshot


def test_audit_log_cannot_be_rewritten_from_another_connection(patient_store):
    other = sqlite3.connect(str(patient_store.path))
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            other.execute("DELETE FROM audit_log")
    finally:
        other.close()
    assert audit_rows(patient_store) > 0
