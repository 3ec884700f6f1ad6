"""Prior studies in a real browser (Voila behind login, Debian's Chromium): the progression per finding
from the signed findings of two studies, and the earlier film with its signed box beside the current one,
in English and in Korean. Screenshots at 1440×900 go to tests/artifacts/priors-*.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lungdx_widgets.store import open_store
from lungdx_widgets.store.demo import DEMO_USERS
from lungdx_widgets.types import Box

from ..support import ARTIFACTS, login, running_server
from .dashboard_setup import dashboard_checkpoint, private_demo_copy, server_env, walk_in_browser

pytestmark = pytest.mark.browser

CLINICIAN = DEMO_USERS["clinician"]
SLOW = 120_000


@pytest.fixture(scope="module")
def served(tmp_path_factory, demo_db: Path):
    """A patient whose earlier film was signed with a boxed effusion and whose newest film was signed since."""
    work = tmp_path_factory.mktemp("priors-e2e")
    checkpoint = dashboard_checkpoint(work)
    db = private_demo_copy(demo_db, work / "priors.db", checkpoint)
    with open_store(db) as store:
        patient = next(p for p in store.search_patients("", limit=200)
                       if len(s := store.studies_for_patient(p.patient_id)) >= 2 and not store.signoffs(s[0].id)
                       and "'" not in p.name)
        current, prior = store.studies_for_patient(patient.patient_id)[:2]
        box = Box("Effusion", prior.width * 0.55, prior.height * 0.5, prior.width * 0.3, prior.height * 0.35,
                  source="human", status="edited")
        store.save_annotations(prior.id, [box], store.annotations(prior.id).version, CLINICIAN)
        store.sign_study(prior.id, CLINICIAN, verdicts={"Effusion": "present", "Pneumonia": "uncertain"},
                         addendum=bool(store.signoffs(prior.id)))
        store.sign_study(current.id, CLINICIAN, verdicts={"Effusion": "absent", "Pneumonia": "present"})
    with running_server(db, env=server_env(checkpoint), log=ARTIFACTS / "priors-server.log") as base:
        yield base, patient


def test_priors_side_by_side_with_progression_in_the_browser(served, browser):
    base, patient = served
    walk_in_browser(browser, lambda page: _walk(page, base, patient), ARTIFACTS / "priors-failure.png", SLOW)


def _walk(page, base: str, patient) -> None:
    login(page, base, CLINICIAN, CLINICIAN)
    page.wait_for_selector(".lx-worklist-row")
    page.fill(".lx-search-input input", patient.name.split()[0])
    page.click(f".lx-search-row[title='Open record of {patient.name}']")
    page.wait_for_selector(f".lx-banner:has-text('{patient.name}')")
    page.click(".lx-tabs >> text=Priors")
    changes = page.locator(".lx-changes li")
    changes.first.wait_for()
    texts = changes.all_inner_texts()
    assert texts[0].startswith("Pneumonia: worse — present now; uncertain on "), texts
    assert texts[1].startswith("Effusion: improved — not seen now; present on "), texts
    assert page.locator(".lx-changes li.lx-change-worse").count() == 1
    assert page.locator(".lx-prior-viewer").count() == 0, "no second film until asked for"

    page.click(".lx-side-by-side")
    page.wait_for_selector(".lx-prior-viewer img.lx-v-image[src^='data:'], .lx-prior-viewer img.lx-v-image[src^='blob:']")
    page.wait_for_selector(".lx-prior-viewer .lx-v-box-rect")
    assert page.locator(".lx-prior-viewer .lx-v-box-rect").count() == 1, "the earlier film's signed box"
    assert "signed by" in page.inner_text(".lx-prior-head")
    current, prior = (page.locator(sel).bounding_box() for sel in
                      (".lx-films > .lx-viewer:not(.lx-prior-viewer) .lx-v-stage", ".lx-prior-viewer .lx-v-stage"))
    assert prior["x"] > current["x"] + current["width"] - 2, "the earlier film is beside the current one"
    assert abs(prior["y"] - current["y"]) < 40 and prior["width"] > 250
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "priors-side-by-side-en.png"))

    page.select_option(".lx-language select", label="한국어")
    page.wait_for_selector(".lx-changes li:has-text('폐렴: 악화 — 현재 있음')")
    page.wait_for_selector(".lx-prior-head:has-text('서명')")
    assert page.locator(".lx-prior-viewer .lx-v-box-rect").count() == 1, "the film stays open across the switch"
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "priors-side-by-side-ko.png"))
    page.select_option(".lx-language select", label="English")
    page.wait_for_selector(".lx-changes li:has-text('Pneumonia: worse')")

    page.click(".lx-prior-close")
    page.wait_for_selector(".lx-prior-viewer", state="detached")
