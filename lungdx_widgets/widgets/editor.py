"""Binds an :class:`ImageViewer` to the store's versioned annotations of one study at a time.

The viewer edits boxes; this controller decides what it opens with (the newest saved version,
else the AI's proposals) and turns "Save" into ``store.save_annotations(..., based_on_version)``.
A stale save is refused by the store (``Conflict``): the newest version is shown instead, the
reader is told who saved it and when, and the refused draft is kept in :attr:`refused_draft` —
nothing is overwritten silently, in either direction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from ..errors import LungDxError
from ..i18n import N_, format_datetime
from ..i18n import gettext as _
from ..types import Box, Radiograph
from .viewer import ImageViewer

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..store import Store
    from ..store.records import AnnotationSet, Prediction, Study

SavedCallback = Callable[["AnnotationSet"], None]


class NoStudyOpen(LungDxError):
    """Save pressed before any study was opened."""


def boxes_to_review(annotations: "AnnotationSet", prediction: "Prediction | None") -> tuple[Box, ...]:
    """What a reader starts from: the newest saved version, else the AI's proposals."""
    if annotations.version:
        return annotations.boxes
    return prediction.boxes if prediction else ()


def study_title(study: "Study") -> str:
    """One caption line: modality · view · date · file name (the parts that are known)."""
    return " · ".join(x for x in (study.modality, study.view, str(study.acquired)[:10], study.filename) if x)


def saved_note(saved: "AnnotationSet", lang: str | None = None) -> str:
    """The viewer's line after a save, in the reader's language ``lang``."""
    return _("Saved as version {version} by {who} at {time}.", lang).format(
        version=saved.version, who=saved.author, time=saved.created[11:16])


def conflict_note(newest: "AnnotationSet", based_on: int, refused: int, lang: str | None = None) -> str:
    """Why a stale save was refused and what to do, in the reader's language ``lang``."""
    return _("Not saved: {who} saved version {version} at {time} after you opened version {based_on}. Their version "
             "is shown now; your {count} box(es) were not saved — apply your changes again if they still hold.",
             lang).format(who=newest.author, version=newest.version, time=newest.created[11:16],
                          based_on=based_on, count=refused)


class AnnotationEditor:
    """One study's boxes in a viewer, saved through the store under ``actor``.

    ``actor`` defaults to the logged-in user (:func:`lungdx_widgets.session.current_username`),
    looked up at save time so the audit row names whoever is at the screen.
    """

    def __init__(self, store: "Store", actor: str | None = None, viewer: ImageViewer | None = None) -> None:
        self.store = store
        self._actor = actor
        self.viewer = viewer if viewer is not None else ImageViewer()
        self.study_id: int | None = None
        #: The decoded image of the open study (for callers that analyse it again, e.g. for heatmaps).
        self.radiograph: Radiograph | None = None
        #: The version the shown boxes are based on, kept here: the viewer's ``version`` is shown in
        #: a browser, and what a browser says is not trusted for the concurrency check.
        self.based_on = 0
        #: Boxes of the last save the store refused as stale (kept, never silently dropped).
        self.refused_draft: list[Box] | None = None
        self._saved_callbacks: list[SavedCallback] = []
        self.viewer.on_save(self.save)

    @property
    def actor(self) -> str:
        if self._actor:
            return self._actor
        from ..session import current_username

        return current_username()

    def on_saved(self, callback: SavedCallback) -> None:
        """Call ``callback(annotation_set)`` after each successful save (e.g. to refresh a list)."""
        self._saved_callbacks.append(callback)

    def open_study(
        self,
        study_id: int,
        *,
        radiograph: Radiograph | np.ndarray | None = None,
        heatmaps: Mapping[str, np.ndarray | bytes] | None = None,
        classes: list[str] | None = None,
    ) -> "AnnotationSet":
        """Show a stored study with its newest annotations (or the AI's proposals) for review.

        ``radiograph`` spares decoding the stored file again when the caller has it already;
        heatmaps are not stored, so they come from the caller (e.g. a fresh analysis).
        """
        study = self.store.get_study(study_id)
        prediction = self.store.latest_prediction(study_id)
        annotations = self.store.annotations(study_id)
        if radiograph is None:
            from ..imaging import load_image

            radiograph = load_image(self.store.study_image_path(study))
        self.radiograph = radiograph if isinstance(radiograph, Radiograph) else None
        if classes is None:
            classes = list(prediction.probabilities) if prediction else []
        self.viewer.set_study(radiograph, boxes=boxes_to_review(annotations, prediction),
                              heatmaps=heatmaps, classes=classes, version=annotations.version,
                              title=study_title(study))
        self.study_id = study.id
        self.based_on = annotations.version
        self.refused_draft = None
        if annotations.version:
            self.viewer.show_message(_("Showing version {version}, saved by {who} at {when}.", self.viewer.language)
                                     .format(version=annotations.version, who=annotations.author,
                                             when=format_datetime(annotations.created, self.viewer.language)),
                                     "info")
        return annotations

    def reload(self) -> "AnnotationSet":
        """Replace the shown boxes with the newest saved version, else the AI's proposals (unsaved edits are dropped)."""
        study_id = self._require_study()
        newest = self.store.annotations(study_id)
        self._show_saved(newest, boxes_to_review(newest, self.store.latest_prediction(study_id)))
        return newest

    def save(self, boxes: list[Box] | None = None) -> "AnnotationSet | None":
        """Save ``boxes`` (default: the viewer's) as a new version based on the one shown.

        Returns the saved set, or None when the store refused a stale save (the viewer then
        shows the newest version and says so).
        """
        from ..store import Conflict

        study_id = self._require_study()
        if self.viewer.readonly:
            raise LungDxError(N_("This view is read-only; annotations cannot be saved here."))
        boxes = self.viewer.box_values() if boxes is None else list(boxes)
        based_on = self.based_on
        try:
            saved = self.store.save_annotations(study_id, boxes, based_on, self.actor)
        except Conflict:
            self.refused_draft = boxes
            newest = self.store.annotations(study_id)
            self._show_saved(newest)
            self.viewer.show_message(conflict_note(newest, based_on, len(boxes), self.viewer.language), "error")
            return None
        self.refused_draft = None
        self._show_saved(saved)
        self.viewer.show_message(saved_note(saved, self.viewer.language), "ok")
        for callback in list(self._saved_callbacks):
            callback(saved)
        return saved

    def _show_saved(self, saved: "AnnotationSet", boxes: tuple[Box, ...] | None = None) -> None:
        with self.viewer.hold_trait_notifications():
            self.viewer.boxes = [b.as_dict() for b in (saved.boxes if boxes is None else boxes)]
            self.viewer.version = self.based_on = saved.version
            self.viewer.selected = -1
            self.viewer.dirty = False

    def _require_study(self) -> int:
        if self.study_id is None:
            raise NoStudyOpen(N_("Open a study before saving annotations."))
        return self.study_id


UNSAVED_TEXT = N_("Unsaved box changes on this study. Save them, discard them, or stay on this study?")


class UnsavedPrompt:
    """Asks save / discard / stay before an action would drop the viewer's unsaved box edits.

    Why: opening another study or patient used to replace the boxes silently. ``guard(action)``
    runs ``action`` at once when nothing is unsaved; otherwise it shows the question and runs it
    only after Save succeeded or Discard was chosen. Stay runs ``on_stay`` (e.g. re-select the
    open study in a list) and keeps the edits.
    """

    def __init__(self, editor: AnnotationEditor) -> None:
        import ipywidgets as w

        self.editor = editor
        self._pending: tuple[Callable[[], object], Callable[[], None]] | None = None
        self.text = w.HTML()
        self.save_button = w.Button(description=_("Save"), layout=w.Layout(width="80px"))
        self.discard_button = w.Button(description=_("Discard"), layout=w.Layout(width="80px"))
        self.stay_button = w.Button(description=_("Stay"), layout=w.Layout(width="80px"))
        for b, cls in ((self.save_button, "lx-unsaved-save"), (self.discard_button, "lx-unsaved-discard"),
                       (self.stay_button, "lx-unsaved-stay")):
            b.add_class(cls)
        self.save_button.on_click(lambda _b: self.save())
        self.discard_button.on_click(lambda _b: self.discard())
        self.stay_button.on_click(lambda _b: self.stay())
        self.widget = w.HBox([self.text, self.save_button, self.discard_button, self.stay_button],
                             layout=w.Layout(display="none", align_items="center", width="100%"))
        self.widget.add_class("lx-unsaved-prompt")

    @property
    def asking(self) -> bool:
        return self._pending is not None

    def guard(self, action: Callable[[], object], on_stay: Callable[[], None] = lambda: None) -> bool:
        """Run ``action`` now (True) or ask first (False)."""
        if not (self.editor.study_id is not None and self.editor.viewer.dirty):
            self._hide()
            action()
            return True
        self._pending = (action, on_stay)
        from .theme import message_html

        self.text.value = message_html(UNSAVED_TEXT, "warn")
        self.widget.layout.display = None
        return False

    def save(self) -> bool:
        """Save the edits, then continue; a refused save (conflict) stays here with the store's message."""
        if self._pending is None:
            return False
        if self.editor.save() is None:
            self._hide()
            return False
        return self._continue()

    def discard(self) -> bool:
        if self._pending is None:
            return False
        self.editor.viewer.dirty = False
        return self._continue()

    def stay(self) -> None:
        pending, self._pending = self._pending, None
        self._hide()
        if pending is not None:
            pending[1]()

    def _continue(self) -> bool:
        (action, _stay), self._pending = self._pending, None  # type: ignore[misc]
        self._hide()
        action()
        return True

    def _hide(self) -> None:
        self.widget.layout.display = "none"
        self.text.value = ""
