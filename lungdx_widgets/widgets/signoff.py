"""Clinician sign-off: present / absent / uncertain per finding, impression, final diagnosis, sign.

The panel asks about the findings that matter (likely ones, the next most probable ones, and
every label a reader drew or kept a box for) and will not sign until each has an answer: no
silent default. Before signing it shows where the answers contradict the saved boxes (the one
ground-truth rule in :mod:`lungdx_widgets.ground_truth` lets the answer win). The store enforces
one sign-off per study version; a click on the disabled button is refused here as well.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ipywidgets as w
import traitlets as t

from ..i18n import N_
from ..i18n import gettext as _
from ..terms import finding_name
from ..errors import LungDxError
from ..ground_truth import VERDICTS, conflicts, is_kept
from ..types import Box
from .findings import FindingsView
from .theme import esc, message_html

ALSO_ASK_TOP = 3
QUESTION = N_("Is each finding present, absent or uncertain on this film?")
MSG_ANSWER_ALL = N_("Answer present, absent or uncertain for each finding first.")
MSG_NOT_NOW = N_("Sign-off is not available now; nothing was signed.")
MSG_SAVE_BOXES = N_("Save or discard your box changes before signing.")
MSG_ONLY_CLINICIANS = N_("Only clinicians sign studies.")
MSG_ADDENDUM_NEEDED = N_("Boxes were changed after signing; they are not signed until you sign an addendum.")
#: The sign-off row of a finding that only a reader's box raised (the AI gave it no probability).
READERS_BOX = N_("reader's box")
MSG_ADDENDUM_OPEN = N_("Addendum: answer for each finding on the changed boxes, then sign.")
MSG_CONFLICT = N_("Your answers differ from the saved boxes: {labels}. Your answer counts and those boxes will not; "
                "press Sign off again to sign, or change the answers or the boxes.")


def findings_to_confirm(view: FindingsView, also_top: int = ALSO_ASK_TOP, boxes: Sequence[Box] = ()) -> list[str]:
    """Likely labels, then the next most probable ones, then labels of boxes a person kept or drew."""
    assessed = view.assessed
    positives = [k for k in assessed if view.is_positive(k)]
    extra = [k for k in assessed if k not in positives][:also_top]
    asked = positives + extra
    return asked + sorted({b.label for b in boxes if is_kept(b)} - set(asked))


class SignoffPanel(w.VBox):
    """Per-finding verdict + impression + diagnosis + Sign; calls ``on_signed`` handlers with the study id."""

    study_id = t.Int(None, allow_none=True, help="Study being signed.")
    signed = t.Bool(False, help="True once signed in this session or in the store.")

    def __init__(self, store, actor: str, *, can_sign: bool = True,
                 boxes_for: Callable[[], tuple[Sequence[Box], int, bool]] | None = None) -> None:
        """``boxes_for()`` gives (saved boxes, their version, unsaved edits?) of the open study."""
        self._store = store
        self._actor = actor
        self._can_sign = can_sign
        self._boxes_for = boxes_for or (lambda: ((), 0, False))
        self._choices: dict[str, w.ToggleButtons] = {}
        self._handlers: list[Callable[[int], None]] = []
        self._confirmed_conflicts: list[str] | None = None
        self._rows = w.VBox()
        self.impression = w.Textarea(placeholder=_("Impression"), layout=w.Layout(width="100%", height="48px"))
        self.impression.add_class("lx-signoff-impression")
        self.diagnosis = w.Text(placeholder=_("Final diagnosis"), layout=w.Layout(width="100%"))
        self.diagnosis.add_class("lx-signoff-diagnosis")
        self.comment = w.Textarea(placeholder=_("Comment (optional)"), layout=w.Layout(width="100%", height="40px"))
        self.comment.add_class("lx-signoff-comment")
        self.sign = w.Button(description=_("Sign off"), disabled=True, layout=w.Layout(width="120px"))
        self.sign.add_class("lx-primary")
        self.sign.add_class("lx-signoff-button")
        self.message = w.HTML(f"<div class='lx-empty'>{esc(_('Sign-off is available once a study has AI findings.'))}</div>")
        self.message.add_class("lx-signoff-message")
        self.sign.on_click(lambda _b: self.click())
        #: After signing, boxes saved later are signed as an explicit addendum (never a second sign-off).
        self.addendum_button = w.Button(description=_("Sign addendum"), layout=w.Layout(width="130px", display="none"))
        self.addendum_button.add_class("lx-signoff-addendum")
        self.addendum_button.on_click(lambda _b: self.start_addendum())
        self._addendum = False
        self._form = w.VBox([w.HTML(f"<div class='lx-muted'>{esc(_(QUESTION))}</div>"),
                             self._rows, self.impression, self.diagnosis, self.comment, self.sign],
                            layout=w.Layout(display="none"))
        super().__init__([self.message, self.addendum_button, self._form])
        self.add_class("lx-signoff")

    def on_signed(self, handler: Callable[[int], None]) -> None:
        self._handlers.append(handler)

    def show(self, study_id: int | None, view: FindingsView | None, *, signed_note: str | None = None) -> None:
        """Prepare the form for a study; ``signed_note`` (from the store) shows it as already signed."""
        self.study_id, self.signed = study_id, bool(signed_note)
        self._confirmed_conflicts = None
        self._addendum = False
        self.addendum_button.layout.display = "none"
        self.impression.value = self.diagnosis.value = self.comment.value = ""
        if view is None:
            self._choices = {}
            self._rows.children = ()
            self._form.layout.display = "none"
            self.message.value = f"<div class='lx-empty'>{esc(_('No AI findings for this study to sign off.'))}</div>"
            return
        self._choices = {}
        rows = []
        boxes, _version, _dirty = self._boxes_for()
        for label in findings_to_confirm(view, boxes=boxes):
            toggle = w.ToggleButtons(options=[(_(v), v) for v in VERDICTS], value=None, style={"button_width": "62px"},
                                     layout=w.Layout(width="200px", flex="0 0 auto"))
            toggle.add_class("lx-signoff-choice")
            toggle.observe(lambda _c: self._update_state(), names="value")
            self._choices[label] = toggle
            word = view.likelihood(label) if label in view.probabilities else READERS_BOX
            ai_word = _("AI: {likelihood}").format(likelihood=_(word))
            rows.append(w.HBox([w.HTML(f"<span title='{esc(label)}'>{esc(finding_name(label))} "
                                       f"<span class='lx-muted'>{esc(ai_word)}</span></span>",
                                       layout=w.Layout(flex="1 1 auto", min_width="0")), toggle],
                               layout=w.Layout(align_items="center", width="100%")))
        self._rows.children = tuple(rows)
        self._form.layout.display = None
        if signed_note:
            self._freeze(signed_note)
            if self._can_sign and self._unsigned_changes():
                self.addendum_button.layout.display = None
                self.message.value = message_html(f"{signed_note} {_(MSG_ADDENDUM_NEEDED)}", "warn")
        else:
            self.message.value = "" if self._can_sign else message_html(MSG_ONLY_CLINICIANS, "info")
            self._set_disabled(not self._can_sign)
            self._update_state()

    def verdicts(self) -> dict[str, str]:
        return {label: toggle.value for label, toggle in self._choices.items() if toggle.value}

    def click(self) -> bool:
        """What a click message does: refused while the button is disabled (a browser can send one anyway)."""
        if self.sign.disabled:
            self.message.value = message_html(MSG_NOT_NOW, "warn")
            return False
        return self.submit()

    def _unsigned_changes(self) -> bool:
        """Boxes were saved after the newest sign-off (they need an addendum)."""
        latest = self._store.latest_signoff(self.study_id) if self.study_id is not None else None
        return latest is not None and self._store.annotations(self.study_id).version > latest.annotation_version

    def start_addendum(self) -> None:
        """Open the form again for an addendum on the newer boxes (the first sign-off stays as it was)."""
        if not (self.signed and self._can_sign and self._unsigned_changes()):
            self.message.value = message_html(MSG_NOT_NOW, "warn")
            return
        self._addendum, self.signed = True, False
        self.addendum_button.layout.display = "none"
        for toggle in self._choices.values():
            toggle.value = None
        self._set_disabled(False)
        self.message.value = message_html(_(MSG_ADDENDUM_OPEN), "info")
        self._update_state()

    def submit(self) -> bool:
        """Write the sign-off through the store; returns True when signed."""
        if self.signed or not self._can_sign or self.study_id is None:
            self.message.value = message_html(MSG_NOT_NOW, "warn")
            return False
        if len(self.verdicts()) < len(self._choices):
            self.message.value = message_html(MSG_ANSWER_ALL, "warn")
            return False
        boxes, version, dirty = self._boxes_for()
        if dirty:
            self.message.value = message_html(MSG_SAVE_BOXES, "warn")
            return False
        clash = conflicts(self.verdicts(), boxes)
        if clash and self._confirmed_conflicts != clash:
            self._confirmed_conflicts = clash
            self.message.value = message_html(_(MSG_CONFLICT).format(labels=", ".join(map(finding_name, clash))), "warn")
            return False
        try:
            signed = self._store.sign_study(self.study_id, self._actor, verdicts=self.verdicts(),
                                            comment=self.comment.value.strip(), impression=self.impression.value,
                                            diagnosis=self.diagnosis.value, annotation_version=version,
                                            addendum=self._addendum)
        except LungDxError as exc:
            self.message.value = message_html(str(exc), "error")
            return False
        note = (_("Addendum signed by {name} (annotation version {version}). Later edits are kept as addenda.")
                if signed.addendum else
                _("Signed by {name} (annotation version {version}). Later edits are kept as addenda."))
        self._freeze(note.format(name=signed.signed_by, version=signed.annotation_version))
        self._addendum = False
        for handler in self._handlers:
            handler(self.study_id)
        return True

    def _freeze(self, note: str) -> None:
        self.signed = True
        self._set_disabled(True)
        self.message.value = message_html(note, "ok")

    def _set_disabled(self, disabled: bool) -> None:
        for toggle in self._choices.values():
            toggle.disabled = disabled
        for box in (self.comment, self.impression, self.diagnosis, self.sign):
            box.disabled = disabled

    def _update_state(self) -> None:
        self._confirmed_conflicts = None
        if not self.signed and self._can_sign:
            self.sign.disabled = len(self.verdicts()) < len(self._choices)
            boxes, _v, _d = self._boxes_for()
            clash = conflicts(self.verdicts(), boxes)
            if clash:
                self.message.value = message_html(
                    _("Differs from the saved boxes: {findings} (your answer will count).").format(
                        findings=", ".join(finding_name(label) for label in clash)), "warn")
            elif self.message.value and "lx-msg-warn" in self.message.value:
                self.message.value = ""
