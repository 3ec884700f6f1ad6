"""Report download for the open study: HTML or PDF, built by ``reports`` and handed to the browser.

Why in the dashboard: a clinician cannot run ``lungdx report``. The file is offered as a
``data:`` link with a ``download`` name (Voila serves no files to clinicians); each download is
audited as ``export_report`` like the CLI's.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

import ipywidgets as w

from ..i18n import N_
from ..i18n import gettext as _
from ..errors import LungDxError
from .theme import esc, message_html

MSG_NO_STUDY = N_("Open a study to download its report.")
MSG_READY = N_("Report ready:")
MIME = {"html": "text/html", "pdf": "application/pdf"}


def report_bytes(store, study_id: int, actor: str, kind: str) -> tuple[str, bytes]:
    """(file name, content) of one study's report; raises ``LungDxError`` (e.g. no Chromium for PDF)."""
    from ..reports.context import study_context
    from ..reports.export import save_report

    ctx = study_context(store, study_id, actor)
    name = f"lungdx-study-{ctx.study.id}-{'signed' if ctx.signed else 'preliminary'}.{kind}"
    with tempfile.TemporaryDirectory(prefix="lungdx-report-") as tmp:
        out = save_report(ctx, Path(tmp) / name, actor, None, "heatmap not included")
        data = out.read_bytes()
    store.audit(actor, "export_report", f"study:{ctx.study.id}", detail=name)
    return name, data


class ReportDownload(w.VBox):
    """Two buttons (HTML, PDF) and the download link of the last report made."""

    def __init__(self, store, actor: str) -> None:
        self._store = store
        self._actor = actor
        self.study_id: int | None = None
        self.html_button = w.Button(description=_("Report (HTML)"), layout=w.Layout(width="120px"))
        self.pdf_button = w.Button(description=_("Report (PDF)"), layout=w.Layout(width="120px"))
        self.html_button.add_class("lx-report-html")
        self.pdf_button.add_class("lx-report-pdf")
        self.link = w.HTML()
        self.link.add_class("lx-report-link")
        self.html_button.on_click(lambda _b: self.make("html"))
        self.pdf_button.on_click(lambda _b: self.make("pdf"))
        super().__init__([w.HBox([self.html_button, self.pdf_button]), self.link])
        self.add_class("lx-report")

    def set_study(self, study_id: int | None) -> None:
        """Another study (or none): the previous study's link must not stay on screen."""
        self.study_id = study_id
        self.link.value = ""

    def make(self, kind: str) -> str | None:
        """Build the report and show its download link; returns the file name or None after a message."""
        if self.study_id is None:
            self.link.value = message_html(MSG_NO_STUDY, "info")
            return None
        try:
            name, data = report_bytes(self._store, self.study_id, self._actor, kind)
        except LungDxError as exc:
            self.link.value = message_html(str(exc), "error")
            return None
        href = f"data:{MIME[kind]};base64,{base64.b64encode(data).decode('ascii')}"
        self.link.value = (f"<span class='lx-muted'>{esc(_(MSG_READY))} </span>"
                           f"<a class='lx-report-download' download='{esc(name)}' href='{href}'>{esc(name)}</a>")
        return name
