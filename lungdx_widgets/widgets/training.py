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
from ..learning.activation import activate, rollback
from ..i18n import N_
from ..i18n import gettext as _
from .theme import esc, message_html


class TrainingProgress(w.VBox):
    """A progress bar for a fine-tuning job; pass :meth:`update` as the job's ``progress``."""

    def __init__(self, description: str = N_("Fine-tuning")) -> None:
        self.bar = w.IntProgress(value=0, min=0, max=1, description=_(description),
                                 layout=w.Layout(width="420px"), style={"description_width": "initial"})
        self.status = w.HTML(esc(_("waiting to start")))
        super().__init__([self.bar, self.status])

    def update(self, event: dict) -> None:
        """One trainer event: ``step``, ``total_steps`` and a float ``loss`` (or an epoch summary)."""
        self.bar.max = max(1, int(event["total_steps"]))
        self.bar.value = int(event["step"])
        loss = event.get("loss")
        text = _("step {step} of {total}").format(step=event["step"], total=event["total_steps"])
        if isinstance(loss, float):
            text += " · " + _("loss {loss}").format(loss=f"{loss:.3f}")
        elif event.get("epoch_end"):
            aurocs = ", ".join(f"{k} {v:.2f}" for k, v in (event.get("val_auroc") or {}).items() if v is not None)
            text += " · " + _("epoch finished") + (" · " + _("validation AUROC {aurocs}").format(aurocs=aurocs)
                                                   if aurocs else "")
        self.status.value = esc(text)
        if self.bar.value >= self.bar.max:
            self.bar.bar_style = "success"

#: The registry's model statuses (store.records.MODEL_STATUSES), for the catalogue: the table shows them with ``_()``.
_STATUS_WORDS = (N_("candidate"), N_("active"), N_("retired"))


def _version_rows(store) -> str:
    rows = []
    for m in store.list_models():
        labels = m.metrics.get("labels") or {}
        headline = "; ".join(
            f"{esc(k)} {v['auroc']:.3f}" + (f" [{v['ci95'][0]:.2f}–{v['ci95'][1]:.2f}]" if v.get("ci95") else "")
            for k, v in labels.items() if v.get("auroc") is not None) or esc(_("not evaluated"))
        rows.append(f"<tr><td><b>{esc(_(m.status))}</b></td><td>{esc(m.version)}</td>"
                    f"<td>{esc(m.snapshot_id or '–')}</td><td>{headline}</td><td>{esc(m.created)}</td></tr>")
    if not rows:
        return f"<i>{esc(_('No registered model versions.'))}</i>"
    titles = (_("status"), _("version"), _("trained on"), _("AUROC [{ci} CI]").format(ci="95%"), _("registered"))
    head = "<tr>" + "".join(f"<th>{esc(t)}</th>" for t in titles) + "</tr>"
    return f"<table class='lx-table' style='border-collapse:collapse;font-size:13px'>{head}{''.join(rows)}</table>"


class ModelRegistryPanel(w.VBox):
    """Versions table, paired comparison figure, and activate / roll back buttons."""

    def __init__(self, store, actor: str, eval_set: EvalSet | None = None, *, n_boot: int = 1000,
                 limit: int | None = None) -> None:
        self._store, self._actor = store, actor
        self._eval_set, self._n_boot, self._limit = eval_set, n_boot, limit
        self.comparison: Comparison | None = None
        self.table = w.HTML()
        self.reference = w.Dropdown(description=_("Reference"), style={"description_width": "initial"})
        self.candidate = w.Dropdown(description=_("Candidate"), style={"description_width": "initial"})
        self.compare_button = w.Button(description=_("Compare"), icon="balance-scale")
        self.activate_button = w.Button(description=_("Activate candidate"), button_style="warning")
        self.rollback_button = w.Button(description=_("Roll back"), icon="undo")
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
        self.message.value = message_html(_("Comparing on the evaluation set…"), "info")
        self.comparison = compare_versions(self._store, self.reference.value, self.candidate.value, self._eval_set,
                                           n_boot=self._n_boot, limit=self._limit)
        self.figure.children = [go.FigureWidget(comparison_figure(self.comparison))]
        worse = self.comparison.regressions()
        self.message.value = (
            message_html(_("Worse beyond the {ci} CI — {labels}").format(ci="95%", labels="; ".join(worse)), "warn") if worse
            else message_html(_("No label is worse beyond its {ci} CI on {count} images.").format(
                ci="95%", count=self.comparison.n_images), "ok"))
        return self.comparison

    def activate_candidate(self) -> None:
        """Activate the selected candidate (analyst/admin); paired-comparison warnings go to the audit row."""
        c = self.comparison
        extra = tuple(c.regressions()) if c and c.version_b == self.candidate.value else ()
        result = activate(self._store, self.candidate.value, self._actor, extra_warnings=extra)
        self.refresh()
        self.message.value = (
            message_html(_("Active: {version} — with warnings: {warnings}").format(
                version=result.model.version, warnings="; ".join(result.warnings)), "warn")
            if result.warnings else message_html(_("Active: {version}").format(version=result.model.version), "ok"))

    def roll_back(self) -> None:
        """Re-activate the previously active version."""
        result = rollback(self._store, self._actor)
        self.refresh()
        self.message.value = message_html(_("Rolled back: {version} is active again.").format(version=result.model.version), "ok")
