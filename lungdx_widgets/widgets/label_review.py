"""Label review for analysts: page through studies with AI box proposals and correct them.

Composition only: the queue comes from the store's public API, the editing and saving from
:class:`AnnotationEditor`, heatmaps (not stored) from the shared analyzer on request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import ipywidgets as w

from ..errors import LungDxError
from .editor import AnnotationEditor, UnsavedPrompt
from ..i18n import gettext as _
from .theme import esc

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..store import Store
    from .upload import SharedAnalyzer

log = logging.getLogger(__name__)
_PAGE = 200


def studies_with_proposals(store: "Store") -> list[int]:
    """Ids of every study whose latest AI result proposed at least one box, oldest first."""
    ids: list[int] = []
    offset = 0
    while True:
        patients = store.search_patients("", limit=_PAGE, offset=offset)
        for patient in patients:
            for study in store.studies_for_patient(patient.patient_id):
                prediction = store.latest_prediction(study.id)
                if prediction is not None and prediction.boxes:
                    ids.append(study.id)
        if len(patients) < _PAGE:
            return sorted(ids)
        offset += _PAGE


class LabelReview(w.VBox):
    """Previous/next through a queue of studies; the viewer edits, Save writes a new version."""

    def __init__(self, store: "Store | None" = None, actor: str | None = None,
                 study_ids: Iterable[int] | None = None, height: int = 620,
                 analyzer: "SharedAnalyzer | None" = None) -> None:
        super().__init__()
        self._analyzer = analyzer
        self.add_class("lx-v-label-review")
        if store is None:
            from ..store import open_store

            store = open_store()
        self.store = store
        self.editor = AnnotationEditor(store, actor)
        self.viewer = self.editor.viewer
        self.viewer.height = height
        self.study_ids = list(study_ids) if study_ids is not None else studies_with_proposals(store)
        self.index = -1
        self.unsaved = UnsavedPrompt(self.editor)

        self.prev_button = w.Button(description=_("◀ Previous"), layout=w.Layout(width="120px"))
        self.next_button = w.Button(description=_("Next ▶"), layout=w.Layout(width="120px"))
        self.heatmap_button = w.Button(description=_("Compute heatmaps"), tooltip=_(
            "Run the model on this image (heatmaps are not stored); takes a few seconds"))
        self.position = w.HTML()
        for b, cls in ((self.prev_button, "lx-v-prev-study"), (self.next_button, "lx-v-next-study"),
                       (self.heatmap_button, "lx-v-compute-heatmaps")):
            b.add_class(cls)
        self.prev_button.on_click(lambda _b: self.go(self.index - 1))
        self.next_button.on_click(lambda _b: self.go(self.index + 1))
        self.heatmap_button.on_click(lambda _b: self.compute_heatmaps())
        self.editor.on_saved(lambda _saved: self._show_position())
        nav = w.HBox([self.prev_button, self.next_button, self.position, self.heatmap_button],
                     layout=w.Layout(align_items="center"))
        nav.add_class("lx-v-review-nav")  # spacing lives in viewer.css
        self.children = (nav, self.unsaved.widget, self.viewer)
        if self.study_ids:
            self.go(0)
        else:
            self.position.value = f"<b>{esc(_('No studies with AI box proposals.'))}</b>"
            self.viewer.show_message(_("Nothing to review: no stored AI result proposed a box."), "info")
        self._update_buttons()

    @property
    def study_id(self) -> int | None:
        return self.study_ids[self.index] if 0 <= self.index < len(self.study_ids) else None

    def go(self, index: int) -> bool:
        """Open the study at ``index``; with unsaved edits, ask save / discard / stay first."""
        if not 0 <= index < len(self.study_ids):
            return False
        return self.unsaved.guard(lambda: self._open(index)) and self.index == index

    def _open(self, index: int) -> bool:
        try:
            self.editor.open_study(self.study_ids[index])
        except LungDxError as exc:
            self.viewer.show_message(_("Cannot open study {study}: {error}").format(study=self.study_ids[index], error=exc),
                                     "error")
            return False
        self.index = index
        self._show_position()
        self._update_buttons()
        return True

    def compute_heatmaps(self) -> None:
        """Run the shared analyzer on the shown image and overlay its heatmaps."""
        if self.study_id is None or self.editor.radiograph is None:
            return
        from .upload import ANALYZER

        self.viewer.show_message(_("Computing heatmaps…"), "info")
        try:
            findings = (self._analyzer or ANALYZER).get().analyze(self.editor.radiograph)
        except LungDxError as exc:
            self.viewer.show_message(_("Heatmaps unavailable: {error}").format(error=exc), "warning")
            return
        self.viewer.heatmaps = dict(findings.heatmaps)
        self.viewer.show_message(_("Heatmaps from model {version}.").format(version=findings.model_version), "info")

    def _show_position(self) -> None:
        if self.study_id is None:  # nothing to review: no position to show
            return
        study = self.store.get_study(self.study_id)
        saved = self.store.annotations(study.id)
        state = (_("reviewed: version {version} by {who}").format(version=saved.version, who=saved.author)
                 if saved.version else _("AI proposals not reviewed yet"))
        where = _("Study {n} of {total}").format(n=self.index + 1, total=len(self.study_ids))
        self.position.value = f"<b>{esc(where)}</b> · {esc(_('MRN'))} {esc(study.patient_id)} · {esc(state)}"

    def _update_buttons(self) -> None:
        self.prev_button.disabled = self.index <= 0
        self.next_button.disabled = self.index >= len(self.study_ids) - 1
        self.heatmap_button.disabled = self.study_id is None
