"""The viewer's words in the reader's language: every word viewer.js shows is sent translated (``texts``),
box labels are shown by the reader's term (``label_names``) while the boxes keep canonical labels, and a
language switch (the dashboard's ``retranslate``) reaches the viewer."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import ipywidgets as w
import pytest

from lungdx_widgets.i18n import use_language
from lungdx_widgets.imaging import load_image
from lungdx_widgets.store import open_store
from lungdx_widgets.widgets import viewer as viewer_module
from lungdx_widgets.widgets.editor import AnnotationEditor
from lungdx_widgets.widgets.theme import retranslate
from lungdx_widgets.widgets.viewer import ImageViewer

from .viewer_support import REVIEW_CLASSES, REVIEW_IMAGE, proposals, seed_review_study

HANGUL = re.compile(r"[\uac00-\ud7a3]")
#: ``_("…")`` and ``N_("…")`` calls in viewer.js, read here without Babel (so a gap in the widget's own
#: extraction shows up); a string literal, double-quoted, as the file writes them.
CALL = re.compile(r"\bN?_\(\"((?:[^\"\\]|\\.)*)\"")


def js_msgids() -> set[str]:
    source = (Path(viewer_module.__file__).with_name("viewer.js")).read_text(encoding="utf-8")
    return set(CALL.findall(source))


@pytest.fixture()
def viewer(shared_data: Path) -> ImageViewer:
    v = ImageViewer(language="ko")
    boxes = proposals(shared_data)
    boxes[0] = replace(boxes[0], label="Pneumonia")
    v.set_study(load_image(shared_data / "images" / REVIEW_IMAGE), boxes=boxes, classes=REVIEW_CLASSES)
    return v


def test_every_word_of_the_browser_is_sent_in_korean(viewer):
    words = js_msgids()
    assert len(words) > 40, "the regex found the words of viewer.js"
    assert set(viewer.texts) == words
    english_left = sorted(m for m, text in viewer.texts.items() if not HANGUL.search(text))
    assert english_left == [], f"no Korean for: {english_left}"
    assert viewer.texts["Heatmap"] == "히트맵" and viewer.texts["Fit"] == "맞춤"
    assert viewer.texts["saved as version {n}"].count("{n}") == 1


def test_labels_are_shown_by_the_readers_term_and_stored_canonical(viewer):
    assert viewer.label_names["Pneumonia"] == "폐렴"
    assert viewer.label_names["Tuberculosis"] == "결핵"
    assert viewer.label_names["Effusion"] == "흉수"
    assert viewer.label_names["abnormal"] == "전체 이상 소견"
    assert [b["label"] for b in viewer.boxes] == ["Pneumonia", "Tuberculosis"]  # stored data is never translated
    viewer.boxes = [*viewer.boxes, {"label": "Pleural_Thickening", "x": 1, "y": 1, "w": 9, "h": 9}]
    assert viewer.label_names["Pleural_Thickening"] == "흉막 비후"
    viewer.boxes = [*viewer.boxes, {"label": "my own words", "x": 1, "y": 1, "w": 9, "h": 9}]
    assert viewer.label_names.get("my own words", "my own words") == "my own words"  # free text as typed


def test_setting_the_language_switches_words_and_labels_back_and_forth(viewer):
    boxes, selected = list(viewer.boxes), 1
    viewer.selected, viewer.dirty = selected, True
    viewer.language = "en"
    assert all(text == msgid for msgid, text in viewer.texts.items())
    assert viewer.label_names["Pneumonia"] == "Pneumonia"
    assert viewer.label_names["abnormal"] == "Any abnormality"
    assert viewer.label_names["Pleural_Thickening"] == "Pleural Thickening"
    viewer.language = "ko"
    assert viewer.texts["Opacity"] == "불투명도" and viewer.label_names["Pneumonia"] == "폐렴"
    assert (viewer.boxes, viewer.selected, viewer.dirty) == (boxes, selected, True)  # no edit lost
    viewer.language = "xx"  # no catalogue: English, never an error
    assert viewer.language == "en" and viewer.texts["Opacity"] == "Opacity"


def test_the_dashboards_language_switch_reaches_the_viewer(viewer):
    viewer.language = "en"
    page = w.VBox([w.HBox([w.Button(description="Save"), viewer])])
    retranslate(page, "en", "ko")
    assert viewer.language == "ko" and viewer.texts["Save"] == "저장"
    assert page.children[0].children[0].description == "저장"


def test_a_new_viewer_takes_the_language_of_the_person_acting():
    with use_language("ko"):
        assert ImageViewer().texts["Lung outline"] == "폐 윤곽"
    assert ImageViewer().language == "en" and ImageViewer().texts["Lung outline"] == "Lung outline"


def test_python_side_messages_follow_the_viewers_language(viewer):
    viewer.send_state = lambda key=None: None
    viewer.set_state({"boxes_for": viewer.study_key, "boxes": [*viewer.boxes, {"label": "A", "x": 600, "y": 0, "w": 10, "h": 10}]})
    assert viewer.message.startswith("변경이 반영되지 않음: ")
    viewer.request_save()
    assert viewer.message == "이 박스를 저장할 곳이 연결되어 있지 않습니다."
    viewer.readonly = True
    viewer.request_save()
    assert viewer.message == "읽기 전용 화면이라 저장되지 않았습니다."
    viewer.language = "en"
    viewer.request_save()
    assert viewer.message == "This view is read-only; nothing was saved."


def test_the_browser_cannot_rewrite_the_words(viewer):
    viewer.send_state = lambda key=None: None
    viewer.set_state({"texts": {"Save": "Delete everything"}, "label_names": {"Pneumonia": "Normal"}})
    assert viewer.texts["Save"] == "저장" and viewer.label_names["Pneumonia"] == "폐렴"


def test_the_editors_save_and_conflict_lines_are_in_the_viewers_language(tmp_path: Path, shared_data: Path):
    with open_store(tmp_path / "review.db") as store:
        study_id = seed_review_study(store, shared_data)
        alice = AnnotationEditor(store, "an_alice", viewer=ImageViewer(language="ko"))
        bob = AnnotationEditor(store, "dr_bob", viewer=ImageViewer(language="ko"))
        alice.viewer.request_save()  # no study yet: the editor's refusal, in the reader's words
        assert alice.viewer.message == "주석을 저장하려면 먼저 검사를 여세요."
        alice.open_study(study_id)
        bob.open_study(study_id)
        alice.viewer.request_save()
        assert alice.viewer.message.startswith("버전 1(으)로 저장됨 (an_alice, ")
        bob.viewer.request_save()
        assert bob.viewer.message.startswith("저장되지 않음: 버전 0을(를) 연 뒤 an_alice이(가) ")
        assert "내 박스 2개는 저장되지 않았으니" in bob.viewer.message
        bob.open_study(study_id)
        assert bob.viewer.message.startswith("버전 1 표시 중 (an_alice, ")
        bob.viewer.language = "en"
        bob.viewer.request_save()
        assert bob.viewer.message.startswith("Saved as version 2 by dr_bob at ")
