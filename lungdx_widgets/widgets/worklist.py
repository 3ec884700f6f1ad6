"""Today's worklist: studies ordered emergent → urgent → routine, then by time.

The store does the ordering (``Store.worklist``); this widget only renders rows and reports
which study the clinician opened through the ``selected_study_id`` trait.
"""

from __future__ import annotations

import functools
from datetime import date, datetime

import ipywidgets as w
import traitlets as t

from ..i18n import N_
from ..i18n import gettext as _
from ..terms import finding_name, level_name
from ..errors import LungDxError
from .findings import likelihood
from .theme import esc, message_html, row_button


#: DICOM placeholder dates (e.g. 1901-01-01, 1900-01-01) say nothing about when a film was taken.
PLACEHOLDER_BEFORE = "1902-01-01"
TITLE = N_("Today's worklist")
DATE_UNKNOWN = N_("date unknown")
FILTERS: tuple[tuple[str, str], ...] = ((N_("All"), "all"), (N_("Unsigned"), "unsigned"), (N_("Emergent"), "emergent"),
                                        (N_("Mine"), "mine"))


def when_text(item, now: datetime | None = None) -> str:
    """The film's time: "date unknown" for placeholder dates; never a time in the future.

    A future acquisition time (wrong scanner clock) is not shown; the upload time is, marked so.
    """
    now = now or datetime.now()
    stamp = str(item.acquired or "")
    if not stamp or stamp[:10] < PLACEHOLDER_BEFORE:
        return _(DATE_UNKNOWN)
    if stamp[:19] > now.isoformat(timespec="seconds"):
        up = str(item.uploaded_at or "")
        return (_("uploaded {when}").format(when=_clock(up, now)) if up and up[:19] <= now.isoformat(timespec="seconds")
                else _(DATE_UNKNOWN))
    return _clock(stamp, now)


def _clock(stamp: str, now: datetime) -> str:
    """Today's times as HH:MM, other days as the date."""
    if stamp[:10] == now.date().isoformat() and len(stamp) >= 16:
        return stamp[11:16]
    return stamp[:10]


def state_words(item) -> list[str]:
    """signed / unsigned, overridden, AI unreliable — what the reader must know before opening."""
    pred = item.prediction
    words = [_("signed {who}").format(who=item.signed_by).strip() if item.signed else _("unsigned")]
    if pred is not None and pred.override_level:
        words.append(_("overridden"))
    if pred is not None and getattr(pred, "out_of_distribution", False):
        words.append(_("AI unreliable"))
    return words


def _patient_bits(item) -> str:
    age = None
    try:
        born = date.fromisoformat(item.patient_birth_date[:10])
        today = date.today()
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    except ValueError:
        pass
    return " ".join(x for x in (item.patient_id, f"{age}y" if age is not None else "", item.patient_sex) if x)


def row_text(item, now: datetime | None = None) -> str:
    """Two lines per study (rows are buttons, plain text): level, time, patient, MRN/age/sex, state."""
    level = level_name(item.triage_level).upper() if item.triage_level else "—"
    line3 = state_words(item)
    pred = item.prediction
    if item.triage_level is None:
        line3.append(_("not analysed yet"))
    elif pred is not None and not pred.out_of_distribution and item.top_label and likelihood(item.top_probability,
                                                            pred.thresholds.get(item.top_label)) != "unlikely":
        line3.append(f"{finding_name(item.top_label)} {_(likelihood(item.top_probability, pred.thresholds.get(item.top_label)))}")
    return (f"{level:<9}  {when_text(item, now)}  {item.patient_name}\n{_patient_bits(item)}\n"
            f"{' · '.join(x for x in line3 if x)}")


def keep(item, flt: str, actor: str) -> bool:
    """Whether a row passes the worklist filter (all, unsigned, emergent, mine)."""
    if flt == "unsigned":
        return not item.signed
    if flt == "emergent":
        return item.triage_level == "emergent"
    if flt == "mine":
        return actor in (item.study.uploaded_by, item.signed_by)
    return True


class Worklist(w.VBox):
    """Clickable rows of today's studies; the newest emergent study comes first."""

    selected_study_id = t.Int(None, allow_none=True, help="Study the clinician opened (not synced to the browser).")
    count = t.Int(0, help="Number of studies listed.")

    def __init__(self, store, *, day: date | None = None, limit: int = 60, actor: str = "") -> None:
        self._store = store
        self._day = day
        self._limit = limit
        self._actor = actor
        self._rows: dict[int, w.Button] = {}
        self._title = w.HTML(f"<div class='lx-h2'>{esc(_(TITLE))}</div>")
        self.filter = w.ToggleButtons(options=[(_(text), value) for text, value in FILTERS], value="all", style={"button_width": "58px"},
                                      layout=w.Layout(width="100%"))
        self.filter.add_class("lx-worklist-filter")
        self.filter.observe(lambda _c: self.refresh(), names="value")
        self._list = w.VBox(layout=w.Layout(overflow="auto", flex="1 1 auto"))
        self._list.add_class("lx-scroll")
        self._list.add_class("lx-worklist-rows")
        super().__init__([self._title, self.filter, self._list], layout=w.Layout(flex="1 1 auto", min_height="0"))
        self.add_class("lx-worklist")
        self.refresh()

    def refresh(self) -> None:
        """Re-read the worklist from the store (after an upload or a triage change)."""
        try:
            items = self._store.worklist(self._day, limit=self._limit, actor=self._actor)
        except LungDxError as exc:
            self._list.children = (w.HTML(message_html(str(exc), "error")),)
            return
        items = [i for i in items if keep(i, self.filter.value, self._actor)]
        self.count = len(items)
        self._title.value = f"<div class='lx-h2'>{esc(_(TITLE))} · {len(items)}</div>"
        labels = [(_(text), value) for text, value in FILTERS]  # again after a language switch
        if list(self.filter._options_labels) != [text for text, _v in labels]:
            with self.filter.hold_trait_notifications():
                value, self.filter.options = self.filter.value, labels
                self.filter.value = value
        self._rows = {}
        buttons = []
        now = datetime.now()
        for item in items:
            classes = ["lx-worklist-row", f"lx-level-{item.triage_level or 'none'}",
                       "lx-signed" if item.signed else "lx-unsigned"]
            if item.prediction is not None and item.prediction.out_of_distribution:
                classes.append("lx-ai-unreliable")
            btn = row_button(row_text(item, now), _("Open study of {name}").format(name=item.patient_name), tuple(classes),
                             functools.partial(self.open_study, item.study_id))
            self._rows[item.study_id] = btn
            buttons.append(btn)
        self._list.children = tuple(buttons) or (w.HTML(f"<div class='lx-empty'>{esc(_('No studies today.'))}</div>"),)
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
