"""Patient search by ID or name with results while typing.

Typing sends ``continuous_update`` events; a short debounce keeps the kernel from running one
query per keystroke. The chosen patient is reported through ``selected_patient_id``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
import ipywidgets as w
import traitlets as t

from ..i18n import gettext as _
from ..errors import LungDxError
from .kernel_loop import kernel_loop
from .theme import esc, message_html, row_button


class Debouncer:
    """Call ``fn`` once typing pauses for ``delay_s``; immediately outside a kernel."""

    def __init__(self, delay_s: float, fn: Callable[..., object]) -> None:  # fn's result is not used
        self.delay_s = delay_s
        self._fn = fn
        self._handle: asyncio.TimerHandle | None = None

    def __call__(self, *args) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        loop = kernel_loop()
        if loop is None:
            self._fn(*args)
            return
        self._handle = loop.call_later(self.delay_s, self._fn, *args)


def patient_line(patient) -> str:
    """``Name · MRN · F 64`` (plain text, for buttons)."""
    age = patient.age()
    who = " ".join(x for x in (patient.sex or "", "" if age is None else str(age)) if x)
    return " · ".join(x for x in (patient.name, patient.patient_id, who) if x)


class PatientSearch(w.VBox):
    """A search box and the matching patients as clickable rows."""

    selected_patient_id = t.Unicode(None, allow_none=True, help="Patient the clinician picked (not synced).")
    result_ids = t.List(t.Unicode(), help="Patient ids currently listed, best match first.")

    def __init__(self, store, *, actor: str | None = None, limit: int = 8, debounce_s: float = 0.12) -> None:
        self._store = store
        self._actor = actor  # whom the store audits the listings of (names and MRNs shown)
        self._limit = limit
        self.query = w.Text(placeholder=_("Search patient: name, 초성 or ID"), continuous_update=True,
                            layout=w.Layout(width="100%"))
        self.query.add_class("lx-search-input")
        self._results = w.VBox(layout=w.Layout(max_height="230px", overflow="auto"))
        self._results.add_class("lx-search-results")
        self._debounced = Debouncer(debounce_s, self.search)
        self.query.observe(lambda ch: self._debounced(ch["new"]), names="value")
        super().__init__([w.HTML(f"<div class='lx-h2'>{esc(_('Patients'))}</div>"), self.query, self._results])
        self.add_class("lx-patient-search")

    def search(self, text: str) -> list:
        """Run the query now and render the rows; returns the patients found."""
        text = (text or "").strip()
        if not text:
            self.result_ids = []
            self._results.children = ()
            return []
        try:
            patients = self._store.search_patients(text, limit=self._limit, actor=self._actor)
        except LungDxError as exc:
            self.result_ids = []
            self._results.children = (w.HTML(message_html(str(exc), "error")),)
            return []
        self.result_ids = [p.patient_id for p in patients]
        rows = [row_button(patient_line(p), _("Open record of {name}").format(name=p.name), ("lx-search-row",),
                           functools.partial(self.select, p.patient_id)) for p in patients]
        self._results.children = tuple(rows) or (
            w.HTML(f"<div class='lx-muted'>{esc(_('No patient matches'))} “{esc(text)}”.</div>"),)
        return patients

    def select(self, patient_id: str) -> None:
        """Choose a patient (as a click does). Re-selecting fires again so the record re-opens."""
        if self.selected_patient_id == patient_id:
            self.selected_patient_id = None
        self.selected_patient_id = patient_id
