"""The dashboard for a Korean clinician: Korean words, and switching language keeps the patient and the edits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lungdx_widgets import i18n
from lungdx_widgets.app import Dashboard
from lungdx_widgets.store import open_store
from lungdx_widgets.types import Box
from lungdx_widgets.widgets.upload import SharedAnalyzer

HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture()
def korean_clinic(demo_db: Path, tmp_path: Path):
    with open_store(demo_db) as source:
        source.backup(tmp_path / "ko.db")
    store = open_store(tmp_path / "ko.db")
    store.add_user("dr-kim", "long-enough-pw", "clinician", display_name="김 선생님", language="ko")
    yield store
    store.close()
    i18n.set_language("en")


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def _study_with_prediction(store):
    return next(i for i in store.worklist() if i.prediction is not None)


def test_korean_clinician_sees_korean_and_switching_keeps_the_study_and_edits(korean_clinic, tmp_path):
    d = Dashboard(korean_clinic, username="dr-kim", analyzer=SharedAnalyzer(tmp_path / "absent.pt"),
                  warm_up_model=False)
    assert d.language == "ko" and d.language_switch.value == "ko" and d.page_language.lang == "ko"
    assert d.tabs.titles == ("소견", "기록", "이전 검사", "서명")
    assert "오늘의 판독 목록" in d.worklist._title.value and "로그아웃" in d.user_links.value
    assert d.search.query.placeholder.startswith("환자 검색")
    item = _study_with_prediction(korean_clinic)
    d.worklist.open_study(item.study_id)
    assert d.study_id == item.study_id
    words = " ".join(b.description for b in d.findings.words.children) + _text(d.findings._triage.value)
    assert HANGUL.search(words) and "likely" not in words and "Triage" not in words
    assert re.search("응급|우선|일반", d.findings._triage.value)
    assert HANGUL.search(d.record._html.value) and "Allergies" not in d.record._html.value

    d.viewer.boxes = [*d.viewer.boxes, Box("Nodule", 10, 10, 30, 30, None, "human", "edited").as_dict()]
    unsaved = list(d.viewer.boxes)
    views_before = len(korean_clinic.audit_events(limit=1000, actor="dr-kim", action="view"))
    d.language_switch.value = "en"
    assert d.tabs.titles == ("Findings", "Record", "Priors", "Sign-off")
    assert "worklist · " in d.worklist._title.value and "Triage" in d.findings._triage.value
    assert not HANGUL.search(" ".join(b.description for b in d.findings.words.children))
    assert d.worklist.filter._options_labels == ("All", "Unsigned", "Emergent", "Mine")
    assert d.signoff.sign.description == "Sign off" and d.upload.picker.label == "Upload X-ray"
    assert d.study_id == item.study_id and d.viewer.boxes == unsaved, "same study, unsaved boxes kept"
    assert len(korean_clinic.audit_events(limit=1000, actor="dr-kim", action="view")) == views_before, \
        "nothing re-opened"
    assert korean_clinic.get_user("dr-kim").language == "en", "kept with the account"
    assert d.page_language.lang == "en"
    d.language_switch.value = "ko"
    assert d.tabs.titles == ("소견", "기록", "이전 검사", "서명") and d.signoff.sign.description == "서명하기"


def test_a_user_without_a_language_follows_the_browser(korean_clinic, tmp_path, monkeypatch):
    korean_clinic.add_user("dr-lee", "long-enough-pw", "clinician")
    monkeypatch.setenv(i18n.ACCEPT_LANGUAGE_ENV, "ko-KR,ko;q=0.9,en;q=0.5")
    d = Dashboard(korean_clinic, username="dr-lee", analyzer=SharedAnalyzer(tmp_path / "absent.pt"),
                  warm_up_model=False)
    assert d.language == "ko" and d.tabs.titles[0] == "소견"
    monkeypatch.setenv(i18n.ACCEPT_LANGUAGE_ENV, "en-US")
    assert Dashboard(korean_clinic, username="dr-lee", analyzer=SharedAnalyzer(tmp_path / "absent.pt"),
                     warm_up_model=False).language == "en"


def test_one_hangul_capable_font_stack_for_the_dashboard_and_the_viewer():
    from lungdx_widgets.widgets.theme import stylesheet

    css = stylesheet().value
    assert f"--lx-font: {i18n.FONT_STACK};" in css and i18n.FONT_STACK.startswith('"Noto Sans CJK KR"')
    viewer_css = (Path(i18n.__file__).parent / "widgets" / "viewer.css").read_text()
    assert "font-family: var(--lx-font" in css and "font-family: var(--lx-font" in viewer_css
