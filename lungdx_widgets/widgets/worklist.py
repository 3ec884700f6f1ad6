"""Today's worklist: studies ordered emergent → urgent → routine, then by time.

The store does the ordering (``Store.worklist``); this widget only renders rows and reports
which study the clinician opened through the ``selected_study_id`` trait.
"""

from __future__ import annotations

from datetime import date

import ipywidgets as w
import traitlets as t

from ..errors import LungDxError
from .theme import esc, message_html, row_button


def row_text(item) -> str:
    """Two lines per study (rows are buttons, plain text): level, time, patient / top finding."""
    level = item.triage_level.upper() if item.triage_level else "—"
    when = _clock(item.acquired or item.uploaded_at)
    if item.top_label:
        prob = f" {item.top_probability:.2f}" if item.top_probability is not None else ""
        finding = f"top finding: {item.top_label}{prob}"
    else:
        finding = "not analysed yet" if item.triage_level is None else "no finding assessed"
    return f"{level:<9}  {when}  {item.patient_name}\n{'':<9}  {finding}"


def _clock(stamp: object) -> str:
    text = str(stamp or "")
    return text[11:16] if len(text) >= 16 else text[:10]


class Worklist(w.VBox):
    """Clickable rows of today's studies; the newest emergent study comes first."""

    selected_study_id = t.Int(None, allow_none=True, help="Study the clinician opened (not synced to the browser).")
    count = t.Int(0, help="Number of studies listed.")

    def __init__(self, store, *, day: date | None = None, limit: int = 60) -> None:
        self._store = store
        self._day = day
        self._limit = limit
        self._rows: dict[int, w.Button] = {}
        self._title = w.HTML("<div class='lx-h2'>Today's worklist</div>")
        self._list = w.VBox(layout=w.Layout(overflow="auto", flex="1 1 auto"))
        self._list.add_class("lx-scroll")
        self._list.add_class("lx-worklist-rows")
        super().__init__([self._title, self._list], layout=w.Layout(flex="1 1 auto", min_height="0"))
        self.add_class("lx-worklist")
        self.refresh()

    def refresh(self) -> None:
        """Re-read the worklist from the store (after an upload or a triage change)."""
        try:
            items = self._store.worklist(self._day, limit=self._limit)
        except LungDxError as exc:
            self._list.children = (w.HTML(message_html(str(exc), "error")),)
            return
        self.count = len(items)
        self._title.value = f"<div class='lx-h2'>Today's worklist · {len(items)}</div>"
        self._rows = {}
        buttons = []
        for item in items:
            btn = row_button(row_text(item), f"Open study of {item.patient_name}",
                             ("lx-worklist-row", f"lx-level-{item.triage_level or 'none'}"),
                             lambda sid=item.study_id: self.open_study(sid))
            self._rows[item.study_id] = btn
            buttons.append(btn)
        self._list.children = tuple(buttons) or (w.HTML(f"<div class='lx-empty'>{esc('No studies today.')}</div>"),)
        self._mark(self.selected_study_id)

    def open_study(self, study_id: int) -> None:
        """Select a study (as a click does)."""
        self.selected_study_id = study_id

    @t.observe("selected_study_id")
    def _on_selected(self, change) -> None:
        self._mark(change["new"], change["old"])

    def _mark(self, new: int | None, old: int | None = None) -> None:
        if old in self._rows:
            self._rows[old].remove_class("lx-selected")
        if new in self._rows:
            self._rows[new].add_class("lx-selected")
