"""Issue 15/16 safety bugs, reproduced on the composed Dashboard driven from Python as the browser drives it.

Each test fails on the code before the fix: stale allergy banner, messages and forms following
the clinician to the next patient, a wrong-patient confirmation surviving a patient switch, a
duplicate upload re-analysing a signed study, unsaved boxes lost silently, a relabelled box
keeping the old score, the AI-unreliable state, triage override and report download.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from lungdx_widgets.app import Dashboard
from lungdx_widgets.imaging import load_image
from lungdx_widgets.store import open_store
from lungdx_widgets.types import Box, Findings, LabelResult, Triage
from lungdx_widgets.widgets.findings import OOD_WARNING, FindingsPanel, likelihood, view_from_findings
from lungdx_widgets.widgets.worklist import DATE_UNKNOWN, when_text

DOC = "dr_ada"


class FakeAnalyzer:
    """Stands in for the shared model: fixed findings, so the dashboard (not the model) is under test."""

    version = "fake-1"

    def __init__(self, ood: bool = False) -> None:
        self.ood = ood
        self.calls = 0

    def get(self):
        return self

    def warm_up(self, before=lambda: None) -> None:
        return None

    def analyze(self, radiograph) -> Findings:
        self.calls += 1
        h, w = radiograph.size
        return Findings(results={"Pneumonia": LabelResult("Pneumonia", 0.8, 0.5),
                                 "Effusion": LabelResult("Effusion", 0.3, 0.5),
                                 "Hernia": LabelResult("Hernia", None)},
                        boxes=[Box("Pneumonia", w * 0.2, h * 0.3, w * 0.2, h * 0.2, 0.8)],
                        model_version=self.version, out_of_distribution=self.ood, ood_score=0.9 if self.ood else 0.1)


@pytest.fixture()
def clinic(tmp_path: Path):
    s = open_store(tmp_path / "clinic.db")
    s.add_user(DOC, "pw-clinician-1", "clinician", display_name="Dr Ada")
    s.add_patient("MRN-1001", "Harriet Quill", sex="F", birth_date="1950-04-02")
    s.add_patient("MRN-1002", "Harold Quimby", sex="M", birth_date="1971-09-30")
    s.add_allergy("MRN-1001", "system", "Peanut", "food", "hives", "mild")
    yield s
    s.close()


def _pngs(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "images").glob("nih*.png"))[:3]


def _dashboard(clinic, analyzer=None) -> Dashboard:
    return Dashboard(clinic, username=DOC, analyzer=analyzer or FakeAnalyzer(), warm_up_model=False)


def _upload(d: Dashboard, png: Path):
    return d.upload.handle(png.read_bytes(), png.name)


def test_a_new_allergy_shows_in_the_banner_at_once(clinic):
    d = _dashboard(clinic)
    d.search.select("MRN-1001")
    assert "Peanut" in d.banner._html.value and "Iodinated" not in d.banner._html.value
    d.record.form.kind.value = "allergy"
    d.record.form.fill(substance="Iodinated contrast", reaction="anaphylaxis", severity="severe")
    d.record.form.submit()
    assert "Iodinated contrast" in d.banner._html.value, "the always-visible banner follows the record"


def test_a_patient_switch_resets_every_form_and_message(clinic, shared_data):
    d = _dashboard(clinic)
    d.search.select("MRN-1001")
    _upload(d, _pngs(shared_data)[0])
    assert "analysed" in d.upload.status.value
    d.record.form.kind.value = "allergy"
    d.record.form.fill(substance="Latex", severity="severe")
    d.record.form.submit()
    d.record.form.kind.value = "allergy"
    d.record.form.fill(severity="severe")
    d.findings.triage_form.level.value = "emergent"
    d.findings.triage_form.reason.value = "half typed"
    d.report.make("html")
    d.search.select("MRN-1002")
    assert "analysed" not in d.upload.status.value
    assert d.record.form.message.value == "" and d.record.form.kind.value == "note"
    d.record.form.kind.value = "allergy"
    assert d.record.form._inputs["severity"].value == "", "no pre-set severity from the last patient"
    assert (d.findings.triage_form.level.value, d.findings.triage_form.reason.value) == ("", "")
    assert d.report.link.value == ""


def test_a_mismatch_confirmation_dies_with_a_patient_switch(clinic, shared_data):
    d = _dashboard(clinic)
    d.search.select("MRN-1001")
    dicom = shared_data / "dicom" / "siim_6904_1517875201.dcm"
    assert d.upload.handle(dicom.read_bytes(), dicom.name) is None
    assert d.upload.confirm.layout.display is None
    d.search.select("MRN-1002")
    assert d.upload.confirm.layout.display == "none", "the question is gone with the patient"
    d.upload.confirm.click()  # a click message on the hidden button
    assert clinic.studies_for_patient("MRN-1002") == [] and clinic.studies_for_patient("MRN-1001") == []
    assert "nothing was saved" in d.upload.status.value
    assert not [e for e in clinic.audit_events(action="add_study") if "mismatch confirmed" in e.detail]


def test_a_duplicate_of_a_signed_study_opens_it_and_is_not_reanalysed(clinic, shared_data):
    analyzer = FakeAnalyzer()
    d = _dashboard(clinic, analyzer)
    d.search.select("MRN-1001")
    png = _pngs(shared_data)[0]
    first = _upload(d, png)
    clinic.sign_study(first.study.id, DOC, verdicts={"Pneumonia": "present"})
    d.search.select("MRN-1002")
    d.search.select("MRN-1001")
    calls, predictions = analyzer.calls, len(clinic.conn.execute("SELECT id FROM predictions").fetchall())
    again = _upload(d, png)
    assert again.duplicate and again.study.id == first.study.id
    assert "Already on file, signed by dr_ada at" in d.upload.status.value
    assert len(clinic.conn.execute("SELECT id FROM predictions").fetchall()) == predictions
    assert analyzer.calls <= calls + 1, "at most the heatmaps are recomputed for display (they are never stored)"
    assert d.study_id == first.study.id and d.signoff.signed


def test_unsaved_boxes_ask_save_discard_or_stay(clinic, shared_data):
    d = _dashboard(clinic)
    d.search.select("MRN-1001")
    one = _upload(d, _pngs(shared_data)[0]).study.id
    d.search.select("MRN-1002")
    two = _upload(d, _pngs(shared_data)[1]).study.id
    d.worklist.open_study(one)
    assert d.study_id == one
    d.viewer.boxes = []
    d.viewer.dirty = True
    d.worklist.open_study(two)
    assert d.study_id == one and d.unsaved.asking, "asks before the edits are lost"
    d.unsaved.stay()
    assert d.study_id == one and d.viewer.dirty and d.worklist.selected_study_id == one
    d.search.select("MRN-1002")
    assert d.patient_id == "MRN-1001" and d.unsaved.asking
    d.unsaved.save()
    assert clinic.annotations(one).version == 1 and d.patient_id == "MRN-1002"


def test_a_relabelled_box_shows_no_ai_score(clinic, shared_data):
    d = _dashboard(clinic)
    d.search.select("MRN-1001")
    _upload(d, _pngs(shared_data)[0])
    box = dict(d.viewer.boxes[0])
    assert box["score"] == 0.8
    d.viewer.set_state({"boxes_for": d.viewer.study_key, "boxes": [{**box, "label": "Consolidation", "status": "edited"}]})  # what the browser sends
    assert d.viewer.boxes[0]["label"] == "Consolidation" and d.viewer.boxes[0]["score"] is None
    moved = {**d.viewer.boxes[0], "x": box["x"] + 5}
    d.viewer.set_state({"boxes_for": d.viewer.study_key, "boxes": [moved]})
    assert d.viewer.boxes[0]["x"] == box["x"] + 5


def test_an_unreliable_ai_result_is_said_above_the_findings_and_in_the_worklist(clinic, shared_data):
    d = _dashboard(clinic, FakeAnalyzer(ood=True))
    d.search.select("MRN-1001")
    study = _upload(d, _pngs(shared_data)[0]).study
    assert d.findings.ood_banner.layout.display is None and OOD_WARNING in d.findings.ood_banner.value
    body = d.findings._body.children
    assert body.index(d.findings.ood_banner) < body.index(d.findings.words), "above the findings"
    row = d.worklist._rows[study.id]
    assert "AI unreliable" in row.description and "lx-ai-unreliable" in row._dom_classes
    assert "likely" not in row.description and "possible" not in row.description, "no finding word on that film"
    words = {b.description: b for b in d.findings.words.children}
    assert list(words) == ["Pneumonia", "Effusion"], "it abstains: names only, no likely/possible"
    assert words["Pneumonia"].tooltip == "probability 0.80 · operating point 0.50"
    assert "lx-finding-not-judged-on-this-film" in words["Pneumonia"]._dom_classes
    assert "does not call findings on this film" in d.findings._meta.value and "Likely:" not in d.findings._meta.value
    d.worklist.open_study(study.id)  # from the store, too
    assert OOD_WARNING in d.findings.ood_banner.value
    assert [b.description for b in d.findings.words.children] == ["Pneumonia", "Effusion"]
    plain = FindingsPanel()
    plain.show(view_from_findings(FakeAnalyzer().analyze(load_image(_pngs(shared_data)[0])), Triage("routine")))
    assert plain.ood_banner.layout.display == "none"


def test_findings_read_as_words_with_the_probability_on_hover(clinic, shared_data):
    d = _dashboard(clinic)
    d.search.select("MRN-1001")
    _upload(d, _pngs(shared_data)[0])
    rows = {b.description: b for b in d.findings.words.children}
    assert list(rows) == ["Pneumonia: likely", "Effusion: possible"], "most probable first, in words"
    assert rows["Pneumonia: likely"].tooltip == "probability 0.80 · operating point 0.50"
    assert "lx-finding-likely" in rows["Pneumonia: likely"]._dom_classes
    assert "Not assessed: Hernia" in d.findings.not_assessed.value
    rows["Effusion: possible"].click()
    assert d.findings.selected_label == "Effusion", "a click on a finding picks its heatmap"
    assert [likelihood(p, 0.4) for p in (0.4, 0.2, 0.19, None)] == ["likely", "possible", "unlikely", "not assessed"]


def test_triage_override_with_a_reason_is_audited_and_shown_in_the_worklist(clinic, shared_data):
    d = _dashboard(clinic)
    d.search.select("MRN-1001")
    study = _upload(d, _pngs(shared_data)[0]).study
    form = d.findings.triage_form
    form.level.value = "emergent"
    form.submit()
    assert "lx-msg-error" in form.message.value, "a reason is required"
    form.level.value, form.reason.value = "emergent", "hypoxic on arrival"
    form.submit()
    assert clinic.latest_prediction(study.id).level == "emergent"
    assert "hypoxic on arrival" in d.findings._triage.value and "AI triage was" in d.findings._triage.value
    assert "overridden" in d.worklist._rows[study.id].description
    assert clinic.audit_events(1, action="override_triage")[0].actor == DOC


def test_report_download_names_the_signed_version(clinic, shared_data):
    d = _dashboard(clinic)
    d.search.select("MRN-1001")
    study = _upload(d, _pngs(shared_data)[0]).study
    clinic.sign_study(study.id, DOC, verdicts={"Pneumonia": "present"})
    d.worklist.refresh()
    name = d.report.make("html")
    assert name == f"lungdx-study-{study.id}-signed.html"
    assert "download='" in d.report.link.value and "href='data:text/html;base64," in d.report.link.value
    assert clinic.audit_events(1, action="export_report")[0].actor == DOC
    assert d.report.make("pdf") == f"lungdx-study-{study.id}-signed.pdf"  # printed by Debian's Chromium
    assert "href='data:application/pdf;base64,JVBER" in d.report.link.value  # "%PDF"
    d.search.select("MRN-1002")
    assert d.report.link.value == "" and d.report.make("html") is None, "no study of this patient: nothing to print"


def test_medications_and_encounter_notes_in_the_record(clinic):
    d = _dashboard(clinic)
    d.search.select("MRN-1001")
    form = d.record.form
    form.kind.value = "medication"
    form.fill(name="Salbutamol", dose="100 µg inhaled")
    form.submit()
    form.kind.value = "encounter"
    form.fill(reason="Cough", notes="Crackles right base.")
    form.submit()
    html = d.record._html.value
    assert "Salbutamol" in html and "100 µg inhaled" in html and "Crackles right base." in html


def test_worklist_dates_never_in_the_future_and_placeholders_unknown():
    now = datetime(2026, 3, 4, 10, 0)
    item = SimpleNamespace(acquired="1901-01-01", uploaded_at="2026-03-04T09:00:00")
    assert when_text(item, now) == DATE_UNKNOWN
    item.acquired = (now + timedelta(hours=3)).isoformat()
    assert when_text(item, now) == "uploaded 09:00"
    item.acquired = "2026-03-04T08:15:00"
    assert when_text(item, now) == "08:15"
    item.acquired = "2025-12-01"
    assert when_text(item, now) == "2025-12-01"


def test_register_a_patient_and_correct_demographics_from_the_dashboard(clinic):
    d = _dashboard(clinic)
    form = d.register
    form.mrn.value, form.name.value = "MRN-2001", "Quill, Nora"
    form.sex.value, form.birth_date.value = "F", "1988-02-30"
    assert form.submit() is None and "Birth date" in form.message.value, "the store's validation is shown"
    form.birth_date.value = "1988-02-03"
    assert form.submit() == "MRN-2001"
    assert d.patient_id == "MRN-2001" and "Quill, Nora" in d.banner._html.value
    edit = d.demographics
    assert edit.name.value == "Quill, Nora" and d.demographics_box.layout.display is None
    edit.name.value = "Quill-Smith, Nora"
    edit.submit()
    assert clinic.get_patient("MRN-2001").name == "Quill-Smith, Nora"
    assert "Quill-Smith, Nora" in d.banner._html.value and "Quill-Smith, Nora" in d.record._html.value
    event = clinic.audit_events(1, action="update_patient")[0]
    assert event.actor == DOC and "'Quill, Nora' -> 'Quill-Smith, Nora'" in event.detail
    d.search.select("MRN-1001")
    assert edit.name.value == "Harriet Quill" and edit.message.value == ""


def test_patients_add_on_the_command_line(tmp_path):
    import subprocess
    import sys

    db = str(tmp_path / "cli.db")
    run = [sys.executable, "-m", "lungdx_widgets.cli", "patients", "add"]
    done = subprocess.run([*run, "MRN-77", "Doe, Jane", "--sex", "F", "--birth-date", "1960-01-02", "--db", db],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "MRN-77 registered" in done.stdout
    again = subprocess.run([*run, "MRN-77", "Doe, Jane", "--db", db], capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "already exists" in again.stderr and again.stderr.count("\n") == 1
    with open_store(Path(db)) as store:
        assert store.get_patient("MRN-77").birth_date == "1960-01-02"


def test_the_picker_refuses_a_file_above_the_limit_and_keeps_working(clinic, shared_data):
    d = _dashboard(clinic)
    d.search.select("MRN-1001")
    picker = d.upload.picker
    assert picker.limit > 0
    picker._message(picker, {"kind": "refused", "name": "huge.dcm", "size": picker.limit + 1}, [])  # from the browser
    assert "huge.dcm" in d.upload.status.value and "upload limit of" in d.upload.status.value
    assert clinic.studies_for_patient("MRN-1001") == []
    png = _pngs(shared_data)[0]
    picker._message(picker, {"kind": "file", "name": png.name}, [memoryview(png.read_bytes())])
    assert len(clinic.studies_for_patient("MRN-1001")) == 1 and "analysed" in d.upload.status.value


def test_analysts_get_a_jupyterlab_link_and_no_patient_forms(clinic):
    clinic.add_user("an_ben", "pw-analyst-1", "analyst")
    clinic.update_patient("MRN-1001", "system", contact="+44 20 7946 0001")
    d = Dashboard(clinic, username="an_ben", analyzer=FakeAnalyzer(), warm_up_model=False)
    header = d.user_links.value
    assert "href='/lab/tree/notebooks'" in header
    d.search.select("MRN-1001")
    assert d.register_box.layout.display == "none" and d.demographics_box.layout.display == "none"
    assert d.demographics.contact.value == "", "contact data never reaches an analyst's browser"
    doc = _dashboard(clinic)
    assert "/lab" not in doc.user_links.value


def test_focus_image_hides_the_side_columns(clinic):
    d = _dashboard(clinic)
    left, right = d._side_columns
    d.focus.value = True
    assert left.layout.display == right.layout.display == "none" and "lx-focus" in d._dom_classes
    d.focus.value = False
    assert left.layout.display is None and right.layout.display is None


def test_changes_after_signing_are_signed_as_an_explicit_addendum(clinic, shared_data):
    d = _dashboard(clinic)
    d.search.select("MRN-1001")
    study = _upload(d, _pngs(shared_data)[0]).study
    for toggle in d.signoff._choices.values():
        toggle.value = "present"
    assert d.signoff.click() and d.signoff.addendum_button.layout.display == "none"
    d.viewer.set_state({"boxes_for": d.viewer.study_key, "boxes": [], "dirty": True})
    d.editor.save()  # after signing: version 1 is an addendum, not signed yet
    assert d.signoff.addendum_button.layout.display is None and "not signed" in d.signoff.message.value
    d.signoff.start_addendum()
    for toggle in d.signoff._choices.values():
        toggle.value = "absent"
    assert d.signoff.click()
    first, later = clinic.signoffs(study.id)
    assert (first.addendum, later.addendum, later.annotation_version) == (False, True, 1)
    assert "Addendum signed" in d.signoff.message.value
    assert not d.signoff.click(), "and no third signature from a click message"


def test_worklist_filters_unsigned_emergent_and_mine(clinic, shared_data):
    clinic.add_user("dr_bea", "pw-clinician-2", "clinician")
    d = _dashboard(clinic)
    d.search.select("MRN-1001")
    mine = _upload(d, _pngs(shared_data)[0]).study.id
    other = Dashboard(clinic, username="dr_bea", analyzer=FakeAnalyzer(), warm_up_model=False)
    other.search.select("MRN-1002")
    theirs = _upload(other, _pngs(shared_data)[1]).study.id
    clinic.override_triage(theirs, "emergent", "sats 84%", "dr_bea")
    clinic.sign_study(mine, DOC, verdicts={"Pneumonia": "present"})
    wl = d.worklist
    wl.refresh()
    assert set(wl._rows) == {mine, theirs}
    wl.filter.value = "unsigned"
    assert set(wl._rows) == {theirs}
    wl.filter.value = "emergent"
    assert set(wl._rows) == {theirs}
    wl.filter.value = "mine"
    assert set(wl._rows) == {mine} and f"signed {DOC}" in wl._rows[mine].description
