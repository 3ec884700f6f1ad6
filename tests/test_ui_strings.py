"""Every string a person reads in the widget layer goes through the catalogue (issue 17).

The Korean-translation test (test_i18n) only sees strings wrapped in ``_()``/``N_()``; a literal passed
straight to a button or a message line is never extracted and stays English for a Korean reader. This
test parses the widget sources and fails on such literals.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import ipywidgets as w
import pytest

ROOT = Path(__file__).resolve().parents[1] / "lungdx_widgets"
SOURCES = sorted([ROOT / "app.py", *(ROOT / "widgets").glob("*.py")])
#: Keyword arguments whose value is a label a person reads.
TEXT_KEYWORDS = {"description", "tooltip", "placeholder", "busy_label"}
#: Calls whose first argument is a message a person reads.
MESSAGE_CALLS = {"show_message", "message_html", "_say", "_clear_study", "_freeze", "HTML", "Label"}
#: Traits whose assigned value is text a person reads (``x.value = "<b>No studies…</b>"``).
TEXT_ATTRIBUTES = TEXT_KEYWORDS | {"value"}
#: Functions that translate their argument (``_`` is ``gettext``; ``translate`` reads stored English).
TRANSLATING = {"_", "gettext", "translate", "finding_name", "level_name"}
#: Text that is not words in any language: (file name, text) → why it may stay as it is.
ALLOWED: dict[tuple[str, str], str] = {
    ("app.py", "<h1>LungDx Workbench</h1>"): "the product's name, the same in every language",
    ("theme.py", "<style>:root { --lx-font: {}; }\n{}</style>"): "CSS, not text",
    ("patient_record.py", "note"): "a drop-down's value (the kind of entry), not its label",
}
_WORD = re.compile(r"[A-Za-z]{2,}")
#: Markup, not words: tags (also one cut by an f-string field: "<a href='" … "'>"), entities, format fields.
_TAG = re.compile(r"<[^<>]*>|<[^<>]*$|^[^<>]*>|&\w+;|\{[^{}]*\}")


def _has_words(text: str) -> bool:
    """Letters outside HTML tags, entities and format fields: words a reader sees."""
    return bool(_WORD.search(_TAG.sub(" ", text)))


def _untranslated(node: ast.AST) -> list[str]:
    """The literal text in ``node`` that reaches the reader without passing through the catalogue."""
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) and _has_words(node.value) else []
    if isinstance(node, ast.JoinedStr):  # f"…": its fixed text read as a whole (a tag may span fields)
        fixed = "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
        found = [fixed] if _has_words(fixed) else []
        return found + [t for v in node.values if isinstance(v, ast.FormattedValue) for t in _untranslated(v.value)]
    if isinstance(node, ast.BinOp):
        return _untranslated(node.left) + _untranslated(node.right)
    if isinstance(node, ast.IfExp):
        return _untranslated(node.body) + _untranslated(node.orelse)
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in TRANSLATING:
            return []
        if isinstance(func, ast.Attribute) and func.attr == "format":  # _("… {x} …").format(x=…)
            return _untranslated(func.value) + [t for kw in node.keywords for t in _untranslated(kw.value)]
        return []
    return []  # a name or attribute: a constant marked with N_ where it is defined, or data


def _findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            shown = [node.value] if any(isinstance(t, ast.Attribute) and t.attr in TEXT_ATTRIBUTES
                                        for t in node.targets) else []
            for value in shown:
                found += [f"{path.relative_to(ROOT.parent)}:{value.lineno}: {text!r}" for text in _untranslated(value)
                          if (path.name, text) not in ALLOWED]
        if not isinstance(node, ast.Call):
            continue
        shown = [kw.value for kw in node.keywords if kw.arg in TEXT_KEYWORDS]
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in MESSAGE_CALLS and node.args:
            shown.append(node.args[0])
        for value in shown:
            for text in _untranslated(value):
                if (path.name, text) not in ALLOWED:
                    found.append(f"{path.relative_to(ROOT.parent)}:{value.lineno}: {text!r}")
    for node in tree.body:  # module constants that hold a message (MSG_SAVED = "…") must be N_-marked
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                and " " in node.value.value and _has_words(node.value.value)
                and any(isinstance(t, ast.Name) and t.id.isupper() and not t.id.startswith("_") for t in node.targets)):
            found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}: {node.value.value!r} (mark it with N_)")
    return found


def test_the_checker_catches_literals():
    """The rule itself: literals and f-strings fail, catalogued text and data pass."""
    bad = ast.parse('w.Button(description="Save"); x.show_message(f"No heatmap: {exc}")\n'
                    'message_html("Saved " + name)')
    good = ast.parse('w.Button(description=_("Save")); x.show_message(_("No {a}.").format(a=b))\n'
                     'w.Button(description="", tooltip=_(TIP)); message_html(f"{esc(a)} — {_(MSG)}")')

    def texts(tree):
        return [t for n in ast.walk(tree) if isinstance(n, ast.Call)
                for v in [*(k.value for k in n.keywords if k.arg in TEXT_KEYWORDS),
                          *(n.args[:1] if getattr(n.func, "attr", getattr(n.func, "id", "")) in MESSAGE_CALLS else [])]
                for t in _untranslated(v)]

    assert texts(bad) == ["Save", "No heatmap: {}", "Saved "]
    assert texts(good) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_widget_labels_and_messages_are_catalogued(path):
    found = _findings(path)
    assert not found, "wrap in _() (and add the Korean to lungdx.po):\n" + "\n".join(found)


def test_new_labels_are_korean_and_follow_a_language_switch():
    """Labels built with ``_()`` read Korean for a Korean reader and switch back to English and again."""
    from lungdx_widgets.ground_truth import VERDICTS
    from lungdx_widgets.i18n import gettext as _
    from lungdx_widgets.i18n import use_language
    from lungdx_widgets.widgets.editor import UnsavedPrompt
    from lungdx_widgets.widgets.patient_form import PatientForm
    from lungdx_widgets.widgets.theme import retranslate

    with use_language("ko"):
        form, prompt = PatientForm(None, "clinician"), UnsavedPrompt(None)  # type: ignore[arg-type]
        verdict = w.ToggleButtons(options=[(_(v), v) for v in VERDICTS], value=None)  # as the sign-off builds it
    root = w.VBox([form, prompt.widget, verdict])
    verdict.value = "absent"

    def words():
        return [form.name.placeholder, form.birth_date.placeholder, form.sex.description, form.save.description,
                [label for label, _code in form.sex.options], prompt.discard_button.description,
                prompt.stay_button.description]

    korean = ["성명 (성, 이름)", "생년월일 (YYYY-MM-DD)", "성별", "환자 등록", ["—", "여", "남", "기타"], "변경 취소", "계속 편집"]
    assert words() == korean
    form.sex.value = "F"
    retranslate(root, "ko", "en")
    assert words() == ["Name (Family, Given)", "Birth date (YYYY-MM-DD)", "Sex", "Register patient",
                       ["—", "female", "male", "other"], "Discard", "Stay"]
    # only words change: what the reader chose stays chosen (a reader's "absent" must never read "present")
    assert (form.sex.value, form.sex.label, verdict.value, verdict.label) == ("F", "female", "absent", "absent")
    retranslate(root, "en", "ko")
    assert words() == korean
    assert (form.sex.value, form.sex.label, verdict.value, verdict.label) == ("F", "여", "absent", "없음")
