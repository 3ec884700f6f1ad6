"""A Korean clinician in a real browser (Voila behind login, Debian's Chromium): Korean words, Hangul search
(초성), a language switch that keeps the open patient. Screenshot: tests/artifacts/korean-dashboard.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from lungdx_widgets.hangul import initials
from lungdx_widgets.store import open_store
from lungdx_widgets.store.demo_data import KOREAN_NAMES

from ..support import ARTIFACTS, login, running_server
from .dashboard_setup import dashboard_checkpoint, private_demo_copy, server_env, walk_in_browser

pytestmark = pytest.mark.browser

KOREAN_USER = ("dr-kim", "Kim-pw-4tWq8!")
SLOW = 120_000
SCREENS = ((1440, 900), (1280, 720), (1024, 768))


@pytest.fixture(scope="module")
def served(tmp_path_factory, demo_db: Path):
    work = tmp_path_factory.mktemp("korean-e2e")
    checkpoint = dashboard_checkpoint(work)
    db = private_demo_copy(demo_db, work / "korean.db", checkpoint)
    names = {n for group in KOREAN_NAMES.values() for n in group}
    with open_store(db) as store:
        store.add_user(*KOREAN_USER, "clinician", display_name="김 선생님", language="ko")
        patient = next(p for p in store.search_patients("", limit=200)
                       if p.name in names and store.patient_record(p.patient_id, "e2e-setup").conditions)
    with running_server(db, env=server_env(checkpoint), log=ARTIFACTS / "korean-server.log") as base:
        yield base, db, patient


def test_korean_dashboard_in_the_browser(served, browser):
    base, db, patient = served
    walk_in_browser(browser, lambda page: _walk(page, base, patient), ARTIFACTS / "korean-failure.png", SLOW)
    with open_store(db) as store:
        assert store.get_user(KOREAN_USER[0]).language == "en", "the switch is kept with the account"


def _walk(page, base: str, patient) -> None:
    login(page, base, *KOREAN_USER)
    page.wait_for_selector(".lx-worklist-row")
    assert page.locator(".lx-worklist:has-text('오늘의 판독 목록')").count() == 1
    page.wait_for_function("document.documentElement.lang === 'ko'")
    font = page.evaluate("getComputedStyle(document.querySelector('.lx-dashboard')).fontFamily")
    assert font.startswith('"Noto Sans CJK KR"'), font
    assert page.locator(".lx-tabs:has-text('이전 검사')").count() == 1
    page.fill(".lx-search-input input", initials(patient.name))  # 초성, as Korean hospital systems offer
    page.click(f".lx-search-row:has-text('{patient.name}')")
    page.wait_for_selector(f".lx-banner:has-text('{patient.name}')")
    page.click(".lx-tabs >> text=기록")
    page.wait_for_selector(".lx-record:has-text('만성 질환')")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "korean-dashboard.png"))
    page.click(".lx-tabs >> text=소견")
    page.wait_for_selector(".lx-triage:has-text('분류')")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "korean-findings.png"))
    for width, height in SCREENS:  # the same three screens as the English walk (looked at by eye)
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / f"korean-findings-{width}x{height}.png"))
        stage = page.locator(".lx-v-stage").bounding_box()
        assert stage["y"] + stage["height"] <= height, f"the image is cut off at {width}x{height}"
    page.set_viewport_size({"width": SCREENS[0][0], "height": SCREENS[0][1]})
    page.click(".lx-tabs >> text=기록")
    page.select_option(".lx-language select", label="English")
    page.wait_for_selector(".lx-worklist:has-text(\"Today's worklist\")")
    assert page.locator(f".lx-banner:has-text('{patient.name}')").count() == 1, "the patient stays open"
    page.wait_for_selector(".lx-record:has-text('Chronic conditions')")  # panels redraw one after another
    assert page.locator(".lx-record:has-text('Chronic conditions')").count() == 1
    for words in ("Patients", "Upload X-ray", "Unsigned"):
        assert page.locator(f".lx-dashboard :text-is('{words}')").count() >= 1, words
    assert page.evaluate("document.documentElement.lang") == "en"
    page.screenshot(path=str(ARTIFACTS / "korean-dashboard-switched-en.png"))
    page.select_option(".lx-language select", label="한국어")
    page.wait_for_selector(".lx-worklist:has-text('오늘의 판독 목록')")
    page.select_option(".lx-language select", label="English")
    page.wait_for_selector(".lx-worklist:has-text(\"Today's worklist\")")
