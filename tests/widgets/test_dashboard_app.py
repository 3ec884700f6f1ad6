"""The composed Dashboard on a copy of the demo database, driven from Python as the browser would."""

from __future__ import annotations

from pathlib import Path

import pytest

from lungdx_widgets.app import TAB_FINDINGS, TAB_RECORD, Dashboard
from lungdx_widgets.store import open_store
from lungdx_widgets.store.demo import DEMO_USERS
from lungdx_widgets.widgets.upload import SharedAnalyzer

CLINICIAN = DEMO_USERS["clinician"]


@pytest.fixture()
def demo_store(demo_db: Path, tmp_path: Path):
    """A private copy of the demo database, so uploads here never leak into other tests."""
    with open_store(demo_db) as source:
        source.backup(tmp_path / "demo-copy.db")
    s = open_store(tmp_path / "demo-copy.db")
    yield s
    s.close()


def _patient_with_allergies(store):
    for p in store.search_patients("", limit=100):
        record = store.patient_record(p.patient_id, "test-setup")
        if record.allergies:
            return p, record
    raise AssertionError("the demo database has no patient with allergies")


def test_unknown_user_gets_a_message_not_a_dashboard(demo_store):
    d = Dashboard(demo_store, username="nobody-here", warm_up_model=False)
    assert d.user is None
    assert "cannot use the dashboard" in d.children[-1].value


def test_search_open_record_then_worklist_study(demo_store, tmp_path):
    d = Dashboard(demo_store, username=CLINICIAN, analyzer=SharedAnalyzer(tmp_path / "absent.pt"),
                  warm_up_model=False)
    patient, record = _patient_with_allergies(demo_store)
    d.search.query.value = patient.name.split()[-1][:5].lower()  # partial surname
    assert patient.patient_id in d.search.result_ids
    d.search.select(patient.patient_id)
    assert d.tabs.selected_index == TAB_RECORD and d.patient_id == patient.patient_id
    for allergy in record.allergies:
        assert allergy.substance in d.record._html.value  # the full record
        assert allergy.substance in d.banner._html.value  # and always in sight

    item = demo_store.worklist()[0]
    d.worklist.open_study(item.study_id)
    assert d.study_id == item.study_id and d.patient_id == item.patient_id
    assert d.viewer.image and d.viewer.image_width > 0, "the radiograph is shown"
    assert d.tabs.selected_index == TAB_FINDINGS
    audit = [(e.action, e.obj) for e in demo_store.audit_events(actor=CLINICIAN)]
    assert ("view", f"study:{item.study_id}") in audit and ("view", f"patient:{patient.patient_id}") in audit
    listings = {e.action: e.detail for e in demo_store.audit_events(actor=CLINICIAN) if e.action.startswith("list_")}
    shown = dict(part.split("=", 1) for part in listings["list_patients"].split(" ") if "=" in part)
    assert patient.patient_id in shown["shown"].split(","), "the search listing names the patients it showed"
    worklist_shown = listings["list_worklist"].split("shown=")[1].split(",")
    assert set(worklist_shown) == {i.patient_id for i in demo_store.worklist()}, "the worklist names whom it listed"


def test_upload_without_weights_keeps_working(demo_store, shared_data, tmp_path):
    d = Dashboard(demo_store, username=CLINICIAN, analyzer=SharedAnalyzer(tmp_path / "absent.pt"),
                  warm_up_model=False)
    patient, _ = _patient_with_allergies(demo_store)
    d.search.select(patient.patient_id)
    before = len(demo_store.studies_for_patient(patient.patient_id))
    dicom = shared_data / "dicom" / "siim_6904_1517875201.dcm"
    d.upload.handle(dicom.read_bytes(), dicom.name)
    d.upload.confirm.click()  # the file names another patient: the clinician confirms
    studies = demo_store.studies_for_patient(patient.patient_id)
    assert len(studies) == before + 1
    assert d.study_id == max(s.id for s in studies)
    assert "AI analysis unavailable" in d.findings._message.value and "absent.pt" in d.findings._message.value
    assert d.viewer.image_width == 1024, "the image is still shown for viewing and annotation"
    assert demo_store.latest_prediction(d.study_id) is None


@pytest.fixture(scope="module")
def model_checkpoint(tmp_path_factory) -> Path:
    from ..e2e.dashboard_setup import dashboard_checkpoint

    return dashboard_checkpoint(tmp_path_factory.mktemp("dashboard-model"))


def test_upload_dicom_writes_study_and_prediction_and_shows_findings(demo_store, shared_data, model_checkpoint):
    d = Dashboard(demo_store, username=CLINICIAN, analyzer=SharedAnalyzer(model_checkpoint), warm_up_model=False)
    patient, _ = _patient_with_allergies(demo_store)
    d.search.select(patient.patient_id)
    dicom = shared_data / "dicom" / "siim_6904_1517875201.dcm"
    d.upload.handle(dicom.read_bytes(), dicom.name, confirm_identity_mismatch=True)

    study = demo_store.get_study(d.study_id)
    assert (study.patient_id, study.filename, study.uploaded_by) == (patient.patient_id, dicom.name, CLINICIAN)
    prediction = demo_store.latest_prediction(study.id)
    assert prediction is not None and prediction.created_by == CLINICIAN
    assert d.findings.view.probabilities == prediction.probabilities
    assert d.findings.view.triage_level == prediction.triage_level
    assert "lx-msg-ok" in d.upload.status.value
    assert d.viewer.heatmaps, "the viewer shows the AI heatmaps"
    label = d.findings.view.assessed[0]
    d.findings.select(label)
    assert d.viewer.heatmap_label == label, "the heatmap follows the selected finding"
    assert study.id in [i.study_id for i in demo_store.worklist()], "the new study is on the worklist"
    assert any(row == study.id for row in d.worklist._rows)


def test_switching_patient_never_leaves_the_previous_patients_image(demo_store, tmp_path):
    d = Dashboard(demo_store, username=CLINICIAN, analyzer=SharedAnalyzer(tmp_path / "absent.pt"),
                  warm_up_model=False)
    first = demo_store.worklist()[0]
    d.worklist.open_study(first.study_id)
    assert d.study_id == first.study_id
    other = next(p for p in demo_store.search_patients("", limit=100) if p.patient_id != first.patient_id)
    d.search.select(other.patient_id)
    studies = demo_store.studies_for_patient(other.patient_id)
    if studies:
        assert d.study_id == studies[0].id and other.patient_id in d.banner._html.value
    else:
        assert d.study_id is None and d.viewer.image == b""
    assert d.study_id is None or demo_store.get_study(d.study_id).patient_id == other.patient_id

    demo_store.add_patient("MRN-EMPTY-1", "Nora Nostudy", actor="test-setup")
    d.search.select("MRN-EMPTY-1")
    assert d.study_id is None and d.viewer.image == b"" and d.viewer.boxes == []
    assert "No studies for this patient" in d.findings._message.value


def _patient_with_priors(store):
    """A patient with an earlier study and an unsigned newest one (today's worklist)."""
    for p in store.search_patients("", limit=200):
        studies = store.studies_for_patient(p.patient_id)
        if len(studies) >= 2 and not store.signoffs(studies[0].id):
            return p
    raise AssertionError("no demo patient has an unsigned study with priors")


def test_priors_tab_states_progression_and_opens_the_prior_side_by_side(demo_store, tmp_path):
    from lungdx_widgets.app import TAB_PRIORS
    from lungdx_widgets.types import Box

    d = Dashboard(demo_store, username=CLINICIAN, analyzer=SharedAnalyzer(tmp_path / "absent.pt"),
                  warm_up_model=False)
    patient = _patient_with_priors(demo_store)
    current, prior = demo_store.studies_for_patient(patient.patient_id)[:2]
    box = Box("Effusion", 10, 10, prior.width * 0.3, prior.height * 0.3, source="human", status="edited")
    demo_store.save_annotations(prior.id, [box], demo_store.annotations(prior.id).version, CLINICIAN)
    demo_store.sign_study(prior.id, CLINICIAN, verdicts={"Effusion": "present"},
                          addendum=bool(demo_store.signoffs(prior.id)))  # the demo signed its history
    d.search.select(patient.patient_id)
    d.open_study(current.id)
    d.tabs.selected_index = TAB_PRIORS
    assert d.priors.prior_id == prior.id
    assert "Sign this study to see how its findings changed" in d.priors.changes.value

    demo_store.sign_study(current.id, CLINICIAN, verdicts={"Effusion": "absent", "Pneumothorax": "present"})
    d._signed(current.id)
    text = d.priors.changes.value
    assert "Pneumothorax: new — present now; not reported on" in text
    assert "Effusion: improved — not seen now; present on" in text
    assert text.index("Pneumothorax") < text.index("Effusion"), "new before improved"

    assert d.films.children == (d.viewer,)
    d.priors.side_by_side.value = True
    assert d.films.children == (d.viewer, d.prior_film)
    assert d.prior_film.viewer.readonly and d.prior_film.viewer.image
    assert [b["label"] for b in d.prior_film.viewer.boxes] == ["Effusion"], "the prior's signed box"
    seen = [(e.obj, e.detail) for e in demo_store.audit_events(actor=CLINICIAN, action="view")]
    assert (f"study:{prior.id}", "prior") in seen, "opening the earlier film is audited"
    assert "signed by" in d.prior_film.caption.value
    d.switch_language("ko")
    assert "기흉: 새로 생김" in d.priors.changes.value and "서명" in d.prior_film.caption.value
    d.switch_language("en")
    d.prior_film.close.click()
    assert d.films.children == (d.viewer,) and not d.priors.side_by_side.value

    d.priors.side_by_side.value = True
    other = next(p for p in demo_store.search_patients("", limit=100) if p.patient_id != patient.patient_id
                 and demo_store.studies_for_patient(p.patient_id))
    d.search.select(other.patient_id)
    assert d.films.children == (d.viewer,), "another patient never sits beside the earlier film"


def test_analyst_sees_no_contact_data_and_cannot_upload_or_sign(demo_store, tmp_path):
    d = Dashboard(demo_store, username=DEMO_USERS["analyst"], analyzer=SharedAnalyzer(tmp_path / "absent.pt"),
                  warm_up_model=False)
    patient, _ = _patient_with_allergies(demo_store)
    d.search.select(patient.patient_id)
    assert patient.contact and patient.contact not in d.record._html.value
    assert d.upload.layout.display == "none" and d.record.form is None
    assert not d.signoff._can_sign


def test_opening_a_stored_study_recomputes_heatmaps_only_with_the_model_that_made_it(demo_store, model_checkpoint,
                                                                                      tmp_path):
    from ..learning.conftest import tiny_checkpoint

    item = next(i for i in demo_store.worklist() if i.prediction is not None)
    d = Dashboard(demo_store, username=CLINICIAN, analyzer=SharedAnalyzer(model_checkpoint), warm_up_model=False)
    assert d._analyzer.get().version == item.prediction.model_version  # the demo was analysed by this model
    d.worklist.open_study(item.study_id)
    assert d.viewer.heatmaps and d.viewer.heatmap_label in d.viewer.heatmaps

    other = Dashboard(demo_store, username=CLINICIAN, warm_up_model=False,
                      analyzer=SharedAnalyzer(tiny_checkpoint(tmp_path / "other.pt")))
    other.worklist.open_study(item.study_id)
    assert other.viewer.heatmaps == {}
    assert "came from model" in other.viewer.message


def test_model_warm_up_waits_for_the_page_to_be_drawn(demo_store, tmp_path):
    """Start-up: the warm-up's imports must not compete with the first paint of the worklist."""
    calls = []

    class CountingAnalyzer(SharedAnalyzer):
        def warm_up(self, before=lambda: None) -> None:
            calls.append(before)

    d = Dashboard(demo_store, username=CLINICIAN, analyzer=CountingAnalyzer(tmp_path / "absent.pt"))
    assert calls == [], "nothing warms up before the browser has drawn the page"
    d.page_language._message(d.page_language, {"event": "rendered"}, [])
    assert len(calls) == 1
    d.page_language._message(d.page_language, {"event": "rendered"}, [])  # a second view of the page
    assert len(calls) == 1
