"""One CSS prefix: every class the widgets define is ``lx-…`` (the viewer's are ``lx-v-…``), so the dashboard's and
the viewer's styles cannot collide and a browser test's selector says which widget it means."""

from __future__ import annotations

import re
from pathlib import Path

WIDGETS = Path(__file__).resolve().parents[2] / "lungdx_widgets" / "widgets"
#: Classes of the frameworks the stylesheets adjust (JupyterLab, Lumino, ipywidgets), not ours.
FRAMEWORK = ("jp-", "lm-", "p-", "widget-", "jupyter-")


def _css_classes(text: str) -> set[str]:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # comments name files ("viewer.js")
    text = re.sub(r"\{[^{}]*\}", "{}", text)  # declarations hold numbers like 0.5em, not selectors
    return set(re.findall(r"\.([a-zA-Z][\w-]*)", text))


def test_every_class_in_the_stylesheets_is_ours_or_a_frameworks():
    classes = set().union(*(_css_classes(p.read_text()) for p in WIDGETS.glob("*.css")))
    assert len(classes) > 50, "the stylesheets were read"
    stray = sorted(c for c in classes if not c.startswith(("lx-", *FRAMEWORK)))
    assert not stray, f"classes without the lx- prefix: {stray}"


def test_every_class_the_viewer_sets_is_lx_v():
    js = (WIDGETS / "viewer.js").read_text()
    names = {n for group in re.findall(r'\bclass: [`"]([^`"]+)[`"]', js) for n in group.split()}
    names |= set(re.findall(r'classList\.(?:add|toggle|remove)\("([^"]+)"', js))
    names = {n for n in names if re.fullmatch(r"[a-z][\w-]*", n)}  # parts of ${…} expressions are not names
    assert len(names) > 20, "the viewer's classes were found"
    assert not sorted(n for n in names if not n.startswith("lx-v-")), names
