"""The clinician's whole morning in a real browser: Voila behind login + Debian's headless Chromium.

Refused without login → log in → worklist ordered by triage → search by partial name → record
shows allergies → upload a shared DICOM (confirm the identity mismatch) → findings and heatmap
→ accept an AI box (or draw one) and save → sign off → log out. Then the database and the audit
log must say exactly that, under the clinician's name. Screenshots at 1440×900 go to tests/artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from lungdx_widgets.server.routes import DASHBOARD_PATH
from lungdx_widgets.store import open_store
from lungdx_widgets.store.demo import DEMO_USERS
from lungdx_widgets.types import TRIAGE_ORDER

from ..support import ARTIFACTS, login, running_server
from .dashboard_setup import dashboard_checkpoint, drag_on_image, private_demo_copy, server_env, walk_in_browser

pytestmark = pytest.mark.browser

CLINICIAN = DEMO_USERS["clinician"]
PASSWORD = CLINICIAN  # demo accounts use their username as password
DICOM_NAME = "siim_6904_1517875201.dcm"
SLOW = 120_000  # ms: first kernel start on 2 shared cores


@pytest.fixture(scope="module")
def e2e(tmp_path_factory, demo_db: Path):
    work = tmp_path_factory.mktemp("dashboard-e2e")
    checkpoint = dashboard_checkpoint(work)
    db = private_demo_copy(demo_db, work / "dashboard.db", checkpoint)
    with running_server(db, env=server_env(checkpoint), log=ARTIFACTS / "dashboard-server.log") as base:
        yield base, db


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"))


def _patient_with_allergies(db: Path):
    with open_store(db) as store:
        for p in store.search_patients("", limit=200):
            record = store.patient_record(p.patient_id, "e2e-check")
            if record.allergies:
                return p, [a.substance for a in record.allergies]
    raise AssertionError("no demo patient with allergies")


def test_unauthenticated_requests_are_refused(e2e):
    base, _ = e2e
    page = requests.get(base + DASHBOARD_PATH, allow_redirects=False, timeout=30)
    assert page.status_code in (302, 303, 401, 403)
    if page.status_code in (302, 303):
        assert "/login" in page.headers["Location"]
    assert requests.get(base + "/api/kernels", timeout=30).status_code == 403


def test_clinician_walks_the_main_path(e2e, browser, shared_data):
    base, db = e2e
    patient, allergies = _patient_with_allergies(db)
    walk_in_browser(browser, lambda page: _walk(page, base, patient, allergies, shared_data),
                    ARTIFACTS / "dashboard-failure.png", SLOW)
    _check_database(db, patient)


def _walk(page, base: str, patient, allergies: list[str], shared_data: Path) -> None:
    login(page, base, CLINICIAN, PASSWORD)
    page.wait_for_selector(".lx-worklist-row")
    assert "clinician" in page.inner_text(".lx-header").lower()

    # Worklist: emergent → urgent → routine → not analysed, as the database says.
    levels = [t.split()[0].lower() for t in page.locator(".lx-worklist-row").all_inner_texts()]
    ranks = [TRIAGE_ORDER.index(lv) if lv in TRIAGE_ORDER else len(TRIAGE_ORDER) for lv in levels]
    assert ranks == sorted(ranks) and ranks[0] < len(TRIAGE_ORDER), levels
    _shot(page, "1-worklist")

    # Search by part of the surname; the record shows every allergy.
    page.fill(".lx-search-input input", patient.name.split()[-1][:5].lower())
    page.click(f".lx-search-row:has-text('{patient.patient_id}')")
    page.wait_for_selector(f".lx-record:has-text('{patient.patient_id}')")
    record_text = page.inner_text(".lx-record")
    assert all(a in record_text for a in allergies) and all(a in page.inner_text(".lx-banner") for a in allergies)
    _shot(page, "2-record")

    # Upload a real DICOM; it names another patient, so the clinician confirms before it is attached.
    with page.expect_file_chooser() as chooser:  # ipywidgets' FileUpload opens a detached <input type=file>
        page.click(".lx-upload-input")
    chooser.value.set_files(str(shared_data / "dicom" / DICOM_NAME))
    page.click(".lx-upload-confirm")
    page.wait_for_selector(".lx-upload-status .lx-msg-ok")
    page.wait_for_selector(".lx-findings-chart .main-svg")
    page.wait_for_selector(".lx-model-version:has-text('Model')")
    assert re.search(r"Triage\s+(EMERGENT|URGENT|ROUTINE)", page.inner_text(".lx-triage"), re.I)
    page.wait_for_selector(".lx-v-heat[data-label='abnormal']")  # the AI heatmap is over the image
    top = page.locator(".lx-findings-list .lx-finding").first  # the most probable finding, in words
    top_label = top.inner_text().split(":")[0]
    assert "probability" in (top.get_attribute("title") or ""), "the number is on hover"
    top.click()  # select the top finding…
    page.wait_for_selector(f".lx-v-heat[data-label='{top_label}']")  # …and the viewer shows its heatmap
    assert "Research use only" in page.inner_text(".lx-findings")
    _shot(page, "3-findings")

    # Edit a box: accept the first AI proposal, or draw one when the model proposed none; then save.
    if page.locator(".lx-v-box-list li[data-index='0']").count():
        page.click(".lx-v-box-list li[data-index='0']")
        page.click(".lx-v-accept")
    else:
        drag_on_image(page, 0.3, 0.4, 0.2, 0.15)
    page.click(".lx-v-save")
    page.wait_for_selector(".lx-v-message.lx-v-msg-ok:has-text('version 1')")

    # Sign off: an answer per finding, a comment, sign.
    page.click(".lx-tabs .lm-TabBar-tab:has-text('Sign-off')")
    choices = page.locator(".lx-signoff-choice")
    for i in range(choices.count()):
        choices.nth(i).locator("button:has-text('present')").first.click()
    page.fill(".lx-signoff-comment textarea", "Agree with the AI; no pneumothorax.")
    page.click(".lx-signoff-button")
    if page.locator(".lx-signoff-message:has-text('press Sign off again')").count():
        page.click(".lx-signoff-button")  # a box contradicted an answer: shown, then signed on the second press
    page.wait_for_selector(".lx-signoff-message:has-text('Signed by')")
    _shot(page, "4-signed")

    # Log out: the dashboard is closed again.
    page.click(".lx-logout")
    page.click("#logout-submit")  # /logout asks; its button POSTs with the _xsrf token
    page.wait_for_selector("#login-submit")  # the session has ended: the login form again
    page.goto(base + DASHBOARD_PATH)
    assert "/login" in page.url


def _check_database(db: Path, patient) -> None:
    """The database and the audit log tell the same story, under the clinician's name."""
    with open_store(db) as store:
        study = next(s for s in store.studies_for_patient(patient.patient_id) if s.filename == DICOM_NAME)
        assert study.uploaded_by == CLINICIAN
        prediction = store.latest_prediction(study.id)
        assert prediction is not None and prediction.created_by == CLINICIAN
        saved = store.annotations(study.id)
        assert (saved.version, saved.author) == (1, CLINICIAN) and saved.boxes
        signed = store.first_signoff(study.id)
        assert signed.signed_by == CLINICIAN and signed.verdicts and set(signed.verdicts.values()) == {"present"}
        assert signed.comment.startswith("Agree with the AI")
        trail = [(e.action, e.obj) for e in store.audit_events(limit=500, actor=CLINICIAN)]
    for expected in [("view", f"patient:{patient.patient_id}"), ("add_study", f"study:{study.id}"),
                     ("add_prediction", f"study:{study.id}"),                     ("save_annotations", f"study:{study.id}"), ("sign_study", f"study:{study.id}"),
                     ("logout", f"user:{CLINICIAN}")]:
        assert expected in trail, (expected, trail[:20])
