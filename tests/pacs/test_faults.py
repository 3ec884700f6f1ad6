"""Each PACS fault: a clear message, retries where it may pass, nothing half-filed, an audit row.

Down / 401 / 404 come from the real Orthanc (closed port, wrong password, wrong path); 500 and a
cut-off multipart answer are injected by a proxy in front of it (tests/pacs/faults.py).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from lungdx_widgets.pacs.client import (PacsAuthError, PacsBadResponse, PacsClient, PacsNotFound, PacsServerError,
                                        PacsUnavailable)
from lungdx_widgets.pacs.orthanc import free_port
from lungdx_widgets.pacs.pull import pull
from lungdx_widgets.pacs.push import push_results

from .conftest import LOCAL_PATIENT, variant
from .faults import FaultProxy


def snapshot(store, orthanc) -> tuple:
    """What a fault must leave as it was: patients, pulled links, worklist, and Orthanc's instances."""
    uids = orthanc.instance_uids()
    return store.count_patients(), sorted(store.pulled_uids(uids)), len(store.worklist(limit=1000)), uids


@pytest.mark.parametrize("fault, error, text, attempts", [
    ("down", PacsUnavailable, "does not answer", 3),
    ("401", PacsAuthError, "refused the credentials", 1),
    ("404", PacsNotFound, "HTTP 404", 1),
])
def test_search_faults_stop_the_pull_with_a_message_and_file_nothing(fault, error, text, attempts, clinic, orthanc,
                                                                     pacs_settings, pacs_model, nih_bytes):
    orthanc.upload(nih_bytes)
    settings = {"down": replace(pacs_settings, url=f"http://127.0.0.1:{free_port()}/dicom-web"),
                "401": replace(pacs_settings, password="pw-not-it-42"),
                "404": replace(pacs_settings, url=orthanc.url + "/no-such-root")}[fault]
    waits: list[float] = []
    before = snapshot(clinic, orthanc)
    with pytest.raises(error, match=text) as raised:
        pull(clinic, PacsClient(settings, sleep=waits.append), "pacs-test", analyzer=pacs_model)
    assert len(waits) == attempts - 1 and waits == sorted(waits), "back-off grows between attempts"
    assert "pw-not-it-42" not in str(raised.value)
    assert snapshot(clinic, orthanc) == before
    [row] = clinic.audit_events(action="pacs_pull")
    assert row.outcome == "error" and text in row.detail and "pw-not-it-42" not in row.detail


@pytest.mark.parametrize("injected, text", [("500", "HTTP 500"), ("truncate", "was cut off")])
def test_retrieve_faults_refuse_the_instance_after_retries(injected, text, clinic, orthanc, pacs_settings,
                                                            pacs_model, nih_bytes):
    orthanc.upload(nih_bytes)
    with FaultProxy(orthanc.url) as proxy:
        proxy.match = "/studies/"  # WADO-RS retrieve (the search goes to /instances)
        proxy.faults.extend([injected] * 3)
        client = PacsClient(replace(pacs_settings, url=proxy.url + "/dicom-web"), sleep=lambda _s: None)
        before = snapshot(clinic, orthanc)
        report = pull(clinic, client, "pacs-test", analyzer=pacs_model)
        retrieves = [r for r in proxy.requests if "/studies/" in r]
    assert report.filed == 0 and len(report.refused) == 1 and text in report.refused[0][1]
    assert "after 3 attempts" in report.refused[0][1] and len(retrieves) == 3
    assert snapshot(clinic, orthanc) == before
    errors = [e for e in clinic.audit_events(action="pacs_pull") if e.outcome == "error"]
    assert any(e.obj.startswith("sop:") and text in e.detail for e in errors)


def test_a_transient_500_is_retried_and_the_instance_filed(clinic, orthanc, pacs_settings, pacs_model, nih_bytes):
    orthanc.upload(nih_bytes)
    with FaultProxy(orthanc.url) as proxy:
        proxy.match = "/studies/"
        proxy.faults.extend(["500", "500"])
        client = PacsClient(replace(pacs_settings, url=proxy.url + "/dicom-web"), sleep=lambda _s: None)
        report = pull(clinic, client, "pacs-test", analyzer=pacs_model)
    assert report.filed == 1 and report.analysed == 1 and report.refused == []
    assert len(clinic.studies_for_patient(LOCAL_PATIENT)) == 1


@pytest.mark.parametrize("change, text", [
    ({"PixelData": None}, "no image"),
    ({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.88.22"}, "not a radiograph"),  # an Enhanced SR labelled DX
])
def test_a_non_image_instance_is_refused_and_nothing_filed(change, text, clinic, orthanc, client, pacs_model,
                                                           nih_bytes):
    orthanc.upload(variant(nih_bytes, **change))
    before = snapshot(clinic, orthanc)
    report = pull(clinic, client, "pacs-test", analyzer=pacs_model)
    assert report.filed == 0 and len(report.refused) == 1
    assert text in report.refused[0][1].lower(), report.refused
    assert snapshot(clinic, orthanc) == before


@pytest.mark.parametrize("fault", ["down", "500"])
def test_push_faults_leave_no_export_and_orthanc_unchanged(fault, clinic, orthanc, client, pacs_settings,
                                                           pacs_model, nih_bytes):
    orthanc.upload(nih_bytes)
    pull(clinic, client, "pacs-test", analyzer=pacs_model)
    study = clinic.studies_for_patient(LOCAL_PATIENT)[0]
    clinic.sign_study(study.id, "dr-x", {}, comment="ok")
    before = orthanc.instance_uids()
    with FaultProxy(orthanc.url) as proxy:
        proxy.match = "/studies"  # STOW-RS
        proxy.faults.extend(["500"] * 3)
        url = f"http://127.0.0.1:{free_port()}/dicom-web" if fault == "down" else proxy.url + "/dicom-web"
        broken = PacsClient(replace(pacs_settings, url=url), sleep=lambda _s: None)
        with pytest.raises((PacsUnavailable, PacsServerError, PacsBadResponse)):
            push_results(clinic, broken, study.id, "dr-x")
    assert orthanc.instance_uids() == before and clinic.pacs_exports(study.id) == []
    [row] = clinic.audit_events(action="pacs_push")
    assert row.outcome == "error" and row.actor == "dr-x"
    assert push_results(clinic, client, study.id, "dr-x").sent, "after the fault the same push goes through"
