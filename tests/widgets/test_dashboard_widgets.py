"""Dashboard widgets driven from Python against a real SQLite store and the shared real images."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from lungdx_widgets.imaging import load_image
from lungdx_widgets.store import open_store
from lungdx_widgets.types import Findings, LabelResult, Triage
from lungdx_widgets.widgets.findings import FindingsPanel, view_from_findings
from lungdx_widgets.widgets.patient_record import PatientRecordPanel
from lungdx_widgets.widgets.patient_search import PatientSearch
from lungdx_widgets.widgets.signoff import SignoffPanel
from lungdx_widgets.widgets.upload import SharedAnalyzer, UploadPanel
from lungdx_widgets.widgets.worklist import Worklist

CLINICIAN = "dr_ada"
ANALYST = "an_ben"


@pytest.fixture()
def clinic(tmp_path: Path):
    """A small real clinic: two patients (one with allergies), a clinician and an analyst."""
    s = open_store(tmp_path / "clinic.db")
    s.add_user(CLINICIAN, "pw-clinician-1", "clinician", display_name="Dr Ada")
    s.add_user(ANALYST, "pw-analyst-1", "analyst")
    s.add_patient("MRN-1001", "Harriet Quill", sex="F", birth_date="1950-04-02", contact="+44 20 7946 0001")
    s.add_patient("MRN-1002", "Harold Quimby", sex="M", birth_date="1971-09-30", contact="+44 20 7946 0002")
    s.add_allergy("MRN-1001", "system", "Penicillin", "drug", "anaphylaxis", "life-threatening")
    s.add_allergy("MRN-1001", "system", "Peanut", "food", "hives", "mild")
    s.add_condition("MRN-1001", "system", "COPD", "2011-01-01")
    s.add_encounter("MRN-1001", "system", "2024-02-11", "Cough", "Community-acquired pneumonia")
    yield s
    s.close()


def _findings(probs: dict[str, float | None], thr: float = 0.5) -> Findings:
    return Findings(results={k: LabelResult(k, p, thr) for k, p in probs.items()}, model_version="test-fixture")


def _add_analysed_study(clinic, patient_id: str, png: Path, level: str, probs: dict[str, float | None]) -> int:
    data = png.read_bytes()
    study = clinic.add_study(patient_id, load_image(data, filename=png.name), data, CLINICIAN, filename=png.name,
                            acquired=date.today().isoformat() + "T08:00:00")
    clinic.add_prediction(study.id, _findings(probs), Triage(level, (f"{level} by fixture",)), CLINICIAN)
    return study.id


def test_search_select_shows_record_with_allergies_and_audits_the_view(clinic):
    search = PatientSearch(clinic)
    record = PatientRecordPanel(clinic, CLINICIAN, "clinician")
    search.observe(lambda ch: ch["new"] and record.show(ch["new"]), names="selected_patient_id")

    search.query.value = "quil"  # partial name, as typed
    assert search.result_ids == ["MRN-1001"]
    search.select(search.result_ids[0])

    html = record._html.value
    assert "Harriet Quill" in html and "Penicillin" in html and "Peanut" in html
    assert html.index("Penicillin") < html.index("Peanut"), "most severe allergy first"
    assert "+44 20 7946 0001" in html, "clinicians see contact data"
    views = clinic.audit_events(actor=CLINICIAN, action="view")
    assert [e.obj for e in views] == ["patient:MRN-1001"]


def test_search_by_id_and_no_match_message(clinic):
    search = PatientSearch(clinic)
    search.query.value = "MRN-1002"
    assert search.result_ids == ["MRN-1002"]
    search.query.value = "zzzz-nobody"
    assert search.result_ids == []
    assert "No patient matches" in search._results.children[0].value


def test_analyst_does_not_see_contact_data_and_cannot_add(clinic):
    record = PatientRecordPanel(clinic, ANALYST, "analyst")
    record.show("MRN-1001")
    assert "Penicillin" in record._html.value
    assert "7946" not in record._html.value
    assert record.form is None


def test_clinician_adds_allergy_through_the_form(clinic):
    record = PatientRecordPanel(clinic, CLINICIAN, "clinician")
    record.show("MRN-1002")
    record.form.kind.value = "allergy"
    record.form.fill(substance="Latex", kind="other", reaction="rash", severity="moderate")
    record.form.submit()
    assert "Latex" in record._html.value
    assert [a.substance for a in clinic.patient_record("MRN-1002", "t").allergies] == ["Latex"]
    writes = [e for e in clinic.audit_events(actor=CLINICIAN) if e.action.startswith("add_")]
    assert [(e.obj, e.detail.split(":")[0]) for e in writes] == [("patient:MRN-1002", "allergies")]

    record.form.kind.value = "encounter"
    record.form.fill(date="not-a-date", reason="Follow-up")
    record.form.submit()
    assert "lx-msg-error" in record.form.message.value, "the store's validation message is shown"
    assert clinic.patient_record("MRN-1002", "t").encounters == ()


def test_worklist_orders_by_triage_then_time_and_opens_a_study(clinic, shared_data):
    pngs = sorted((shared_data / "images").glob("*.png"))[:3]
    routine = _add_analysed_study(clinic, "MRN-1002", pngs[0], "routine", {"Effusion": 0.1})
    emergent = _add_analysed_study(clinic, "MRN-1001", pngs[1], "emergent", {"Pneumothorax": 0.9})
    urgent = _add_analysed_study(clinic, "MRN-1001", pngs[2], "urgent", {"Pneumonia": 0.7})
    worklist = Worklist(clinic)
    assert [i for i in worklist._rows] == [emergent, urgent, routine]
    first = worklist._list.children[0]
    assert first.description.startswith("EMERGENT") and "Pneumothorax likely" in first.description
    assert "MRN-1001" in first.description and "unsigned" in first.description and " F" in first.description
    routine_row = worklist._list.children[2].description
    assert "Effusion" not in routine_row, "no 'top finding' on a routine study whose finding is unlikely"
    first.click()
    assert worklist.selected_study_id == emergent
    assert "lx-selected" in first._dom_classes


def test_findings_panel_marks_thresholds_and_not_assessed_labels():
    panel = FindingsPanel()
    findings = _findings({"Pneumonia": 0.81, "Effusion": 0.2, "Hernia": None})
    panel.show(view_from_findings(findings, Triage("urgent", ("Pneumonia 0.81 ≥ 0.50",))))
    bars, ticks, missing = panel.chart.data
    assert list(bars.y) == ["Pneumonia", "Effusion"] and list(bars.x) == [0.81, 0.2]
    assert list(ticks.x) == [0.5, 0.5]
    assert list(missing.y) == ["Hernia"] and list(missing.text) == ["not assessed"]
    assert "urgent" in panel._triage.value and "Pneumonia 0.81" in panel._triage.value
    assert "test-fixture" in panel._meta.value
    panel.select("Pneumonia")
    assert panel.selected_label == "Pneumonia"


def test_override_of_an_untriaged_result_says_not_triaged_not_none():
    """A clinician may set a level on a result the AI never triaged; the line must not read 'None'."""
    panel = FindingsPanel()
    view = dataclasses.replace(view_from_findings(_findings({"Pneumonia": 0.81}), None),
                               override=("urgent", "clinical picture", "dr-kim"))
    panel.show(view)
    assert view.triage_level is None
    assert "The AI gave no triage level" in panel._triage.value and "None" not in panel._triage.value
    assert "dr-kim" in panel._triage.value


def test_bad_file_shows_message_and_writes_nothing(clinic, tmp_path):
    panel = UploadPanel(clinic, CLINICIAN, analyzer=SharedAnalyzer(tmp_path / "never-loaded.pt"))
    panel.patient_id = "MRN-1001"
    assert panel.handle(b"this is not an image at all" * 10, "notes.dcm") is None
    assert "lx-msg-error" in panel.status.value and "Nothing was saved" in panel.status.value
    assert clinic.studies_for_patient("MRN-1001") == []
    assert clinic.audit_events(action="add_study") == []


def test_model_failure_keeps_the_study_and_says_why(clinic, shared_data, tmp_path):
    panel = UploadPanel(clinic, CLINICIAN, analyzer=SharedAnalyzer(tmp_path / "missing-weights.pt"))
    panel.patient_id = "MRN-1002"
    png = sorted((shared_data / "images").glob("*.png"))[0]
    outcome = panel.handle(png.read_bytes(), png.name)
    assert outcome is not None and outcome.model_error and "missing-weights.pt" in outcome.model_error
    assert "AI analysis unavailable" in panel.status.value
    assert [s.id for s in clinic.studies_for_patient("MRN-1002")] == [outcome.study.id]
    assert clinic.latest_prediction(outcome.study.id) is None


def test_dicom_identity_mismatch_waits_for_confirmation(clinic, shared_data, tmp_path):
    dicom = shared_data / "dicom" / "siim_6904_1517875201.dcm"
    panel = UploadPanel(clinic, CLINICIAN, analyzer=SharedAnalyzer(tmp_path / "missing-weights.pt"))
    panel.patient_id = "MRN-1001"
    assert panel.handle(dicom.read_bytes(), dicom.name) is None
    assert panel.confirm.layout.display is None, "the confirm button is offered"
    assert clinic.studies_for_patient("MRN-1001") == []
    panel.cancel.click()
    assert clinic.studies_for_patient("MRN-1001") == []
    panel.handle(dicom.read_bytes(), dicom.name)
    panel.confirm.click()
    studies = clinic.studies_for_patient("MRN-1001")
    assert len(studies) == 1 and studies[0].filename == dicom.name
    assert "identity mismatch confirmed" in clinic.audit_events(action="add_study")[0].detail


def test_signoff_requires_an_answer_per_finding_then_freezes(clinic, shared_data):
    png = sorted((shared_data / "images").glob("*.png"))[0]
    sid = _add_analysed_study(clinic, "MRN-1001", png, "urgent", {"Pneumonia": 0.8, "Effusion": 0.3, "Hernia": None})
    panel = SignoffPanel(clinic, CLINICIAN)
    view = view_from_findings(clinic.latest_prediction(sid).to_findings(), Triage("urgent"))
    panel.show(sid, view)
    assert list(panel._choices) == ["Pneumonia", "Effusion"], "positive first, not-assessed never asked"
    assert panel.sign.disabled and not panel.submit()
    assert clinic.first_signoff(sid) is None
    panel._choices["Pneumonia"].value = "present"
    panel._choices["Effusion"].value = "uncertain"
    panel.comment.value = "Effusion not seen."
    panel.impression.value = "Right lower lobe pneumonia."
    panel.diagnosis.value = "Community-acquired pneumonia"
    assert not panel.sign.disabled
    assert panel.click()
    signed = clinic.first_signoff(sid)
    assert signed.signed_by == CLINICIAN and signed.verdicts == {"Pneumonia": "present", "Effusion": "uncertain"}
    assert signed.agreement == {"Pneumonia": True}, "uncertain is no agree/disagree"
    assert (signed.comment, signed.impression, signed.diagnosis) == (
        "Effusion not seen.", "Right lower lobe pneumonia.", "Community-acquired pneumonia")
    assert panel.sign.disabled and panel.signed
    assert not panel.click() and "not available" in panel.message.value, "a click on the disabled button"
    assert len(clinic.signoffs(sid)) == 1


def test_a_second_clinician_with_the_form_open_cannot_sign_again(clinic, shared_data):
    clinic.add_user("dr_bea", "pw-clinician-2", "clinician")
    png = sorted((shared_data / "images").glob("*.png"))[0]
    sid = _add_analysed_study(clinic, "MRN-1001", png, "urgent", {"Pneumonia": 0.8})
    view = view_from_findings(clinic.latest_prediction(sid).to_findings(), Triage("urgent"))
    first, second = SignoffPanel(clinic, CLINICIAN), SignoffPanel(clinic, "dr_bea")
    first.show(sid, view)
    second.show(sid, view)
    first._choices["Pneumonia"].value = "present"
    second._choices["Pneumonia"].value = "absent"
    assert first.click()
    assert not second.click() and "Already signed by dr_ada" in second.message.value
    assert [s.verdicts for s in clinic.signoffs(sid)] == [{"Pneumonia": "present"}]


def test_signoff_shows_conflicts_with_kept_boxes_before_signing(clinic, shared_data):
    from lungdx_widgets.types import Box

    png = sorted((shared_data / "images").glob("*.png"))[0]
    sid = _add_analysed_study(clinic, "MRN-1001", png, "urgent", {"Pneumonia": 0.8, "Infiltration": 0.2})
    kept = (Box("Infiltration", 10, 10, 50, 50, 0.2, "ai", "accepted"), Box("Nodule", 80, 80, 20, 20, None, "human", "edited"))
    saved = clinic.save_annotations(sid, list(kept), 0, CLINICIAN)
    panel = SignoffPanel(clinic, CLINICIAN, boxes_for=lambda: (saved.boxes, saved.version, False))
    panel.show(sid, view_from_findings(clinic.latest_prediction(sid).to_findings(), Triage("urgent")))
    assert "Nodule" in panel._choices, "a reader-drawn box's label is asked about too"
    panel._choices["Pneumonia"].value = "present"
    panel._choices["Infiltration"].value = "absent"
    panel._choices["Nodule"].value = "present"
    assert "Infiltration" in panel.message.value, "the conflict is shown while answering"
    assert not panel.click() and "press Sign off again" in panel.message.value
    assert clinic.first_signoff(sid) is None
    assert panel.click(), "the second press signs, the answer wins"
    assert clinic.first_signoff(sid).annotation_version == 1
