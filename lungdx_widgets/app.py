"""Dashboard: composes the widgets for the clinician (placeholder until the dashboard issue)."""

from __future__ import annotations

import ipywidgets as w

from .config import get_settings

RESEARCH_NOTICE = "Research use only — AI findings are decision support; the clinician decides."


class Dashboard(w.VBox):
    """The clinician's single screen."""

    def __init__(self) -> None:
        s = get_settings()
        header = w.HTML(f"<h2 class='lungdx-title'>LungDx Workbench</h2><p>{RESEARCH_NOTICE}</p>")
        status = w.HTML(f"<p>Database: <code>{s.db.name}</code></p>")
        super().__init__([header, status])
        self.add_class("lungdx-dashboard")
