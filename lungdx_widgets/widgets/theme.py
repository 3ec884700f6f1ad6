"""Colours, small HTML helpers and the dashboard stylesheet.

Calm by design: a neutral page, and colour only where it carries meaning (triage level,
allergy severity, errors). Every widget family uses these helpers so one change restyles all.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import ipywidgets as w

from ..display import RESEARCH_NOTICE as RESEARCH_NOTICE  # the one notice, re-exported for widgets
from ..i18n import FONT_STACK, untranslate
from ..i18n import gettext as _
from ..terms import level_name
from ..types import TRIAGE_ORDER

#: Triage level -> (text colour, background). Emergent is the only strong red on the screen.
TRIAGE_COLOURS: dict[str, tuple[str, str]] = {
    "emergent": ("#ffffff", "#b42318"),
    "urgent": ("#7a2e0e", "#fde8c8"),
    "routine": ("#344054", "#e4e7ec"),
}
#: Allergy severity -> (text colour, background); unknown severities are treated as moderate.
SEVERITY_COLOURS: dict[str, tuple[str, str]] = {
    "severe": ("#ffffff", "#b42318"),
    "life-threatening": ("#ffffff", "#b42318"),
    "anaphylaxis": ("#ffffff", "#b42318"),
    "moderate": ("#7a2e0e", "#fde8c8"),
    "mild": ("#344054", "#f2f4f7"),
}
SEVERITY_RANK = {"life-threatening": 0, "anaphylaxis": 0, "severe": 0, "moderate": 1, "mild": 2}
ACCENT = "#1d4ed8"
MUTED = "#667085"


_CSS_FILE = Path(__file__).with_name("dashboard.css")


def esc(value: object) -> str:
    """HTML-escape anything shown in the page (patient data is user input)."""
    return html.escape("" if value is None else str(value))


def triage_badge(level: str | None) -> str:
    """A small coloured pill for a triage level ("not triaged" when unknown)."""
    if level not in TRIAGE_COLOURS:
        return f"<span class='lx-pill lx-pill-none'>{esc(_('not triaged'))}</span>"
    fg, bg = TRIAGE_COLOURS[level]  # type: ignore[index]
    return f"<span class='lx-pill lx-triage-{level}' style='color:{fg};background:{bg}'>{esc(level_name(level))}</span>"


def severity_style(severity: str | None) -> tuple[str, str]:
    return SEVERITY_COLOURS.get((severity or "").strip().lower(), SEVERITY_COLOURS["moderate"])


def triage_rank(level: str | None) -> int:
    """0 for emergent … 2 for routine, 3 for untriaged (sorts last)."""
    return TRIAGE_ORDER.index(level) if level in TRIAGE_ORDER else len(TRIAGE_ORDER)  # type: ignore[arg-type]


def message_html(text: str, kind: str = "info") -> str:
    """A one-line message box; ``kind`` is info, ok, warn or error."""
    return f"<div class='lx-msg lx-msg-{kind}' role='{'alert' if kind == 'error' else 'status'}'>{esc(_(text))}</div>"


@lru_cache(maxsize=1)
def _css() -> str:
    return _CSS_FILE.read_text(encoding="utf-8")


def stylesheet() -> w.HTML:
    """The dashboard stylesheet as a widget (a <style> element inside an HTML output applies page-wide)."""
    # --lx-font: the one font stack (Hangul-capable first, i18n.FONT_STACK) that both stylesheets use
    sheet = w.HTML(f"<style>:root {{ --lx-font: {FONT_STACK}; }}\n{_css()}</style>", layout=w.Layout(display="none"))
    return sheet


#: Widget traits that hold a label a person reads (re-shown by :func:`retranslate`).
_TEXT_TRAITS = ("description", "placeholder", "tooltip", "label", "busy_label")
#: An HTML widget that is one element around plain text (a heading, an empty-state line).
_ONE_TEXT = re.compile(r"^(<[^<>]+>)([^<>]+)(</[a-z0-9]+>)$", re.S)


def retranslate(root: w.Widget, old: str, new: str) -> None:
    """Show every label under ``root`` (buttons, fields, tabs, drop-downs, one-line texts) in ``new``.

    Only words change: values, selections and unsaved edits stay as they are. A widget that draws its
    own words (a trait named ``language``, like the radiograph viewer) is told the new language.
    """
    def again(text):
        return _(untranslate(text, old), new) if isinstance(text, str) and text.strip() else text

    stack = [root]
    while stack:
        widget = stack.pop()
        if widget.has_trait("language"):
            widget.language = new
        choice = widget.has_trait("_options_labels")  # a selection's "label" is its chosen option: not a text
        for attr in _TEXT_TRAITS:
            if widget.has_trait(attr) and isinstance(getattr(widget, attr), str) and not (choice and attr == "label"):
                setattr(widget, attr, again(getattr(widget, attr)))
        if widget.has_trait("titles"):
            widget.titles = tuple(again(t) for t in widget.titles)
        if choice and widget.has_trait("value"):
            labels = widget._options_labels
            values = [o[1] if isinstance(o, tuple) else o for o in widget.options]
            # a label made from its value ("allergy" → 알레르기) is made again from the value
            fresh = [_(v, new) if isinstance(v, str) and v and lbl == _(v, old) else again(lbl)
                     for lbl, v in zip(labels, values)]
            if fresh != list(labels):
                _relabel(widget, list(zip(fresh, values)))
        if isinstance(widget, w.HTML) and (m := _ONE_TEXT.match(widget.value or "")):
            widget.value = m.group(1) + esc(again(html.unescape(m.group(2)))) + m.group(3)
        stack.extend(c for c in getattr(widget, "children", ()) if isinstance(c, w.Widget))


def _relabel(widget: w.Widget, options: list[tuple[str, object]]) -> None:
    """New labels for a selection's options, the same option still chosen.

    Why: assigning ``options`` makes ipywidgets choose the first option (a reader's "absent" would read
    "present" after a language switch, even inside ``hold_trait_notifications``); its own guard for
    construction, ``_initializing_traits_``, skips that, and the chosen index is then re-announced so
    ``label`` follows. The values and their order are unchanged, so the index still names the same option.
    """
    index = widget.index
    widget._initializing_traits_ = True
    try:
        widget.options = options
    finally:
        widget._initializing_traits_ = False
    widget._notify_trait("index", index, index)


def card(children: list[w.Widget], css_class: str, **layout: str) -> w.VBox:
    """A white panel with a class the stylesheet and the browser tests know."""
    box = w.VBox(children, layout=w.Layout(**layout))
    box.add_class("lx-card")
    box.add_class(css_class)
    return box


def row_button(text: str, tooltip: str, classes: tuple[str, ...], on_click: Callable[[], None]) -> w.Button:
    """A full-width list row (search result, worklist entry) that runs ``on_click`` when chosen."""
    btn = w.Button(description=text, tooltip=tooltip, layout=w.Layout(width="100%"))
    for css_class in ("lx-row", *classes):
        btn.add_class(css_class)
    btn.on_click(lambda _b: on_click())
    return btn
