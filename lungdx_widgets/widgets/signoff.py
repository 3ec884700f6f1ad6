"""Clinician sign-off: agree or disagree with the AI per finding, comment, sign.

Signing freezes the study's annotations in the store; edits afterwards become addenda. The panel
asks about the findings that matter (above threshold, plus the most probable ones) and will not
sign until each has an answer: no silent default of "agree".
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w
import traitlets as t

from ..errors import LungDxError
from .findings import FindingsView
from .theme import esc, message_html

ALSO_ASK_TOP = 3


def findings_to_confirm(view: FindingsView, also_top: int = ALSO_ASK_TOP) -> list[str]:
    """Labels above threshold, then the next most probable ones (assessed labels only)."""
    assessed = view.assessed
    positives = [k for k in assessed if view.is_positive(k)]
    extra = [k for k in assessed if k not in positives][:also_top]
    return positives + extra


class SignoffPanel(w.VBox):
    """Per-finding agree/disagree + comment + Sign; calls ``on_signed`` handlers with the study id."""

    study_id = t.Int(None, allow_none=True, help="Study being signed.")
    signed = t.Bool(False, help="True once signed in this session or in the store.")

    def __init__(self, store, actor: str, *, can_sign: bool = True) -> None:
        self._store = store
        self._actor = actor
        self._can_sign = can_sign
        self._choices: dict[str, w.ToggleButtons] = {}
        self._handlers: list[Callable[[int], None]] = []
        self._rows = w.VBox()
        self.comment = w.Textarea(placeholder="Comment (optional)", layout=w.Layout(width="100%", height="56px"))
        self.comment.add_class("lx-signoff-comment")
        self.sign = w.Button(description="Sign off", disabled=True, layout=w.Layout(width="120px"))
        self.sign.add_class("lx-primary")
        self.sign.add_class("lx-signoff-button")
        self.message = w.HTML("<div class='lx-empty'>Sign-off is available once a study has AI findings.</div>")
        self.message.add_class("lx-signoff-message")
        self.sign.on_click(lambda _b: self.submit())
        self._form = w.VBox([w.HTML("<div class='lx-muted'>Do you agree with the AI on each finding?</div>"),
                             self._rows, self.comment, self.sign], layout=w.Layout(display="none"))
        super().__init__([self.message, self._form])
        self.add_class("lx-signoff")

    def on_signed(self, handler: Callable[[int], None]) -> None:
        self._handlers.append(handler)

    def show(self, study_id: int, view: FindingsView | None, *, signed_note: str | None = None) -> None:
        """Prepare the form for a study; ``signed_note`` (from the store) shows it as already signed."""
        self.study_id, self.signed = study_id, bool(signed_note)
        if view is None:
            self._form.layout.display = "none"
            self.message.value = "<div class='lx-empty'>No AI findings for this study to sign off.</div>"
            return
        self._choices = {}
        rows = []
        for label in findings_to_confirm(view):
            p = view.probabilities[label]
            toggle = w.ToggleButtons(options=["agree", "disagree"], value=None, style={"button_width": "72px"},
                                     layout=w.Layout(width="170px", flex="0 0 auto"))
            toggle.add_class("lx-signoff-choice")
            toggle.observe(lambda _c: self._update_state(), names="value")
            self._choices[label] = toggle
            flag = " (above threshold)" if view.is_positive(label) else ""
            rows.append(w.HBox([w.HTML(f"<span title='{esc(label)}'>{esc(label)} {p:.2f}{esc(flag)}</span>",
                                       layout=w.Layout(flex="1 1 auto", min_width="0")), toggle],
                               layout=w.Layout(align_items="center", width="100%")))
        self._rows.children = tuple(rows)
        self.comment.value = ""
        self._form.layout.display = None
        if signed_note:
            self._freeze(signed_note)
        else:
            self.message.value = "" if self._can_sign else message_html("Only clinicians sign studies.", "info")
            self._set_disabled(not self._can_sign)
            self._update_state()

    def agreement(self) -> dict[str, bool]:
        return {label: toggle.value == "agree" for label, toggle in self._choices.items() if toggle.value}

    def submit(self) -> bool:
        """Write the sign-off through the store; returns True when signed."""
        if self.study_id is None or len(self.agreement()) < len(self._choices):
            self.message.value = message_html("Answer agree or disagree for each finding first.", "warn")
            return False
        try:
            self._store.sign_study(self.study_id, self._actor, self.agreement(), comment=self.comment.value.strip())
        except LungDxError as exc:
            self.message.value = message_html(str(exc), "error")
            return False
        self._freeze(f"Signed by {self._actor}. Later edits are kept as addenda.")
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
        self.comment.disabled = disabled
        self.sign.disabled = disabled

    def _update_state(self) -> None:
        if not self.signed and self._can_sign:
            self.sign.disabled = len(self.agreement()) < len(self._choices)
