"""Message catalogues: every catalogued string has a Korean translation; language choice; stored text translated."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from lungdx_widgets import i18n
from lungdx_widgets.i18n import LANGUAGES, gettext, negotiate, page_language, translate, use_language
from lungdx_widgets.terms import FINDINGS, finding_name, level_name
from lungdx_widgets.triage import assess

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"_": None, "gettext": None, "N_": None, "T_": None}


def _method_map() -> list[tuple[str, str]]:
    """The extraction map of ``babel.cfg`` (the file the Makefile and translators use)."""
    text = (ROOT / "babel.cfg").read_text()
    extractors = dict(re.findall(r"^(\w+) = ([\w.:]+)$", text, re.M))
    sections = re.findall(r"^\[(\w+): ([^\]]+)\]", text, re.M)
    return [(pattern, extractors.get(method, method)) for method, pattern in sections]


@pytest.fixture(scope="module")
def source_messages() -> set[str]:
    found = extract_from_dir(str(ROOT), _method_map(), keywords=KEYWORDS)
    return {m if isinstance(m, str) else m[0] for _file, _line, m, _comments, _ctx in found} - {""}


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_catalogued_ui_string_has_a_translation(source_messages, lang):
    po = ROOT / "lungdx_widgets" / "locale" / lang / "LC_MESSAGES" / "lungdx.po"
    catalog = read_po(po.open("rb"), locale=lang)
    assert len(source_messages) > 100, "extraction found the sources"
    untranslated = sorted(m for m in source_messages if not (catalog.get(m) and catalog.get(m).string))
    assert not untranslated, f"no {lang} translation (run pybabel update and translate): {untranslated}"
    fuzzy = sorted(m.id for m in catalog if m.id and m.fuzzy)
    assert not fuzzy, f"fuzzy (unchecked) translations: {fuzzy}"
    for msg in catalog:
        if msg.id:
            fields = set(re.findall(r"\{(\w+)\}", msg.id))
            assert set(re.findall(r"\{(\w+)\}", msg.string)) == fields, f"placeholders differ: {msg.id!r}"
    # the checks ``pybabel compile`` runs in ``make setup`` (a bare "% o" reads as a %-format there)
    problems = [(msg.id, [str(e) for e in errors]) for msg, errors in catalog.check()]
    assert not problems, f"pybabel compile would refuse: {problems}"


def test_korean_radiology_terms():
    expected = {"Pneumonia": "폐렴", "Tuberculosis": "결핵", "Pneumothorax": "기흉", "Nodule": "결절",
                "Effusion": "흉수", "Atelectasis": "무기폐", "Cardiomegaly": "심비대", "Consolidation": "경화",
                "Infiltration": "침윤", "Edema": "폐부종", "Mass": "종괴", "Emphysema": "폐기종"}
    assert {label: finding_name(label, "ko") for label in expected} == expected
    assert finding_name("Pleural_Thickening", "en") == "Pleural Thickening"
    assert all(finding_name(label, "ko") != label for label in FINDINGS if label != "COVID-19")
    assert [level_name(lv, "ko") for lv in ("emergent", "urgent", "routine")] == ["응급", "우선", "일반"]


def test_stored_english_triage_reasons_read_in_korean():
    from lungdx_widgets.store.records import Condition, Patient, PatientRecord

    record = PatientRecord(Patient("K", "김민준", "M", "1947-01-01"),
                           conditions=(Condition(1, "K", "COPD", "", "active"),))
    t = assess({"Pneumonia": 0.8, "Nodule": 0.7}, record, today=datetime(2026, 11, 28).date())
    korean = [translate(r, "ko") for r in t.reasons]
    assert korean[0] == "만성 폐쇄성 폐질환 병력이 있는 79세 환자에서 폐렴 가능성 높음 — 수 시간 내 항생제 투여 시작"
    assert korean[-2] == "위험 인자: 만성 폐쇄성 폐질환, 79세"
    assert not any(re.search(r"[a-z]{3,}", k) for k in korean), korean
    assert translate(t.reasons[0], "en") == t.reasons[0]
    assert translate("a sentence nobody catalogued", "ko") == "a sentence nobody catalogued"


def test_raised_and_guard_reasons_translate():
    t = assess({"Nodule": 0.7}, None)
    assert translate("raised from routine: COPD, age 75", "ko") == "위험 인자로 일반에서 상향: 만성 폐쇄성 폐질환, 75세"
    assert translate(t.reasons[-1], "ko") == "환자 기록 없음: 위험 인자 미확인"


@pytest.mark.parametrize("header, lang", [("ko-KR,ko;q=0.9,en-US;q=0.8", "ko"), ("ko-KR", "ko"), ("ko", "ko"),
                                          ("en-US,en;q=0.9,ko;q=0.8", "en"), ("fr-FR,fr", "en"), ("", "en"),
                                          (None, "en"), ("garbage;;q=x,,", "en"), ("de;q=0.9,ko;q=0.5", "ko")])
def test_language_from_accept_language(header, lang):
    assert negotiate(header) == lang


def test_account_language_wins_over_the_browser():
    assert page_language("en-US", lang="ko")["lang"] == "ko"
    assert page_language("ko-KR")["lang"] == "ko"
    assert page_language("ko-KR")["_"]("Log in") == "로그인"


def test_the_kernel_language_holds_in_callbacks_run_in_other_contexts():
    import contextvars

    try:
        i18n.set_language("ko")
        assert contextvars.Context().run(lambda: gettext("Log in")) == "로그인"  # a fresh context, as a comm handler
    finally:
        i18n.set_language("en")


def test_language_is_per_context_and_unknown_codes_fall_back():
    assert gettext("Log in") == "Log in"
    with use_language("ko"):
        assert gettext("Log in") == "로그인"
        with use_language("xx"):
            assert gettext("Log in") == "Log in"
    assert i18n.language() == "en"


def test_dates_show_the_time_zone_in_the_readers_locale():
    moment = datetime(2026, 12, 2, 4, 30, tzinfo=timezone.utc)
    assert i18n.format_datetime(moment, "ko") == "2026. 12. 2. 오전 4:30:00 UTC"
    assert i18n.format_datetime(moment, "en") == "Dec 2, 2026, 4:30:00\u202fAM UTC"


def test_a_stale_compiled_catalogue_is_not_used(tmp_path, monkeypatch):
    po = ROOT / "lungdx_widgets" / "locale" / "ko" / "LC_MESSAGES" / "lungdx.po"
    (tmp_path / "ko" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "ko" / "LC_MESSAGES" / "lungdx.mo").write_bytes(b"not a catalogue")  # older than the .po
    (tmp_path / "ko" / "LC_MESSAGES" / "lungdx.po").write_bytes(po.read_bytes())
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        import os
        os.utime(tmp_path / "ko" / "LC_MESSAGES" / "lungdx.mo", (0, 0))
        assert gettext("Log in", "ko") == "로그인"
    finally:
        i18n.translations.cache_clear()


def test_kernel_language_comes_from_the_account_else_the_browser(monkeypatch):
    from lungdx_widgets.i18n import ACCEPT_LANGUAGE_ENV, choose_language
    from lungdx_widgets.server.launch import server_argv

    monkeypatch.setenv(ACCEPT_LANGUAGE_ENV, "ko-KR,ko;q=0.9")
    assert choose_language("") == "ko" and choose_language("en") == "en"
    monkeypatch.delenv(ACCEPT_LANGUAGE_ENV)
    assert choose_language(None) == "en"
    envs = next(a for a in server_argv("127.0.0.1", 8866) if a.startswith("--VoilaConfiguration.http_header_envs="))
    assert "'Accept-Language'" in envs, "Voila passes the header on to the kernel"


def test_a_shown_label_can_be_shown_again_in_another_language():
    assert i18n.untranslate("로그인", "ko") == "Log in"
    assert i18n.untranslate("Log in", "en") == "Log in"
    assert i18n.untranslate("not in any catalogue", "ko") == "not in any catalogue"
    assert i18n.untranslate("알레르기", "ko") == "Allergies", "a shared translation goes back to the label"
