"""Upload panel: radiograph bytes → study → AI findings → triage → stored prediction.

Nothing is written for a file the imaging layer refuses (its typed error is shown as is). A DICOM
whose PatientID differs from the selected patient is only attached after the clinician confirms.
If the model cannot run (e.g. weights missing) the study is still stored and the panel says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anywidget
import ipywidgets as w
import traitlets as t

from ..i18n import N_
from ..i18n import gettext as _
from ..config import get_settings
from ..errors import LungDxError
from ..imaging.names import display_filename
from ..services import AnalyzerLike, IngestResult, ModelService, ingest, shared_model_service
from ..services import duplicate_message as _duplicate_message
from ..store.errors import IdentityMismatch
from .kernel_loop import kernel_loop
from .theme import esc, message_html

log = logging.getLogger(__name__)
ACCEPT = ".dcm,.dicom,.png,.jpg,.jpeg,application/dicom,image/png,image/jpeg"
IDLE_TEXT = N_("PNG, JPEG or DICOM")
MSG_PATIENT_CHANGED = N_("The patient changed since that question; nothing was saved. Choose the file again.")
MSG_NOTHING_PENDING = N_("No file is waiting for confirmation; nothing was saved.")


def _idle_html() -> str:
    return f"<span class='lx-muted'>{esc(_(IDLE_TEXT))}</span>"


#: Kept names for callers: the model service and the result type live in the core (``services.py``).
SharedAnalyzer = ModelService
UploadOutcome = IngestResult
ANALYZER = shared_model_service()  # only an object: it follows the registry when asked, changes nothing now


def attach_and_analyze(store, patient_id: str, data: bytes, filename: str | None, actor: str, *,
                       record=None, analyzer: AnalyzerLike = ANALYZER, confirm_identity_mismatch: bool = False,
                       progress: Callable[[str, float], None] = lambda _s, _f: None) -> UploadOutcome:
    """The upload's call into the one ingest path; raises ``LungDxError`` before anything is written."""
    return ingest(store, patient_id, data, actor, filename=filename, analyzer=analyzer, record=record,
                  confirm_identity_mismatch=confirm_identity_mismatch, progress=progress)


MSG_TOO_LARGE = N_("{name}: {size} is larger than the upload limit of {limit}; nothing was sent or saved.")
UPLOAD_LABEL = N_("Upload X-ray")
MSG_BUSY = N_("Still working on the last file; choose the next one when it is done.")
BUSY_LABEL = N_("Working…")


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


class UploadPicker(anywidget.AnyWidget):
    """The upload button (upload_picker.js): refuses a file above ``limit`` before sending a byte.

    A file within the limit arrives as one binary buffer (``on_file(data, name)``); a refused one
    as its name and size only (``on_refused(name, size)``), so Python says it again in the status.
    """

    _esm = Path(__file__).with_name("upload_picker.js")
    limit = t.Int(0).tag(sync=True)
    accept = t.Unicode(ACCEPT).tag(sync=True)
    label = t.Unicode(UPLOAD_LABEL).tag(sync=True)
    busy_label = t.Unicode(BUSY_LABEL).tag(sync=True)
    too_large = t.Unicode(MSG_TOO_LARGE).tag(sync=True)
    busy = t.Bool(False).tag(sync=True)
    disabled = t.Bool(False).tag(sync=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.label, self.busy_label, self.too_large = _(UPLOAD_LABEL), _(BUSY_LABEL), _(MSG_TOO_LARGE)
        self._on_file: Callable[[bytes, str], None] = lambda _d, _n: None
        self._on_refused: Callable[[str, int], None] = lambda _n, _s: None
        self.on_msg(self._message)

    def handlers(self, on_file: Callable[[bytes, str], None], on_refused: Callable[[str, int], None]) -> None:
        self._on_file, self._on_refused = on_file, on_refused

    def _message(self, _widget, content: dict, buffers: list) -> None:
        kind = (content or {}).get("kind")
        name = str((content or {}).get("name", ""))
        if kind == "file" and buffers:
            self._on_file(bytes(buffers[0]), name)
        elif kind == "refused":
            self._on_refused(name, int((content or {}).get("size", 0)))


def duplicate_message(outcome: UploadOutcome) -> str:
    """What the clinician reads when a film is uploaded twice (its stored result stays as it is)."""
    return _duplicate_message(outcome.signoff)


class UploadPanel(w.VBox):
    """File picker + progress + messages; calls ``on_done`` handlers with an :class:`UploadOutcome`."""

    patient_id = t.Unicode(None, allow_none=True, help="Patient new studies are attached to.")
    busy = t.Bool(False, help="True while a file is being processed.")

    def __init__(self, store, actor: str, *, record_for: Callable[[str], object] = lambda _pid: None,
                 analyzer: AnalyzerLike = ANALYZER) -> None:
        self._store = store
        self._actor = actor
        self._record_for = record_for
        self._analyzer = analyzer
        self._handlers: list[Callable[[UploadOutcome], None]] = []
        #: One film at a time is decoded and analysed, off the kernel's loop (see :meth:`handle`).
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lungdx-upload")
        #: A file waiting for an identity-mismatch confirmation: (bytes, name, patient it was offered for).
        self._pending: tuple[bytes, str, str] | None = None
        #: The limit the browser enforces is the imaging layer's own (below the websocket's cap).
        self.picker = UploadPicker(limit=get_settings().max_upload_bytes, layout=w.Layout(width="150px", min_width="150px"))
        self.picker.add_class("lx-upload-input")
        self.picker.handlers(self._on_file, self._on_refused)
        self.progress = w.FloatProgress(value=0, min=0, max=1, layout=w.Layout(width="120px", visibility="hidden"))
        self.progress.add_class("lx-upload-progress")
        self.status = w.HTML(_idle_html(), layout=w.Layout(flex="1 1 auto"))
        self.status.add_class("lx-upload-status")
        self.confirm = w.Button(description=_("Attach anyway"), layout=w.Layout(display="none", width="120px"))
        self.confirm.add_class("lx-upload-confirm")
        self.cancel = w.Button(description=_("Cancel"), layout=w.Layout(display="none", width="80px"))
        self.cancel.add_class("lx-upload-cancel")
        self.confirm.on_click(lambda _b: self._resolve_mismatch(attach=True))
        self.cancel.on_click(lambda _b: self._resolve_mismatch(attach=False))
        row = w.HBox([self.picker, self.progress, self.status, self.confirm, self.cancel],
                     layout=w.Layout(align_items="center", width="100%"))
        row.add_class("lx-gap")
        super().__init__([row])
        self.add_class("lx-upload")

    def on_done(self, handler: Callable[[UploadOutcome], None]) -> None:
        self._handlers.append(handler)

    def _on_file(self, data: bytes, name: str) -> None:
        """A file from the browser's picker (already within the size limit there)."""
        if self.busy:
            self._say(_(MSG_BUSY), "warn")
            return
        self.handle(data, name)

    def _on_refused(self, name: str, size: int) -> None:
        self._say(_(MSG_TOO_LARGE).format(name=display_filename(name), size=_mb(size), limit=_mb(self.picker.limit)),
                  "error")

    def handle(self, data: bytes, filename: str, *, confirm_identity_mismatch: bool = False) -> UploadOutcome | None:
        """Process one file (what a pick in the browser does); returns the outcome or None after a message.

        In a kernel the work runs on a worker thread with its own store connection, so the dashboard
        keeps answering clicks while a film is decoded and analysed; the result is shown on the kernel's
        loop when it is ready (and None is returned at once). Elsewhere (tests, scripts) it runs here.
        """
        if not self.patient_id:
            self._say(_("Select a patient before uploading."), "warn")
            return None
        filename = display_filename(filename)  # the browser's name is untrusted: a printable label only
        patient_id = self.patient_id
        record = self._record_for(patient_id)  # read (and audited) here, not on the worker
        self.busy = True
        self._hide_confirm()
        self.progress.layout.visibility = "visible"
        loop = kernel_loop()
        if loop is None:
            return self._finish(patient_id, data, filename, lambda: attach_and_analyze(
                self._store, patient_id, data, filename, self._actor, record=record, analyzer=self._analyzer,
                confirm_identity_mismatch=confirm_identity_mismatch, progress=self._step))

        def work() -> UploadOutcome:
            def progress(text: str, fraction: float) -> None:
                loop.call_soon_threadsafe(self._step, text, fraction)

            with self._store.reopen() as own:  # a connection is never shared between threads
                return attach_and_analyze(own, patient_id, data, filename, self._actor, record=record,
                                          analyzer=self._analyzer,
                                          confirm_identity_mismatch=confirm_identity_mismatch, progress=progress)

        job = loop.run_in_executor(self._worker, work)
        job.add_done_callback(lambda done: self._finish(patient_id, data, filename, done.result))
        return None

    def _finish(self, patient_id: str, data: bytes, filename: str,
                result: Callable[[], UploadOutcome]) -> UploadOutcome | None:
        """Show what ``result()`` gives (an outcome, or the error it raises) and tell the handlers."""
        try:
            outcome = result()
        except IdentityMismatch as exc:
            if patient_id == self.patient_id:  # the question belongs to this (file, patient) pair only
                self._pending = (data, filename, patient_id)
                self._say(_("{problem} Attach it to this patient anyway?").format(problem=exc), "warn")
                self.confirm.layout.display = None
                self.cancel.layout.display = None
            return None
        except LungDxError as exc:
            self._say(_("{file}: {problem} Nothing was saved.").format(file=filename, problem=exc), "error")
            return None
        except Exception as exc:  # a bug: the clinician must still learn that the upload did not complete
            log.exception("upload of %s failed", filename)
            self._say(_("{file}: unexpected error ({kind}); the upload did not complete.").format(
                file=filename, kind=type(exc).__name__), "error")
            return None
        finally:
            self.busy = False
            self.progress.layout.visibility = "hidden"
        moved_on = patient_id != self.patient_id
        for handler in self._handlers:  # first the study is shown, then the status says it is done
            handler(outcome)
        if moved_on:  # the reader moved on while it ran: say where it went
            self._say(_("{file} was filed for patient {mrn}; open it from the worklist.").format(
                file=filename, mrn=patient_id), "info")
        elif outcome.duplicate:
            self._say(duplicate_message(outcome), "info")
        elif outcome.model_error:
            self._say(_("Study saved. AI analysis unavailable: {error}").format(error=outcome.model_error), "warn")
        else:
            total = outcome.timings.get("total", 0.0)
            self._say(_("{file}: analysed in {seconds} s.").format(file=filename, seconds=f"{total:.1f}"), "ok")
        return outcome

    def _resolve_mismatch(self, *, attach: bool) -> None:
        """The confirmation counts only for the (file, patient) pair it was asked about."""
        pending, self._pending = self._pending, None
        self._hide_confirm()
        if pending is None:
            if attach:  # e.g. a click message on a button hidden by a patient switch
                self._say(MSG_NOTHING_PENDING, "warn")
            return
        data, filename, patient_id = pending
        if attach and patient_id != self.patient_id:
            self._say(MSG_PATIENT_CHANGED, "warn")
        elif attach:
            self.handle(data, filename, confirm_identity_mismatch=True)
        else:
            self._say(_("Upload cancelled; nothing was saved."), "info")

    @t.observe("busy")
    def _busy_changed(self, change) -> None:
        self.picker.busy = change["new"]

    @t.observe("patient_id")
    def _patient_changed(self, _change) -> None:
        self.reset()

    def reset(self) -> None:
        """A patient switch: no pending confirmation, no message from the previous patient."""
        self._pending = None
        self._hide_confirm()
        self.status.value = _idle_html()

    def _hide_confirm(self) -> None:
        self.confirm.layout.display = "none"
        self.cancel.layout.display = "none"

    def _step(self, text: str, fraction: float) -> None:
        self.progress.value = fraction
        self.status.value = f"<span class='lx-muted'>{esc(_(text))}…</span>"

    def _say(self, text: str, kind: str) -> None:
        self.status.value = message_html(text, kind)
