"""A DICOM sent to Orthanc appears analysed on the dashboard's worklist (``lungdx serve`` polling the PACS)."""

from __future__ import annotations

import time

from lungdx_widgets.store import open_store

from ..e2e.dashboard_setup import dashboard_checkpoint, server_env, walk_in_browser
from ..support import ARTIFACTS, login, running_server
from .conftest import LOCAL_PATIENT

CLINICIAN, PASSWORD = "pacs-clinician", "pacs-clinician-password-1"
SLOW = 240_000


def test_dicom_sent_to_orthanc_is_on_the_worklist_analysed(orthanc, pacs_settings, nih_bytes, browser, tmp_path):
    db = tmp_path / "pacs-e2e.db"
    with open_store(db) as store:
        store.add_user(CLINICIAN, PASSWORD, "clinician", actor="test")
        store.add_patient(LOCAL_PATIENT, "Pacs Testpatient", actor="test")
    orthanc.upload(nih_bytes)  # what a modality's C-STORE does
    env = dict(server_env(dashboard_checkpoint(tmp_path)), LUNGDX_PACS_URL=pacs_settings.url,
               LUNGDX_PACS_USERNAME=pacs_settings.username, LUNGDX_PACS_PASSWORD=pacs_settings.password,
               LUNGDX_PACS_POLL_SECONDS="2")
    with running_server(db, env=env) as base:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # the poller files it in the background
            with open_store(db) as store:
                studies = store.studies_for_patient(LOCAL_PATIENT)
                if studies and store.latest_prediction(studies[0].id) is not None:
                    level = store.latest_prediction(studies[0].id).triage_level
                    break
            time.sleep(1)
        else:
            raise AssertionError("the poller did not file and analyse the Orthanc instance in 180 s")

        def walk(page) -> None:
            login(page, base, CLINICIAN, PASSWORD, timeout_ms=SLOW)
            row = page.locator(".lx-worklist-row", has_text="Pacs Testpatient")
            row.wait_for(timeout=SLOW)
            assert row.inner_text().split()[0].lower() == level.lower()

        walk_in_browser(browser, walk, ARTIFACTS / "pacs-worklist-failure.png", SLOW)
