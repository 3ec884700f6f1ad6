"""Prior studies: how each signed finding changed since an earlier film, and that film beside the current one.

The statements (new / worse / unchanged / improved) come from :mod:`lungdx_widgets.progression` (the core,
from the signed findings of both studies); this panel only chooses the earlier study and shows them.
"Show side by side" opens the earlier film, with its signed boxes, in a read-only viewer next to the
current one (:class:`PriorFilm`; the dashboard places it). Rendered only when the Priors tab is opened
(decoding an earlier image is the slow part), so switching patients stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ipywidgets as w

from ..errors import LungDxError
from ..i18n import N_, format_datetime, language
from ..i18n import gettext as _
from ..imaging import load_image
from ..labels import NORMAL_LABELS
from ..progression import IMPROVED, NEW, UNCHANGED, WORSE, compare, signed_findings, statement
from .editor import study_title
from .theme import esc, message_html
from .viewer import ImageViewer

KEY_FINDINGS = 4
CompareCallback = Callable[[int | None], None]
#: Colour of each change's marker: worse and new stand out, improved is calm (colour only where it means something).
CHANGE_CLASSES = {NEW: "lx-change-new", WORSE: "lx-change-worse", UNCHANGED: "lx-change-same",
                  IMPROVED: "lx-change-better"}
SIDE_BY_SIDE = N_("Show side by side")
SIDE_BY_SIDE_TIP = N_("Open the earlier film, with its signed boxes, next to the current one")


def study_day(study) -> str:
    return str(getattr(study, "acquired", None) or getattr(study, "uploaded_at", "") or "")[:10]


def key_labels(series: dict[int, dict[str, float | None]], n: int = KEY_FINDINGS) -> list[str]:
    """The labels that reached the highest probability in any study: what a clinician would track."""
    best: dict[str, float] = {}
    for probs in series.values():
        for label, p in probs.items():
            if p is not None and label not in NORMAL_LABELS:
                best[label] = max(best.get(label, 0.0), float(p))
    return sorted(best, key=lambda k: -best[k])[:n]


def trend_figure(studies: Sequence, series: dict[int, dict[str, float | None]]):
    """AI probability of each key finding per study date (oldest left); gaps where a study was not analysed."""
    import plotly.graph_objects as go  # only when the Priors tab is drawn: plotly is slow to import

    from ..terms import finding_name

    ordered = sorted(studies, key=study_day)
    days = [format_datetime(study_day(s)) for s in ordered]
    traces = [go.Scatter(x=days, y=[series.get(s.id, {}).get(label) for s in ordered],
                         mode="lines+markers", name=finding_name(label), connectgaps=False)
              for label in key_labels(series)]
    fig = go.FigureWidget(data=traces, layout=go.Layout(
        height=210, width=370, margin=dict(l=40, r=10, t=10, b=30), plot_bgcolor="#ffffff",
        yaxis=dict(range=[0, 1], title=None, gridcolor="#eaecf0", fixedrange=True),
        xaxis=dict(type="category", fixedrange=True), legend=dict(orientation="h", y=-0.25, font=dict(size=10)),
        font=dict(family="system-ui, sans-serif", size=11, color="#344054")))
    fig._config = {"displayModeBar": False}
    return fig


def signed_line(store, study) -> str:
    """"Jan 3, 2026 · signed by dr-a" / "· not signed": how an earlier study is offered."""
    signed = store.latest_signoff(study.id)
    who = _("signed by {who}").format(who=signed.signed_by) if signed else _("not signed")
    return f"{format_datetime(study_day(study))} · {who}"


class PriorsPanel(w.VBox):
    """Pick an earlier study; read how each signed finding changed; open it side by side."""

    def __init__(self, store) -> None:
        self._store = store
        self._wanted: tuple[str, int | None] | None = None
        self._drawn: tuple[str, int | None] | None = None
        self._callbacks: list[CompareCallback] = []
        self.current_id: int | None = None
        self._filling = False
        self.choice = w.Dropdown(description="", layout=w.Layout(width="98%"))
        self.choice.add_class("lx-prior-choice")
        self.side_by_side = w.ToggleButton(value=False, description=_(SIDE_BY_SIDE), tooltip=_(SIDE_BY_SIDE_TIP),
                                           icon="columns", layout=w.Layout(width="180px"))
        self.side_by_side.add_class("lx-side-by-side")
        self.changes = w.HTML()
        self.changes.add_class("lx-progression")
        self._chooser = w.VBox([self.choice, self.side_by_side])
        self._chooser.add_class("lx-gap")
        self._body = w.VBox([w.HTML(f"<div class='lx-empty'>{esc(_('Select a patient to compare studies.'))}</div>")])
        super().__init__([self._body])
        self.add_class("lx-priors")
        self.choice.observe(lambda _ch: self._prior_chosen(), names="value")
        self.side_by_side.observe(lambda _ch: self._notify(), names="value")

    # ----------------------------------------------------------------- API
    def on_compare(self, callback: CompareCallback) -> None:
        """``callback(prior study id)`` when side by side is switched on or another prior is chosen; None when off."""
        self._callbacks.append(callback)

    @property
    def prior_id(self) -> int | None:
        return self.choice.value

    def set_patient(self, patient_id: str | None, current_study_id: int | None = None) -> None:
        """Remember what to show; drawing waits for ``render()`` (called when the tab opens).

        Another patient or study closes the side-by-side film: it must never sit next to someone else's.
        """
        wanted = (patient_id, current_study_id) if patient_id else None
        if wanted != self._wanted:
            self.side_by_side.value = False
        self._wanted = wanted

    def redraw(self) -> None:
        """Draw again (after a language switch) if it was drawn."""
        if self._drawn is not None:
            self._drawn = None
            self.render()

    def render(self) -> None:
        if self._wanted is None or self._wanted == self._drawn:
            return
        patient_id, current_id = self._wanted
        try:
            studies = self._store.studies_for_patient(patient_id)
        except LungDxError as exc:
            self._body.children = (w.HTML(message_html(str(exc), "error")),)
            return
        self._drawn = self._wanted
        if not studies:
            self._body.children = (w.HTML(f"<div class='lx-empty'>{esc(_('No studies for this patient yet.'))}</div>"),)
            return
        current = next((s for s in studies if s.id == current_id), studies[0])
        self.current_id = current.id
        earlier = [s for s in studies if study_day(s) <= study_day(current) and s.id != current.id]
        head = w.HTML(f"<div class='lx-h2'>{esc(_('Current film: {date}').format(date=format_datetime(study_day(current))))}"
                      "</div>")
        children: list[w.Widget] = [head]
        if earlier:
            keep = self.choice.value if self.choice.value in {s.id for s in earlier} else earlier[0].id
            self._filling = True  # refilling the list is not the reader choosing another prior
            try:
                self.choice.options = [(_("Compared with {study}").format(study=signed_line(self._store, s)), s.id)
                                       for s in earlier]
                self.choice.value = keep
            finally:
                self._filling = False
            self._show_changes()
            children += [self._chooser, self.changes]
        else:
            self._filling = True
            self.choice.options = []
            self._filling = False
            children.append(w.HTML(f"<div class='lx-empty'>{esc(_('No earlier study to compare with.'))}</div>"))
        series = {}
        for s in studies:
            pred = self._store.latest_prediction(s.id)
            if pred is not None:
                series[s.id] = dict(pred.probabilities)
        if len(series) >= 2:
            children += [w.HTML(f"<div class='lx-h2'>{esc(_('AI probability per study (before review)'))}</div>"),
                         trend_figure(studies, series)]
        count = _("{n} studies on file.").format(n=len(studies)) if len(studies) != 1 else _("1 study on file.")
        children.append(w.HTML(f"<div class='lx-muted'>{esc(count)}</div>"))
        self._body.children = tuple(children)

    # ----------------------------------------------------------------- internals
    def _prior_chosen(self) -> None:
        if self._filling:
            return
        if self.current_id is not None and self.choice.value is not None:
            self._show_changes()
        self._notify()

    def _notify(self) -> None:
        chosen = self.choice.value if self.side_by_side.value else None
        for callback in list(self._callbacks):
            callback(chosen)

    def _show_changes(self) -> None:
        """The statements of the chosen prior against the current study (both signed), else why there are none."""
        prior_id, current_id = self.choice.value, self.current_id
        if prior_id is None or current_id is None:  # callers check; nothing to compare without both
            return
        try:
            prior, current = signed_findings(self._store, prior_id), signed_findings(self._store, current_id)
            prior_study = self._store.get_study(prior_id)
        except LungDxError as exc:
            self.changes.value = message_html(str(exc), "error")
            return
        date = format_datetime(study_day(prior_study))
        if current is None:
            self.changes.value = message_html(_("Sign this study to see how its findings changed since {date}.")
                                              .format(date=date), "info")
            return
        if prior is None:
            self.changes.value = message_html(_("The study of {date} was not signed: there are no reviewed findings "
                                                "to compare with.").format(date=date), "info")
            return
        progressions = compare(prior, current)
        if not progressions:
            self.changes.value = message_html(_("No finding was called present or uncertain on either film."), "ok")
            return
        items = "".join(f"<li class='{CHANGE_CLASSES[p.change]}'>{esc(statement(p))}</li>" for p in progressions)
        title = _("Change since {date} (signed findings)").format(date=date)
        self.changes.value = f"<div class='lx-h2'>{esc(title)}</div><ul class='lx-changes'>{items}</ul>"


class PriorFilm(w.VBox):
    """An earlier film in a read-only viewer, with the boxes its signer kept (the dashboard puts it beside the current)."""

    def __init__(self, store, height: int, *, actor: str = "") -> None:
        self._store = store
        self._actor = actor  # opening an earlier film is audited as this reader's view of that study
        self.study_id: int | None = None
        self.viewer = ImageViewer(readonly=True, height=height)
        self.viewer.add_class("lx-viewer")
        self.viewer.add_class("lx-prior-viewer")
        self.close = w.Button(description=_("Close"), tooltip=_("Close the earlier film"), icon="times",
                              layout=w.Layout(width="84px", min_width="84px"))
        self.close.add_class("lx-prior-close")
        self.caption = w.HTML(layout=w.Layout(flex="1 1 auto", min_width="0"))
        head = w.HBox([self.caption, self.close])
        head.add_class("lx-prior-head")
        super().__init__([head, self.viewer], layout=w.Layout(flex="1 1 0", min_width="0"))
        self.add_class("lx-prior-film")

    def show(self, study_id: int) -> None:
        """The film of ``study_id`` and its signed boxes (none when it was not signed: said so in the caption)."""
        study = self._store.get_study(study_id)
        signed = signed_findings(self._store, study_id)
        try:
            radiograph = load_image(self._store.study_image_path(study))
            self._store.audit(self._actor, "view", f"study:{study_id}", detail="prior")
        except (LungDxError, OSError) as exc:
            self.viewer.show_message(_("Image unavailable: {error}").format(error=exc), "warning")
            return
        boxes = [b.as_dict() for b in signed.boxes] if signed else []
        note = (_("{date}, signed by {who}").format(date=format_datetime(study_day(study)),
                                                                     who=signed.signed_by) if signed else
                _("{date}, not signed: no reviewed boxes").format(date=format_datetime(study_day(study))))
        self.viewer.language = language()  # hidden at a language switch (not under the dashboard then)
        self.viewer.set_study(radiograph, boxes=boxes, title=study_title(study))
        self.caption.value = f"<span class='lx-prior-caption'><b>{esc(_('Earlier'))}</b> · {esc(note)}</span>"
        self.study_id = study_id
