"""Notebook widgets for the learning loop: fine-tuning progress and the model registry panel.

The logic lives in :mod:`lungdx_widgets.learning`; these classes only show it. The registry
panel compares two versions on the same evaluation images (plotly figure), and lets an analyst
or admin activate a candidate or roll back; the role check, the audit row and the warnings come
from the core, and warnings are shown before anything else.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w
import plotly.graph_objects as go

from ..errors import LungDxError
from ..learning.compare import Comparison, compare_versions, comparison_figure
from ..learning.evalsets import EvalSet
from ..learning.registry import activate, rollback
from .theme import esc, message_html


class TrainingProgress(w.VBox):
    """A progress bar for a fine-tuning job; pass :meth:`update` as the job's ``progress``."""

    def __init__(self, description: str = "Fine-tuning") -> None:
        self.bar = w.IntProgress(value=0, min=0, max=1, description=description,
                                 layout=w.Layout(width="420px"), style={"description_width": "initial"})
        self.status = w.HTML("waiting to start")
        super().__init__([self.bar, self.status])

    def update(self, event: dict) -> None:
        """One trainer event: ``step``, ``total_steps`` and a float ``loss`` (or an epoch summary)."""
        self.bar.max = max(1, int(event["total_steps"]))
        self.bar.value = int(event["step"])
        loss = event.get("loss")
        text = f"step {event['step']} of {event['total_steps']}"
        if isinstance(loss, float):
            text += f" · loss {loss:.3f}"
        elif event.get("epoch_end"):
            aurocs = ", ".join(f"{k} {v:.2f}" for k, v in (event.get("val_auroc") or {}).items() if v is not None)
            text += " · epoch finished" + (f" · validation AUROC {aurocs}" if aurocs else "")
        self.status.value = esc(text)
        if self.bar.value >= self.bar.max:
            self.bar.bar_style = "success"


def _version_rows(store) -> str:
    rows = []
    for m in store.list_models():
        labels = m.metrics.get("labels") or {}
        headline = "; ".join(
            f"{esc(k)} {v['auroc']:.3f}" + (f" [{v['ci95'][0]:.2f}–{v['ci95'][1]:.2f}]" if v.get("ci95") else "")
            for k, v in labels.items() if v.get("auroc") is not None) or "not evaluated"
        rows.append(f"<tr><td><b>{esc(m.status)}</b></td><td>{esc(m.version)}</td>"
                    f"<td>{esc(m.snapshot_id or '–')}</td><td>{headline}</td><td>{esc(m.created)}</td></tr>")
    head = "<tr><th>status</th><th>version</th><th>trained on</th><th>AUROC [95% CI]</th><th>registered</th></tr>"
    return f"<table class='lx-table' style='border-collapse:collapse;font-size:13px'>{head}{''.join(rows)}</table>" if rows else "<i>No registered model versions.</i>"


class ModelRegistryPanel(w.VBox):
    """Versions table, paired comparison figure, and activate / roll back buttons."""

    def __init__(self, store, actor: str, eval_set: EvalSet | None = None, *, n_boot: int = 1000,
                 limit: int | None = None) -> None:
        self._store, self._actor = store, actor
        self._eval_set, self._n_boot, self._limit = eval_set, n_boot, limit
        self.comparison: Comparison | None = None
        self.table = w.HTML()
        self.reference = w.Dropdown(description="Reference", style={"description_width": "initial"})
        self.candidate = w.Dropdown(description="Candidate", style={"description_width": "initial"})
        self.compare_button = w.Button(description="Compare", icon="balance-scale")
        self.activate_button = w.Button(description="Activate candidate", button_style="warning")
        self.rollback_button = w.Button(description="Roll back", icon="undo")
        self.message = w.HTML()
        self.figure = w.Box()
        self.compare_button.on_click(lambda _b: self._guard(self.compare))
        self.activate_button.on_click(lambda _b: self._guard(self.activate_candidate))
        self.rollback_button.on_click(lambda _b: self._guard(self.roll_back))
        controls = w.HBox([self.reference, self.candidate, self.compare_button, self.activate_button,
                           self.rollback_button])
        super().__init__([self.table, controls, self.message, self.figure])
        self.refresh()

    def refresh(self) -> None:
        """Re-read the registry: table and choices (reference = active, candidate = newest candidate)."""
        models = self._store.list_models()
        versions = [m.version for m in models]
        self.table.value = _version_rows(self._store)
        self.reference.options = self.candidate.options = versions
        active = next((m.version for m in models if m.status == "active"), None)
        newest = next((m.version for m in models if m.status == "candidate"), None)
        self.reference.value = active or (versions[0] if versions else None)
        self.candidate.value = newest or (versions[0] if versions else None)

    def _guard(self, action: Callable[[], object]) -> None:
        try:
            action()
        except LungDxError as exc:
            self.message.value = message_html(str(exc), "error")

    def compare(self) -> Comparison:
        """Compare the selected candidate against the reference on the same evaluation images."""
        self.message.value = message_html("Comparing on the evaluation set…", "info")
        self.comparison = compare_versions(self._store, self.reference.value, self.candidate.value, self._eval_set,
                                           n_boot=self._n_boot, limit=self._limit)
        self.figure.children = [go.FigureWidget(comparison_figure(self.comparison))]
        worse = self.comparison.regressions()
        self.message.value = (message_html("Worse beyond the 95% CI — " + "; ".join(worse), "warn") if worse else
                              message_html(f"No label is worse beyond its 95% CI on {self.comparison.n_images} images.", "ok"))
        return self.comparison

    def activate_candidate(self) -> None:
        """Activate the selected candidate (analyst/admin); paired-comparison warnings go to the audit row."""
        c = self.comparison
        extra = tuple(c.regressions()) if c and c.version_b == self.candidate.value else ()
        result = activate(self._store, self.candidate.value, self._actor, extra_warnings=extra)
        self.refresh()
        text = f"Active: {result.model.version}"
        self.message.value = (message_html(text + " — with warnings: " + "; ".join(result.warnings), "warn")
                              if result.warnings else message_html(text, "ok"))

    def roll_back(self) -> None:
        """Re-activate the previously active version."""
        result = rollback(self._store, self._actor)
        self.refresh()
        self.message.value = message_html(f"Rolled back: {result.model.version} is active again.", "ok")
