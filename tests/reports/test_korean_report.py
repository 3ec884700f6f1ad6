"""The study report in Korean: HTML with <html lang="ko"> and Korean terms, and a PDF with an embedded Hangul font."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from lungdx_widgets.i18n import translate
from lungdx_widgets.reports.html import render_html
from lungdx_widgets.reports.pdf import find_browser, html_to_pdf

from ..support import ARTIFACTS


def _text(html: str) -> str:
    body = html.split("<body>", 1)[1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_korean_report_html(scenario):
    ctx = scenario.context(scenario.reviewed[0])
    html = render_html(ctx, generated_by="pytest", lang="ko")
    text = _text(html)
    assert '<html lang="ko">' in html and "Noto Sans CJK KR" in html
    for words in ("흉부 방사선 판독 보고서", "환자", "알레르기", "우선순위 분류", "소견", "판독의 서명", "폐렴", "무기폐"):
        assert words in text, words
    for reason in ctx.triage.reasons:
        assert translate(reason, "ko") in text
    assert "만성 폐쇄성 폐질환" in text, "the patient's COPD is named in Korean"
    english = {"Patient", "Findings", "Triage", "Allergies", "Signed by", "likely", "raised from", "Not signed"}
    assert not [w for w in english if w in text]
    assert render_html(ctx, lang="en").startswith('<!DOCTYPE html>\n<html lang="en">')


def test_korean_pdf_embeds_a_hangul_font(scenario):
    """Chromium and poppler's pdffonts come from ``make test`` (the Makefile's chromium target): never skipped."""
    assert find_browser() is not None and shutil.which("pdffonts"), "run `make chromium` (Chromium and poppler-utils)"
    ctx = scenario.context(scenario.reviewed[0])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = html_to_pdf(render_html(ctx, generated_by="pytest", lang="ko"), ARTIFACTS / "report-ko.pdf")
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:]]
    # Chromium embeds the CFF-based Noto CJK glyphs as Type 3 outlines: every font is embedded, none left to the viewer
    assert rows and all(row[-5] == "yes" for row in rows), fonts
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "흉부 방사선 판독 보고서" in text and "폐렴" in text
    if shutil.which("pdftoppm"):  # a picture to look at (tests/artifacts/report-ko-1.png)
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "2", str(pdf), str(ARTIFACTS / "report-ko")],
                       check=True)


@pytest.mark.skipif(not __import__("lungdx_widgets.i18n", fromlist=["x"]).CJK_FONT_FILE.is_file(),
                    reason="fonts-noto-cjk not installed (make setup installs it)")
def test_box_tags_are_drawn_with_a_korean_font():
    from lungdx_widgets.reports.overlay import _font

    font = _font(14)
    assert font.getname()[0] == "Noto Sans CJK KR"
    assert font.getbbox("흉수")[2] > 0 and font.getmask("흉수").getbbox() is not None
