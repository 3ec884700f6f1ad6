"""Upload panel: radiograph bytes → study → AI findings → triage → stored prediction.

Nothing is written for a file the imaging layer refuses (its typed error is shown as is). A DICOM
whose PatientID differs from the selected patient is only attached after the clinician confirms.
If the model cannot run (e.g. weights missing) the study is still stored and the panel says so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import ipywidgets as w
import traitlets as t

from ..errors import LungDxError
from ..imaging import load_image
from ..imaging.names import display_filename
from ..store.errors import IdentityMismatch
from ..triage import assess
from .theme import esc, message_html

log = logging.getLogger(__name__)
ACCEPT = ".dcm,.dicom,.png,.jpg,.jpeg,application/dicom,image/png,image/jpeg"


class SharedAnalyzer:
    """Loads the model once per kernel, on first use or in the background at start-up."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path  # None: the registry's active version (Analyzer.load's default)
        if path is None:
            from ..learning.registry import follow_registry

            follow_registry()
        self._lock = threading.Lock()
        self._analyzer = None

    def get(self):
        """The loaded ``Analyzer``; raises its ``LungDxError`` (e.g. ``WeightsMissing``) every time it cannot load.

        Without a fixed path it follows the model registry: after an analyst activates (or rolls
        back) a version, the next analysis in every open dashboard uses it, no restart needed.
        """
        from ..model.analyze import Analyzer, default_checkpoint  # torch import is slow: only when needed

        with self._lock:
            wanted = Path(self._path) if self._path is not None else default_checkpoint()
            if self._analyzer is None or Path(self._analyzer.checkpoint.path) != wanted:
                self._analyzer = Analyzer.load(wanted)
            return self._analyzer

    def warm_up(self, before: Callable[[], None] = lambda: None) -> None:
        """Load in a background thread so the first upload does not pay for it (``before`` runs first)."""
        def _load() -> None:
            try:
                before()
                self.get()
            except Exception:  # noqa: BLE001 - reported to the clinician on first real use
                pass
        threading.Thread(target=_load, name="lungdx-model-warmup", daemon=True).start()


ANALYZER = SharedAnalyzer()


@dataclass
class UploadOutcome:
    """What one upload produced; ``findings``/``triage``/``prediction`` are None when the model failed."""

    study: object
    radiograph: object
    findings: object = None
    triage: object = None
    prediction: object = None
    model_error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


def attach_and_analyze(store, patient_id: str, data: bytes, filename: str | None, actor: str, *,
                       record=None, analyzer: SharedAnalyzer = ANALYZER, confirm_identity_mismatch: bool = False,
                       progress: Callable[[str, float], None] = lambda _s, _f: None) -> UploadOutcome:
    """The main path as one function: raises ``LungDxError`` before anything is written when the file is bad."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    progress("Reading image", 0.1)
    radiograph = load_image(data, filename=filename)
    timings["load"] = time.perf_counter() - t0
    progress("Saving study", 0.3)
    study = store.add_study(patient_id, radiograph, data, actor, filename=filename,
                            confirm_identity_mismatch=confirm_identity_mismatch)
    timings["store"] = time.perf_counter() - t0 - timings["load"]
    outcome = UploadOutcome(study=study, radiograph=radiograph, timings=timings)
    progress("Analysing", 0.5)
    t1 = time.perf_counter()
    try:
        findings = analyzer.get().analyze(radiograph)
    except LungDxError as exc:
        outcome.model_error = str(exc)
        return outcome
    timings["analyze"] = time.perf_counter() - t1
    progress("Triage", 0.9)
    triage = assess(findings, record)
    outcome.findings, outcome.triage = findings, triage
    outcome.prediction = store.add_prediction(study.id, findings, triage, actor)
    timings["total"] = time.perf_counter() - t0
    return outcome


class UploadPanel(w.VBox):
    """File picker + progress + messages; calls ``on_done`` handlers with an :class:`UploadOutcome`."""

    patient_id = t.Unicode(None, allow_none=True, help="Patient new studies are attached to.")
    busy = t.Bool(False, help="True while a file is being processed.")

    def __init__(self, store, actor: str, *, record_for: Callable[[str], object] = lambda _pid: None,
                 analyzer: SharedAnalyzer = ANALYZER) -> None:
        self._store = store
        self._actor = actor
        self._record_for = record_for
        self._analyzer = analyzer
        self._handlers: list[Callable[[UploadOutcome], None]] = []
        self._pending: tuple[bytes, str] | None = None
        # dashboard.css shows this label without ipywidgets' file count
        self.picker = w.FileUpload(accept=ACCEPT, multiple=False, description="Upload X-ray",
                                   layout=w.Layout(width="150px", min_width="150px"))
        self.picker.add_class("lx-upload-input")
        self.progress = w.FloatProgress(value=0, min=0, max=1, layout=w.Layout(width="120px", visibility="hidden"))
        self.progress.add_class("lx-upload-progress")
        self.status = w.HTML("<span class='lx-muted'>PNG, JPEG or DICOM</span>", layout=w.Layout(flex="1 1 auto"))
        self.status.add_class("lx-upload-status")
        self.confirm = w.Button(description="Attach anyway", layout=w.Layout(display="none", width="120px"))
        self.confirm.add_class("lx-upload-confirm")
        self.cancel = w.Button(description="Cancel", layout=w.Layout(display="none", width="80px"))
        self.cancel.add_class("lx-upload-cancel")
        self.picker.observe(self._on_file, names="value")
        self.confirm.on_click(lambda _b: self._resolve_mismatch(attach=True))
        self.cancel.on_click(lambda _b: self._resolve_mismatch(attach=False))
        row = w.HBox([self.picker, self.progress, self.status, self.confirm, self.cancel],
                     layout=w.Layout(align_items="center", width="100%"))
        row.add_class("lx-gap")
        super().__init__([row])
        self.add_class("lx-upload")

    def on_done(self, handler: Callable[[UploadOutcome], None]) -> None:
        self._handlers.append(handler)

    def _on_file(self, change) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        data, name = bytes(item["content"]), str(item["name"])
        self.picker.value = ()  # let the same file be chosen again
        self.handle(data, name)

    def handle(self, data: bytes, filename: str, *, confirm_identity_mismatch: bool = False) -> UploadOutcome | None:
        """Process one file (what a pick in the browser does); returns the outcome or None after a message."""
        if not self.patient_id:
            self._say("Select a patient before uploading.", "warn")
            return None
        filename = display_filename(filename)  # the browser's name is untrusted: a printable label only
        self.busy = True
        self._hide_confirm()
        self.progress.layout.visibility = "visible"
        try:
            outcome = attach_and_analyze(
                self._store, self.patient_id, data, filename, self._actor,
                record=self._record_for(self.patient_id), analyzer=self._analyzer,
                confirm_identity_mismatch=confirm_identity_mismatch, progress=self._step)
        except IdentityMismatch as exc:
            self._pending = (data, filename)
            self._say(f"{exc} Attach it to this patient anyway?", "warn")
            self.confirm.layout.display = None
            self.cancel.layout.display = None
            return None
        except LungDxError as exc:
            self._say(f"{filename}: {exc} Nothing was saved.", "error")
            return None
        except Exception as exc:  # a bug: the clinician must still learn that the upload did not complete
            log.exception("upload of %s failed", filename)
            self._say(f"{filename}: unexpected error ({type(exc).__name__}); the upload did not complete.", "error")
            return None
        finally:
            self.busy = False
            self.progress.layout.visibility = "hidden"
        if outcome.model_error:
            self._say(f"Study saved. AI analysis unavailable: {outcome.model_error}", "warn")
        else:
            total = outcome.timings.get("total", 0.0)
            self._say(f"{filename}: analysed in {total:.1f} s.", "ok")
        for handler in self._handlers:
            handler(outcome)
        return outcome

    def _resolve_mismatch(self, *, attach: bool) -> None:
        pending, self._pending = self._pending, None
        self._hide_confirm()
        if pending is None:
            return
        if attach:
            self.handle(*pending, confirm_identity_mismatch=True)
        else:
            self._say("Upload cancelled; nothing was saved.", "info")

    def _hide_confirm(self) -> None:
        self.confirm.layout.display = "none"
        self.cancel.layout.display = "none"

    def _step(self, text: str, fraction: float) -> None:
        self.progress.value = fraction
        self.status.value = f"<span class='lx-muted'>{esc(text)}…</span>"

    def _say(self, text: str, kind: str) -> None:
        self.status.value = message_html(text, kind)
