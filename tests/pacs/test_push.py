"""STOW-RS results: the SR and the boxes image can be fetched from Orthanc and parse, with their references."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest

from lungdx_widgets.errors import LungDxError
from lungdx_widgets.pacs.pull import pull
from lungdx_widgets.pacs.push import HUMAN_COLOUR, push_pending, push_results
from lungdx_widgets.types import Box

from .conftest import LOCAL_PATIENT


@pytest.fixture
def pulled(clinic, orthanc, client, pacs_model, nih_bytes):
    """One study pulled from Orthanc, with a clinician's box saved and signed."""
    orthanc.upload(nih_bytes)
    pull(clinic, client, "pacs-test", analyzer=pacs_model)
    study = clinic.studies_for_patient(LOCAL_PATIENT)[0]
    clinic.add_user("dr-a", "a-long-password-1", "clinician", actor="test")
    box = Box("Pneumonia", 300, 400, 200, 180, source="human", status="accepted")
    clinic.save_annotations(study.id, [box], 0, "dr-a")
    clinic.sign_study(study.id, "dr-a", {}, comment="checked")
    return study


def referenced_sops(sr) -> set[str]:
    return {sop.ReferencedSOPInstanceUID for study in sr.CurrentRequestedProcedureEvidenceSequence
            for series in study.ReferencedSeriesSequence for sop in series.ReferencedSOPSequence}


def test_sr_and_boxes_image_are_in_orthanc_and_reference_the_source(clinic, orthanc, client, pulled):
    source_sop = clinic.pacs_instance_for_study(pulled.id).sop_instance_uid
    result = push_results(clinic, client, pulled.id, "dr-a")
    assert result.sent and set(orthanc.instance_uids()) == {source_sop, result.export.sr_sop_instance_uid,
                                                             result.export.sc_sop_instance_uid}
    e = result.export
    sr = client.retrieve_dataset(e.study_instance_uid, e.sr_series_uid, e.sr_sop_instance_uid)
    report = hd.sr.Comprehensive3DSR.from_dataset(sr)  # parses as a highdicom SR
    assert report.SOPInstanceUID == e.sr_sop_instance_uid and sr.StudyInstanceUID == pulled.study_uid
    assert referenced_sops(sr) == {source_sop} and sr.VerificationFlag == "VERIFIED"
    sc = client.retrieve_dataset(e.study_instance_uid, e.sc_series_uid, e.sc_sop_instance_uid)
    rgb = sc.pixel_array
    assert rgb.shape == (1024, 1024, 3) and sc.PatientID == LOCAL_PATIENT
    assert np.all(rgb[400, 320] == HUMAN_COLOUR), "the clinician's box is burned in at its place"
    assert np.all(rgb[500, 400] == rgb[500, 400, 0]), "inside the box the film stays grey"


def test_resend_is_idempotent_and_an_addendum_supersedes_never_overwrites(clinic, orthanc, client, pulled):
    first = push_results(clinic, client, pulled.id, "dr-a")
    again = push_results(clinic, client, pulled.id, "dr-a")
    assert not again.sent and again.export.id == first.export.id and "already" in again.message
    assert push_pending(clinic, client, "poller") == []
    current = clinic.annotations(pulled.id)
    clinic.save_annotations(pulled.id, list(current.boxes) + [Box("Effusion", 600, 700, 150, 120, source="human",
                                                                   status="accepted")], current.version, "dr-a")
    clinic.sign_study(pulled.id, "dr-a", {}, comment="effusion added", addendum=True)
    [second] = push_pending(clinic, client, "poller")
    assert second.sent and second.export.previous_sr_uid == first.export.sr_sop_instance_uid
    e = second.export
    sr = client.retrieve_dataset(e.study_instance_uid, e.sr_series_uid, e.sr_sop_instance_uid)
    predecessor = sr.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert predecessor.ReferencedSOPInstanceUID == first.export.sr_sop_instance_uid
    assert first.export.sr_sop_instance_uid in orthanc.instance_uids(), "the first SR is still there"
    assert len(orthanc.instance_uids()) == 5
    assert [a.outcome for a in clinic.audit_events(action="pacs_push")] == ["ok", "ok"]


def test_unsigned_study_is_not_sent_unless_preliminary(clinic, orthanc, client, pacs_model, nih_bytes):
    orthanc.upload(nih_bytes)
    pull(clinic, client, "pacs-test", analyzer=pacs_model)
    study = clinic.studies_for_patient(LOCAL_PATIENT)[0]
    with pytest.raises(LungDxError, match="not signed"):
        push_results(clinic, client, study.id, "doc")
    assert len(orthanc.instance_uids()) == 1 and clinic.pacs_exports(study.id) == []
    result = push_results(clinic, client, study.id, "doc", preliminary=True)
    e = result.export
    sr = client.retrieve_dataset(e.study_instance_uid, e.sr_series_uid, e.sr_sop_instance_uid)
    assert "PRELIMINARY" in sr.SeriesDescription and sr.CompletionFlag == "PARTIAL"


def test_send_on_analysis_puts_a_preliminary_result_next_to_the_film(clinic, orthanc, pacs_settings, pacs_model,
                                                                     nih_bytes):
    from dataclasses import replace

    from lungdx_widgets.pacs.client import PacsClient

    client = PacsClient(replace(pacs_settings, send_on_analysis=True))
    orthanc.upload(nih_bytes)
    report = pull(clinic, client, "pacs-test", analyzer=pacs_model)
    study = clinic.studies_for_patient(LOCAL_PATIENT)[0]
    [preliminary] = clinic.pacs_exports(study.id)
    assert report.model_errors == [] and preliminary.signoff_id is None and len(orthanc.instance_uids()) == 3
    clinic.sign_study(study.id, "dr-x", {}, comment="ok")
    [signed] = push_pending(clinic, client, "poller")
    assert signed.export.previous_sr_uid == preliminary.sr_sop_instance_uid and len(orthanc.instance_uids()) == 5


def test_cli_push_pending_and_stubs(orthanc, pacs_settings, pacs_model, shared_dicoms, tmp_path, monkeypatch, capsys):
    from lungdx_widgets.cli import main
    from lungdx_widgets.pacs.client import PacsClient
    from lungdx_widgets.store import open_store

    for name, value in (("URL", pacs_settings.url), ("USERNAME", pacs_settings.username),
                        ("PASSWORD", pacs_settings.password)):
        monkeypatch.setenv(f"LUNGDX_PACS_{name}", value)
    nema = next(p for p in shared_dicoms if p.name.startswith("nema_"))
    orthanc.upload(nema.read_bytes())
    db = tmp_path / "cli.db"
    with open_store(db) as store:
        pull(store, PacsClient(pacs_settings), "pacs-test", analyzer=pacs_model)
        [stub] = store.pacs_stubs()
        store.sign_study(store.studies_for_patient(stub.patient_id)[0].id, "dr-x", {}, comment="ok")
    capsys.readouterr()
    assert main(["pacs", "stubs", "--db", str(db)]) == 0
    assert capsys.readouterr().out.startswith("9RG1\tPatientID 9RG1")
    assert main(["pacs", "stubs", "--db", str(db), "--reviewed", "9RG1"]) == 0
    assert main(["pacs", "push", "--pending", "--db", str(db)]) == 0
    assert "sent to the PACS" in capsys.readouterr().out and len(orthanc.instance_uids()) == 3
    with open_store(db) as store:
        assert store.pacs_stubs() == [] and store.pacs_unsent_signed_studies() == []
