"""``lungdx pacs pull`` against a real Orthanc: filed, analysed, on the worklist; twice files nothing twice."""

from __future__ import annotations

import os

import pytest

from lungdx_widgets.cli import main
from lungdx_widgets.pacs.pull import pull
from lungdx_widgets.store import open_store

from .conftest import LOCAL_PATIENT, variant


def test_instances_in_orthanc_are_filed_analysed_and_on_the_worklist(clinic, orthanc, client, pacs_model,
                                                                     shared_dicoms):
    for path in shared_dicoms:
        orthanc.upload(path.read_bytes())
    report = pull(clinic, client, "pacs-test", analyzer=pacs_model)
    assert report.refused == [] and report.model_errors == []
    assert report.found == 3 and report.filed == 3 and report.analysed == 3  # the MONOCHROME1 copy is the same SOP
    local = clinic.studies_for_patient(LOCAL_PATIENT)
    assert len(local) == 1, "PatientID matched the local patient"
    on_list = {item.study_id: item for item in clinic.worklist(limit=500)}
    for sop in orthanc.instance_uids():
        link = clinic.pacs_instance(sop)
        assert link is not None and on_list[link.study_id].triage_level is not None
    stubs = {s.source_patient_id for s in clinic.pacs_stubs()}
    assert LOCAL_PATIENT not in stubs and "9RG1" in stubs, "unknown patients become stubs for review"
    audit = clinic.audit_events(limit=500, action="pacs_pull")
    assert len([e for e in audit if e.obj.startswith("study:")]) == 3 and audit[0].obj.startswith("pacs:")


def test_pulling_twice_files_nothing_twice(clinic, orthanc, client, pacs_model, nih_bytes):
    orthanc.upload(nih_bytes)
    assert pull(clinic, client, "pacs-test", analyzer=pacs_model).filed == 1
    before = (len(clinic.studies_for_patient(LOCAL_PATIENT)), len(clinic.audit_events(limit=1000, action="add_study")))
    again = pull(clinic, client, "pacs-test", analyzer=pacs_model)
    assert again.filed == 0 and again.already == 1
    assert (len(clinic.studies_for_patient(LOCAL_PATIENT)),
            len(clinic.audit_events(limit=1000, action="add_study"))) == before


def test_another_issuers_patient_is_a_stub_never_merged(clinic, orthanc, client, pacs_model, nih_bytes):
    orthanc.upload(variant(nih_bytes, IssuerOfPatientID="OTHER-HOSPITAL"))
    report = pull(clinic, client, "pacs-test", analyzer=pacs_model)
    assert report.filed == 1 and report.stubs == 1
    assert clinic.studies_for_patient(LOCAL_PATIENT) == []
    stub = clinic.pacs_stubs()[0]
    assert stub.patient_id == f"{LOCAL_PATIENT}^OTHER-HOSPITAL" and stub.issuer == "OTHER-HOSPITAL"
    assert len(clinic.studies_for_patient(stub.patient_id)) == 1


def test_an_mrn_differing_in_case_is_another_patient(clinic, orthanc, client, pacs_model, nih_bytes):
    """MRNs are case-sensitive: mrn-7 in the header is not the local MRN-7 (a stub, never merged)."""
    clinic.add_patient("MRN-7", "Anna Local", actor="test")
    orthanc.upload(variant(nih_bytes, PatientID="mrn-7"))
    report = pull(clinic, client, "pacs-test", analyzer=pacs_model)
    assert report.filed == 1 and clinic.studies_for_patient("MRN-7") == []
    assert clinic.pacs_stubs()[0].patient_id == "mrn-7"


def test_cli_pull_since_and_modality_filters_with_settings_from_env(orthanc, pacs_settings, pacs_model, nih_bytes,
                                                                    tmp_path, monkeypatch, capsys):
    orthanc.upload(variant(nih_bytes, StudyDate="20190101"))
    orthanc.upload(variant(nih_bytes, StudyDate="20250301"))
    orthanc.upload(variant(nih_bytes, StudyDate="20250302", Modality="CR"))
    monkeypatch.setenv("LUNGDX_PACS_URL", pacs_settings.url)
    monkeypatch.setenv("LUNGDX_PACS_USERNAME", pacs_settings.username)
    monkeypatch.setenv("LUNGDX_PACS_PASSWORD", pacs_settings.password)
    db = tmp_path / "cli.db"
    with open_store(db) as s:
        s.add_patient(LOCAL_PATIENT, "Test Patient", actor="test")
    model = str(pacs_model.checkpoint())
    args = ["pacs", "pull", "--db", str(db), "--model", model]
    assert main(args + ["--since", "2025-01-01", "--modality", "DX"]) == 0
    assert "1 filed" in capsys.readouterr().out
    assert main(args + ["--modality", "CR,DX"]) == 0
    out = capsys.readouterr().out
    assert "2 filed" in out and "1 already on file" in out
    with open_store(db) as s:
        assert len(s.studies_for_patient(LOCAL_PATIENT)) == 3
        assert all(e.actor.startswith("cli:") for e in s.audit_events(action="pacs_pull"))
    assert pacs_settings.password not in out and os.environ["LUNGDX_PACS_PASSWORD"] not in repr(pacs_settings)


def test_a_second_link_of_the_same_instance_is_a_conflict_and_rolls_back(clinic, orthanc, client, pacs_model,
                                                                         nih_bytes):
    """Two pulls racing for one instance: the loser's study transaction is rolled back, nothing doubled."""
    from lungdx_widgets.pacs.client import InstanceRef
    from lungdx_widgets.pacs.pull import PullReport, _file_instance
    from lungdx_widgets.store.errors import Conflict

    orthanc.upload(nih_bytes)
    pull(clinic, client, "pacs-test", analyzer=pacs_model)
    [ref] = client.find_instances()
    other = variant(nih_bytes)  # other bytes, but claiming the SOP Instance UID already linked
    with pytest.raises(Conflict, match="already filed"):
        _file_instance(clinic, client, InstanceRef(ref.study_uid, ref.series_uid, ref.sop_uid, ref.sop_class_uid,
                                                   "DX", LOCAL_PATIENT), other, "pacs-test", pacs_model, PullReport())
    assert len(clinic.studies_for_patient(LOCAL_PATIENT)) == 1
