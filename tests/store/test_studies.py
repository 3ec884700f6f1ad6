"""Studies: content-addressed images, identity checks with real DICOMs, predictions, worklist order."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest

from lungdx_widgets.store import IdentityMismatch, NotFound, ValidationError
from lungdx_widgets.types import Box

from .conftest import findings, load, triage


def test_add_study_stores_bytes_by_sha256(store, png_files, private_image_store):
    radiograph, data = load(png_files[0])
    store.add_patient("P1", "Ada Quillfeather")
    study = store.add_study("P1", radiograph, data, "dr-a", filename=png_files[0].name, acquired="2024-02-03T10:00")
    sha = hashlib.sha256(data).hexdigest()
    path = store.study_image_path(study)
    assert path == private_image_store / sha[:2] / f"{sha}.png" and path.read_bytes() == data
    assert (study.sha256, study.filename, study.uploaded_by) == (sha, png_files[0].name, "dr-a")
    assert (study.height, study.width) == radiograph.size
    again = store.add_study("P1", radiograph, data, "dr-b")  # same bytes, same patient: the same study
    assert again == study and len(store.studies_for_patient("P1")) == 1


def test_studies_newest_first(store, png_files):
    store.add_patient("P1", "Ada Quillfeather")
    for f, when in zip(png_files[:3], ("2023-05-01", "2025-01-02", "2024-07-08")):
        store.add_study("P1", *load(f), "dr-a", acquired=when)
    assert [s.acquired for s in store.studies_for_patient("P1")] == ["2025-01-02", "2024-07-08", "2023-05-01"]
    with pytest.raises(NotFound):
        store.get_study(12345)


def test_dicom_of_another_patient_needs_confirmation(store, shared_data, private_image_store):
    dicom = shared_data / "dicom" / "nih_gcp_covid0000.dcm"  # PatientID Covid0000
    radiograph, data = load(dicom)
    store.add_patient("P1", "Ada Quillfeather")
    with pytest.raises(IdentityMismatch, match="Covid0000.*Ada Quillfeather"):
        store.add_study("P1", radiograph, data, "dr-a")
    assert store.studies_for_patient("P1") == [] and not list(private_image_store.rglob("*.dcm"))
    study = store.add_study("P1", radiograph, data, "dr-a", confirm_identity_mismatch=True)
    assert store.study_image_path(study).suffix == ".dcm"
    assert "identity mismatch confirmed" in store.audit_events(1, action="add_study")[0].detail
    store.add_patient("covid0000", "Other Case")  # MRNs are case-sensitive: another case is another patient
    with pytest.raises(IdentityMismatch):
        store.add_study("covid0000", radiograph, data, "dr-a")
    store.add_patient("Covid0000", "Matching Id")  # the same ID: no question asked
    assert store.add_study("Covid0000", radiograph, data, "dr-a").patient_id == "Covid0000"


def test_predictions_round_trip_and_override(store, png_files):
    store.add_patient("P1", "Ada Quillfeather")
    study = store.add_study("P1", *load(png_files[0]), "dr-a")
    assert store.latest_prediction(study.id) is None
    box = Box("Pneumonia", 10, 20, 30, 40, score=0.8)
    pred = store.add_prediction(study.id, findings(0.81, boxes=(box,)), triage("urgent"), "model")
    assert pred.probabilities == {"Pneumonia": 0.81, "Nodule": None} and pred.boxes == (box,)
    assert pred.level == "urgent" and pred.to_findings().results["Nodule"].assessed is False
    with pytest.raises(ValidationError):
        store.override_triage(study.id, "urgent", "  ", "dr-a")
    after = store.override_triage(study.id, "emergent", "hypoxic on arrival", "dr-a")
    assert (after.triage_level, after.level, after.override_by) == ("urgent", "emergent", "dr-a")
    assert store.latest_prediction(study.id) == after


def test_worklist_orders_by_triage_then_time(store, png_files, shared_data):
    today = date.today().isoformat()
    store.add_patient("P1", "Ada Quillfeather")
    store.add_patient("P2", "Bruno Quillon")
    files = png_files[:4] + [shared_data / "dicom" / "nih_gcp_covid0000.dcm"]
    plan = [("P1", f"{today}T08:00", "routine"), ("P2", f"{today}T09:00", "emergent"),
            ("P1", f"{today}T07:00", "urgent"), ("P2", f"{today}T06:00", None),
            ("P2", (date.today() - timedelta(days=1)).isoformat() + "T08:00", "emergent")]
    ids = []
    for f, (pid, when, level) in zip(files, plan):
        study = store.add_study(pid, *load(f), "dr-a", acquired=when, confirm_identity_mismatch=True)
        if level:
            store.add_prediction(study.id, findings(0.7), triage(level), "model")
        ids.append(study.id)
    # yesterday's study is still unsigned: it stays on the list (same level: earlier first)
    assert [i.study_id for i in store.worklist()] == [ids[4], ids[1], ids[2], ids[0], ids[3]]
    store.sign_study(ids[4], "dr-a", {"Pneumonia": True})
    items = store.worklist()
    assert [i.study_id for i in items] == [ids[1], ids[2], ids[0], ids[3]]  # signed and not today: gone
    assert [i.triage_level for i in items] == ["emergent", "urgent", "routine", None]
    assert items[0].patient_name == "Bruno Quillon" and items[0].top_label == "Pneumonia"
    store.override_triage(ids[0], "emergent", "clinical concern", "dr-a")
    assert [i.study_id for i in store.worklist()][:2] == [ids[0], ids[1]]  # same level: earlier first
    # another day: that day's (signed) study first by level, plus everything still unsigned
    assert [i.study_id for i in store.worklist(date.today() - timedelta(days=1))] == [ids[4], ids[0], ids[1], ids[2], ids[3]]
    assert len(store.worklist(limit=2)) == 2
