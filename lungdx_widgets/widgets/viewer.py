"""Radiograph viewer with heatmap overlay and box editor (an anywidget: viewer.js + viewer.css).

The browser does everything interactive (zoom, pan, opacity, drawing, moving, resizing,
relabelling, accept/reject) so nothing waits for the kernel; Python holds the validated state
and hears about "Save". Boxes are the source of truth here, in original-image pixels — the same
system as ``Findings.heatmaps`` and the store's annotations. The widget knows nothing about the
store: :class:`~lungdx_widgets.widgets.editor.AnnotationEditor` binds it to one.

Words: the browser shows every word through ``texts`` (the catalogue's translations of exactly the
``_("…")``/``N_("…")`` strings of viewer.js) and box labels through ``label_names``; both follow
``language``. Boxes keep their canonical English labels: only their display is translated.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets as t

from ..display import heat_lut
from ..errors import LungDxError
from ..i18n import N_, check_language, gettext, translate
from ..i18n import language as process_language
from ..labels import ABNORMAL
from ..terms import FINDINGS, finding_name
from ..types import Box, Findings, Radiograph
from .viewer_data import (
    drop_relabelled_scores,
    BoxRejected,
    boxes_from_dicts,
    check_heatmap_aspect,
    display_image,
    encode_heatmap,
    encode_outline,
    normalize_boxes,
    png_size,
)

log = logging.getLogger(__name__)
_HERE = Path(__file__).parent
MESSAGE_KINDS = ("info", "ok", "warning", "error")

#: What a Save callback returns is not used (the editor's ``save`` returns the saved set).
SaveCallback = Callable[[list[Box]], object]
#: How the heatmap menu names the map of any finding (the ``ABNORMAL`` label).
ANY_ABNORMALITY = N_("Any abnormality")
_ = gettext


@lru_cache(maxsize=1)
def browser_msgids() -> tuple[str, ...]:
    """The ``_("…")`` and ``N_("…")`` strings of viewer.js, found as the catalogue's extractor finds them."""
    from babel.messages.extract import extract_javascript

    with (_HERE / "viewer.js").open("rb") as fp:
        # babel annotates the result as (lineno, message, comments, context); extractors yield
        # (lineno, funcname, message(s), comments), so the message is taken as an object and narrowed
        found: list[object] = [m for _line, _kw, m, _comments in extract_javascript(fp, {"_": None, "N_": None}, [], {})]
    return tuple(dict.fromkeys(m for m in found if isinstance(m, str) and m))


@lru_cache(maxsize=None)
def browser_texts(lang: str) -> dict[str, str]:
    """``{English: translation}`` for every word viewer.js shows, in ``lang``."""
    return {msgid: gettext(msgid, lang) for msgid in browser_msgids()}


def reader_label_names(labels: Iterable[str], lang: str) -> dict[str, str]:
    """Canonical label → what a reader of ``lang`` calls it (폐렴 for "Pneumonia"); the findings the
    terms know plus ``labels`` (the study's classes, heatmaps and boxes)."""
    names = {label: finding_name(label, lang) for label in dict.fromkeys([*FINDINGS, *labels]) if label}
    names[ABNORMAL] = gettext(ANY_ABNORMALITY, lang)
    return names
#: What the browser legitimately changes. Anything else it sends (``readonly``, ``version``, the
#: image...) is refused: a clinician's browser can send any trait (design/AUTH.md, pitfall 4).
BROWSER_WRITABLE = frozenset({"boxes", "boxes_for", "selected", "dirty", "heatmap_label", "opacity", "message",
                              "message_kind", "save_requests", "show_lungs"})
#: Traits that describe the boxes being edited: refused together when they were edited on another study.
_EDIT_STATE = ("boxes", "boxes_for", "selected", "dirty")


class ImageViewer(anywidget.AnyWidget):
    """One radiograph, its heatmaps and its boxes; editable unless ``readonly``."""

    _esm = _HERE / "viewer.js"
    _css = _HERE / "viewer.css"

    #: Encoded image (PNG/JPEG) the browser displays, stretched to ``image_width × image_height``.
    image = t.Bytes(b"").tag(sync=True)
    #: Original image size in pixels: the coordinate system of boxes and heatmaps.
    image_width = t.Int(0, min=0).tag(sync=True)
    image_height = t.Int(0, min=0).tag(sync=True)
    #: ``{finding label or "abnormal": 8-bit gray PNG}``; numpy arrays in [0,1] are encoded on assignment.
    heatmaps = t.Dict().tag(sync=True)
    #: The heat colour table (:func:`lungdx_widgets.display.heat_lut`), the same one reports burn in.
    heat_lut = t.List(t.Int(), default_value=heat_lut(), read_only=True).tag(sync=True)
    #: Outline of the lung fields the model read (8-bit PNG, bright = outline); a boolean mask in
    #: original pixels is encoded on assignment, None/empty = no outline (a v1 model, no analysis).
    lung_outline = t.Any(b"").tag(sync=True)
    #: Whether the browser draws the lung outline (the clinician's toggle).
    show_lungs = t.Bool(True).tag(sync=True)
    #: Which heatmap is overlaid ("" = none).
    heatmap_label = t.Unicode("").tag(sync=True)
    #: Overlay opacity; the browser applies it directly and reports it back.
    opacity = t.Float(0.45, min=0.0, max=1.0).tag(sync=True)
    #: Boxes as dicts with label, x, y, w, h, score, source ("ai"/"human"), status (Box values are converted).
    boxes: t.List[Any] = t.List().tag(sync=True)  # Box or dict in; a validator stores dicts
    #: Labels offered in the relabel menu (the model's label list); free text is allowed too.
    classes = t.List(t.Unicode()).tag(sync=True)
    #: Index of the selected box, -1 for none.
    selected = t.Int(-1).tag(sync=True)
    #: Annotation version the boxes are based on (0 = never saved).
    version = t.Int(0, min=0).tag(sync=True)
    #: True after any edit not yet saved; the browser sets it, a successful save clears it.
    dirty = t.Bool(False).tag(sync=True)
    #: One line shown under the image (e.g. a save result or a conflict), and its tone.
    message = t.Unicode("").tag(sync=True)
    message_kind = t.Enum(MESSAGE_KINDS, default_value="info").tag(sync=True)
    #: Caption above the image (study, view, date).
    title = t.Unicode("").tag(sync=True)
    #: Hide every editing control (the dashboard's plain view).
    readonly = t.Bool(False).tag(sync=True)
    #: Height of the image panel in CSS pixels; the width follows the page.
    height = t.Int(620, min=200).tag(sync=True)
    #: The browser counts Save presses here. A trait, not a custom message, so the press travels
    #: in the same ordered state update as the boxes it saves (custom messages overtake updates
    #: that ipywidgets is still throttling, and would save stale boxes).
    save_requests = t.Int(0).tag(sync=True)
    #: A fresh key per shown study (Python sets it). The browser sends the key it edited on with every box
    #: change (``boxes_for`` = "key:n", n counting edits so the value always changes and ipywidgets always sends
    #: it), so an edit still in flight when another study opens never lands on that study.
    study_key = t.Unicode("").tag(sync=True)
    boxes_for = t.Unicode("").tag(sync=True)
    #: The reader's language (not synced: the browser gets its words as ``texts`` and ``label_names``);
    #: the process's by default, and set by the dashboard's language switch (theme.retranslate).
    language = t.Unicode()
    #: ``{English text: translation}`` for every word viewer.js shows (see :func:`browser_texts`).
    texts = t.Dict().tag(sync=True)
    #: ``{canonical label: reader's term}``; labels not in it (free text) are shown as typed.
    label_names = t.Dict().tag(sync=True)

    def __init__(self, **kwargs) -> None:
        self._save_callbacks: list[SaveCallback] = []
        super().__init__(**kwargs)
        self._words()

    @t.default("language")
    def _process_language(self) -> str:
        return process_language()

    @t.validate("language")
    def _known_language(self, proposal: t.Bunch) -> str:
        return check_language(proposal.value)

    @t.observe("language")
    def _language_changed(self, _change: t.Bunch) -> None:
        self._words()

    @t.observe("classes", "heatmaps", "boxes")
    def _labels_changed(self, _change: t.Bunch) -> None:
        self.label_names = reader_label_names(self._labels(), self.language)

    def _labels(self) -> list[str]:
        return [*self.classes, *self.heatmaps, *(str(b.get("label", "")) for b in self.boxes)]

    def _words(self) -> None:
        """The browser's words and label names in ``language`` (sent together: one redraw there)."""
        with self.hold_trait_notifications():
            self.texts = browser_texts(self.language)
            self.label_names = reader_label_names(self._labels(), self.language)

    # ----------------------------------------------------------------- validation
    @t.validate("boxes")
    def _valid_boxes(self, proposal: t.Bunch) -> list[dict]:
        try:
            return normalize_boxes(proposal.value, self.image_width, self.image_height)
        except BoxRejected as exc:
            raise t.TraitError(str(exc)) from None

    @t.validate("heatmaps")
    def _valid_heatmaps(self, proposal: t.Bunch) -> dict[str, bytes]:
        out = {}
        for label, value in dict(proposal.value).items():
            try:
                data = encode_heatmap(value)
                check_heatmap_aspect(label, data, self.image_width, self.image_height)
            except (ValueError, OSError) as exc:
                raise t.TraitError(str(exc)) from None
            out[str(label)] = data
        return out

    @t.validate("lung_outline")
    def _valid_lung_outline(self, proposal: t.Bunch) -> bytes:
        try:
            return encode_outline(proposal.value)
        except ValueError as exc:
            raise t.TraitError(str(exc)) from None

    @t.validate("heatmap_label")
    def _valid_heatmap_label(self, proposal: t.Bunch) -> str:
        if proposal.value and proposal.value not in self.heatmaps:
            raise t.TraitError(f"no heatmap for {proposal.value!r}; have {sorted(self.heatmaps)}")
        return proposal.value

    @t.validate("selected")
    def _valid_selected(self, proposal: t.Bunch) -> int:
        return proposal.value if 0 <= proposal.value < len(self.boxes) else -1

    @t.observe("image")
    def _size_from_image(self, change: t.Bunch) -> None:
        """Assigning encoded bytes alone still gives a coordinate system."""
        if change.new and not (self.image_width and self.image_height):
            self.image_width, self.image_height = png_size(change.new)

    @t.observe("heatmaps")
    def _keep_heatmap_label_valid(self, change: t.Bunch) -> None:
        if self.heatmap_label not in change.new:
            self.heatmap_label = self._default_heatmap_label()

    def set_state(self, sync_data: dict) -> None:
        """Browser updates pass the same validators; a refused one is reported and undone there.

        Only :data:`BROWSER_WRITABLE` traits are taken from the browser, and a refused update must
        not leave the two sides disagreeing silently.
        """
        foreign = [k for k in sync_data if k in self.keys and k not in BROWSER_WRITABLE]
        if foreign:
            log.warning("viewer ignored browser changes to %s", ", ".join(foreign))
            self.send_state(foreign)
        allowed = {k: v for k, v in sync_data.items() if k not in foreign}
        edited_on = str(allowed.get("boxes_for", self.boxes_for)).split(":")[0]
        if "boxes" in allowed and edited_on != self.study_key:  # edited on the study shown before
            log.warning("viewer ignored box edits made on another study")
            allowed = {k: v for k, v in allowed.items() if k not in _EDIT_STATE}
            self.send_state(list(_EDIT_STATE))
        if isinstance(allowed.get("boxes"), list):  # a relabelled box loses its AI score
            allowed["boxes"] = drop_relabelled_scores(list(self.boxes), allowed["boxes"])
        try:
            super().set_state(allowed)
        except t.TraitError as exc:
            log.warning("viewer refused a browser update: %s", exc)
            self.show_message(_("Change not accepted: {error}", self.language).format(error=exc), "error")
            self.send_state([k for k in allowed if k in self.keys])

    # ----------------------------------------------------------------- Python API
    def set_study(
        self,
        image: bytes | np.ndarray | Radiograph,
        *,
        boxes: Iterable[Box | Mapping] = (),
        heatmaps: Mapping[str, bytes | np.ndarray] | None = None,
        classes: Iterable[str] | None = None,
        version: int = 0,
        heatmap_label: str | None = None,
        title: str = "",
        lung_mask: np.ndarray | None = None,
    ) -> None:
        """Show another study; every trait changes together, so the browser never sees a mix."""
        data, width, height = display_image(image)
        with self.hold_trait_notifications():
            self.study_key = self.boxes_for = uuid.uuid4().hex
            self.image_width, self.image_height = width, height
            self.image = data
            self.heatmaps = dict(heatmaps or {})
            self.lung_outline = lung_mask
            self.boxes = list(boxes)
            if classes is not None:
                self.classes = list(classes)
            self.version = version
            self.heatmap_label = self._default_heatmap_label() if heatmap_label is None else heatmap_label
            self.selected = -1
            self.title = title
            self.dirty = False
            self.message = ""

    def show_findings(self, findings: Findings) -> None:
        """Overlay a model result on the current image: its heatmaps and its AI box proposals."""
        with self.hold_trait_notifications():
            self.heatmaps = dict(findings.heatmaps)
            self.lung_outline = findings.lung_mask
            self.boxes = [b.as_dict() for b in findings.boxes]
            if not self.classes:
                self.classes = list(findings.results)
            self.heatmap_label = self._default_heatmap_label()
            self.selected = -1

    def box_values(self) -> list[Box]:
        """The current boxes as shared :class:`Box` values."""
        return boxes_from_dicts(self.boxes)

    def on_save(self, callback: SaveCallback, remove: bool = False) -> None:
        """Call ``callback(boxes)`` when the user presses Save (or ``remove`` it again)."""
        if remove:
            self._save_callbacks.remove(callback)
        else:
            self._save_callbacks.append(callback)

    def show_message(self, text: str, kind: str = "info") -> None:
        """One line under the image; ``kind`` is info, ok, warning or error."""
        with self.hold_trait_notifications():
            self.message_kind = kind
            self.message = text

    def request_save(self) -> None:
        """What the Save button does, callable from Python (and from tests)."""
        if self.readonly:  # a browser can send "save" even when the button is hidden
            self.show_message(_("This view is read-only; nothing was saved.", self.language), "warning")
            return
        boxes = self.box_values()
        if not self._save_callbacks:
            self.show_message(_("Nothing is connected to save these boxes.", self.language), "warning")
            return
        for callback in list(self._save_callbacks):
            try:
                callback(boxes)
            except LungDxError as exc:  # expected failure: say it in the panel (catalogued text in the reader's words)
                self.show_message(translate(str(exc), self.language), "error")
                return
            except Exception as exc:  # a bug, but the clinician must still learn nothing was saved
                log.exception("save callback failed")
                self.show_message(_("Not saved: unexpected error ({kind}: {error}).", self.language).format(
                    kind=type(exc).__name__, error=exc), "error")
                return

    # ----------------------------------------------------------------- internals
    def _default_heatmap_label(self) -> str:
        if ABNORMAL in self.heatmaps:
            return ABNORMAL
        return next(iter(self.heatmaps), "")

    @t.observe("save_requests")
    def _save_pressed(self, _change: t.Bunch) -> None:
        self.request_save()
