"""Issue 15/16 in a real browser: Voila behind login + Debian's headless Chromium, one clinician session.

The allergy banner follows a record change; a file above the upload limit is refused in the page
before any byte is sent (the limit in the message) and the next upload still works; "Draw as"
does not carry the last study's label; unsaved boxes ask save / discard / stay; an AI result the
model flagged as unlike its training films says so above the findings and in the worklist.
Screenshots at 1440×900, 1280×720 and 1024×768 go to tests/artifacts/clinical-*.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lungdx_widgets.store import open_store
from lungdx_widgets.store.demo import DEMO_USERS
from lungdx_widgets.types import Triage

from ..support import ARTIFACTS, login, running_server
from .dashboard_setup import dashboard_checkpoint, drag_on_image, private_demo_copy, server_env, walk_in_browser

pytestmark = pytest.mark.browser

CLINICIAN = DEMO_USERS["clinician"]
SLOW = 120_000
LIMIT = 1024 * 1024  # a small upload limit for this server, so the refused file stays small
SMALL_PNG = "nihtalo_00001854_003.png"
SCREENS = ((1440, 900), (1280, 720), (1024, 768))


@pytest.fixture(scope="module")
def served(tmp_path_factory, demo_db: Path):
    work = tmp_path_factory.mktemp("clinical-e2e")
    checkpoint = dashboard_checkpoint(work)
    db = private_demo_copy(demo_db, work / "clinical.db", checkpoint)
    with open_store(db) as store:  # the model owner's guard flagged one of today's films
        item = next(i for i in store.worklist() if i.prediction is not None)
        findings = item.prediction.to_findings()
        findings.out_of_distribution, findings.ood_score = True, 0.97
        store.add_prediction(item.study_id, findings, Triage(item.prediction.triage_level,
                                                             item.prediction.triage_reasons), "e2e-setup")
        patient = next(p for p in store.search_patients("", limit=100)
                       if store.studies_for_patient(p.patient_id) and p.patient_id != item.patient_id)
    env = {**server_env(checkpoint), "LUNGDX_MAX_UPLOAD_BYTES": str(LIMIT)}
    with running_server(db, env=env, log=ARTIFACTS / "clinical-server.log") as base:
        yield base, db, item.study_id, patient


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"clinical-{name}.png"))


def test_clinician_safety_path_in_the_browser(served, browser, shared_data, tmp_path):
    base, db, ood_study, patient = served
    walk_in_browser(browser, lambda page: _walk(page, base, patient, shared_data, tmp_path),
                    ARTIFACTS / "clinical-failure.png", SLOW)
    with open_store(db) as store:
        record = store.patient_record(patient.patient_id, "e2e-check")
        assert "Iodinated contrast" in [a.substance for a in record.allergies]
        assert not [s for s in store.studies_for_patient(patient.patient_id) if s.filename == "oversize.dcm"]


def _walk(page, base: str, patient, shared_data: Path, tmp_path: Path) -> None:
    login(page, base, CLINICIAN, CLINICIAN)
    page.wait_for_selector(".lx-worklist-row")
    assert page.locator(".lx-worklist-row:has-text('AI unreliable')").count() >= 1, "the worklist shows the flag"  # the real model flags some demo films too

    # The allergy banner follows a change made in the Record tab.
    page.fill(".lx-search-input input", patient.patient_id)
    page.click(f".lx-search-row:has-text('{patient.patient_id}')")
    page.wait_for_selector(f".lx-banner:has-text('{patient.patient_id}')")
    page.click("text=Add encounter, allergy")
    page.select_option(".lx-add-type select", "allergy")
    page.fill(".lx-add-substance input", "Iodinated contrast")
    page.fill(".lx-add-reaction input", "anaphylaxis")
    page.select_option(".lx-add-severity select", "severe")
    page.click(".lx-add-save")
    page.wait_for_selector(".lx-banner:has-text('Iodinated contrast')")

    # Above the upload limit: refused in the page, with the limit; the next upload still works.
    big = tmp_path / "oversize.dcm"
    big.write_bytes(b"\0" * (2 * LIMIT))
    with page.expect_file_chooser() as chooser:
        page.click(".lx-upload-button")
    chooser.value.set_files(str(big))
    page.wait_for_selector(".lx-upload-status .lx-msg-error:has-text('upload limit of 1.0 MB')")
    with page.expect_file_chooser() as chooser:
        page.click(".lx-upload-button")
    chooser.value.set_files(str(shared_data / "images" / SMALL_PNG))
    page.wait_for_selector(".lx-upload-status .lx-msg-ok, .lx-upload-status .lx-msg-info")
    assert "upload limit" not in page.inner_text(".lx-upload-status")

    # "Draw as" starts from the first label on another film.
    select = page.locator(".lx-v-label-select")
    options = select.locator("option").all_inner_texts()
    assert len(options) > 1, options
    select.select_option(options[-1])
    page.locator(".lx-worklist-row:not(.lx-selected):not(.lx-ai-unreliable)").first.click()
    page.wait_for_function("(first) => document.querySelector('.lx-v-label-select').value === first", arg=options[0])

    # Unsaved boxes: draw one, then open another study: save / discard / stay.
    drag_on_image(page, 0.3, 0.4, 0.15, 0.1)
    page.wait_for_selector(".lx-v-dirty.lx-v-is-dirty")
    title = page.inner_text(".lx-v-title")
    page.click(".lx-worklist-row:has-text('AI unreliable')")
    page.wait_for_selector(".lx-unsaved-prompt:has-text('Unsaved box changes')")
    page.click(".lx-unsaved-stay")
    page.wait_for_selector(".lx-unsaved-prompt", state="hidden")
    assert page.inner_text(".lx-v-title") == title and page.locator(".lx-v-dirty.lx-v-is-dirty").count() == 1

    # The AI-unreliable result says so, in words, above the findings.
    page.click(".lx-worklist-row:has-text('AI unreliable')")
    page.wait_for_selector(".lx-unsaved-prompt:has-text('Unsaved box changes')")
    page.click(".lx-unsaved-discard")
    banner = page.wait_for_selector(".lx-ood-banner:has-text('differs from the films the model learned from')")
    words = page.wait_for_selector(".lx-findings-list .lx-finding")
    assert banner.bounding_box()["y"] < words.bounding_box()["y"], "the warning is above the findings"
    assert "read it yourself" in banner.inner_text()
    title_attr = words.get_attribute("title")
    assert title_attr and ("probability" in title_attr or "not trained" in title_attr)
    for width, height in SCREENS:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(800)
        _shot(page, f"{width}x{height}")
        stage = page.locator(".lx-v-stage").bounding_box()
        assert stage["y"] + stage["height"] <= height, f"the image is cut off at {width}x{height}"
        logout = page.locator(".lx-logout").bounding_box()
        assert logout["height"] < 24, f"'Log out' wraps at {width}x{height}"
        assert page.evaluate("(() => { const b = document.querySelector('.lx-focus-toggle');"
                             " return b.scrollWidth <= b.clientWidth; })()"), f"'Focus image' is cut at {width}x{height}"
    page.click(".lx-focus-toggle")  # Focus image: the side panels go, the radiograph fills the screen
    page.wait_for_selector(".lx-right", state="hidden")
    stage = page.locator(".lx-v-stage").bounding_box()
    assert stage["width"] > 0.55 * SCREENS[-1][0], stage
    _shot(page, "1024x768-focus")
