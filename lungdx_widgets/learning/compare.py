"""Compare two model versions on the *same* evaluation images.

Why paired: two AUROCs with overlapping confidence intervals can still differ reliably when
both models saw the same images. We bootstrap images once and score both versions on every
resample, so the interval of the *difference* tells whether the candidate is worse beyond
chance. Calibration (ECE) and the pointing-game hit rate on boxed images complete the picture.
Core module: returns a plotly ``go.Figure`` (a plain object), never a widget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..model.metrics import CI_LEVEL, auroc, auroc_rows, expected_calibration_error, percentile_interval, resample_indices
from .evalsets import EvalPredictions, EvalSet, predictions_on

@dataclass(frozen=True)
class LabelComparison:
    """One label: both AUROCs with their intervals and the paired difference ``b - a``."""

    label: str
    n_pos: int
    n_neg: int
    auroc_a: float | None
    ci_a: tuple[float, float] | None
    auroc_b: float | None
    ci_b: tuple[float, float] | None
    delta: float | None
    delta_ci: tuple[float, float] | None
    ece_a: float | None
    ece_b: float | None

    @property
    def b_worse_beyond_ci(self) -> bool:
        """True when the whole interval of ``b - a`` lies below zero."""
        return self.delta_ci is not None and self.delta_ci[1] < 0


@dataclass(frozen=True)
class Comparison:
    """Everything the compare report shows; ``a`` is the reference (usually the active version)."""

    version_a: str
    version_b: str
    n_images: int
    labels: tuple[LabelComparison, ...]
    ece_a: float | None
    ece_b: float | None
    hit_rate_a: float | None
    hit_rate_b: float | None
    n_boxes: int

    def regressions(self) -> list[str]:
        """One sentence per label on which ``b`` is worse than ``a`` beyond the paired interval."""
        return [
            f"{c.label}: AUROC {c.auroc_b:.3f} vs {c.auroc_a:.3f} "
            f"(difference {c.delta:+.3f}, {CI_LEVEL:.0%} CI {c.delta_ci[0]:+.3f} to {c.delta_ci[1]:+.3f})"  # type: ignore[index]
            for c in self.labels if c.b_worse_beyond_ci
        ]

    def as_dict(self) -> dict:
        """JSON-ready form (for ``lungdx models compare --json`` and the audit detail)."""
        out = asdict(self)
        out["regressions"] = self.regressions()
        return out


def _ece(truth: np.ndarray, probs: np.ndarray) -> float | None:
    """ECE (the evaluator's definition) over the pairs where both truth and probability are known."""
    known = ~np.isnan(truth) & ~np.isnan(probs)
    return expected_calibration_error(truth[known], probs[known])


def _label_comparison(label: str, truth: np.ndarray, pa: np.ndarray, pb: np.ndarray,
                      n_boot: int, seed: int) -> LabelComparison:
    """Paired bootstrap on the images where the label is known and both models assess it."""
    keep = ~np.isnan(truth) & ~np.isnan(pa) & ~np.isnan(pb)
    t, a, b = truth[keep], pa[keep], pb[keep]
    n_pos, n_neg = int(t.sum()), int((1 - t).sum())
    ece_a, ece_b = _ece(truth, pa), _ece(truth, pb)
    if n_pos == 0 or n_neg == 0:
        return LabelComparison(label, n_pos, n_neg, None, None, None, None, None, None, ece_a, ece_b)
    idx = resample_indices(t.size, n_boot, seed)
    boot_a = auroc_rows(t[idx], a[idx])
    boot_b = auroc_rows(t[idx], b[idx])
    auc_a, auc_b = auroc(t, a), auroc(t, b)
    return LabelComparison(
        label, n_pos, n_neg, auc_a, percentile_interval(boot_a), auc_b, percentile_interval(boot_b),
        None if auc_a is None or auc_b is None else auc_b - auc_a, percentile_interval(boot_b - boot_a),
        ece_a, ece_b,
    )


def _mean_or_none(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else None


def compare(a: EvalPredictions, b: EvalPredictions, n_boot: int = 1000, seed: int = 0) -> Comparison:
    """Compare version ``b`` against reference ``a`` on the same images (raises if they differ)."""
    if a.files != b.files:
        raise ValueError("the two versions were not evaluated on the same images")
    labels = [lab for lab in a.labels if lab in b.labels]
    n = len(a.files)
    rows = []
    for label in labels:
        ia, ib = a.labels.index(label), b.labels.index(label)
        rows.append(_label_comparison(label, a.truth[:, ia], a.probs[:, ia], b.probs[:, ib], n_boot, seed))
    both_hits = ~np.isnan(a.hits) & ~np.isnan(b.hits)
    return Comparison(
        version_a=a.version, version_b=b.version, n_images=n, labels=tuple(rows),
        ece_a=_ece(*_pooled(a, labels)), ece_b=_ece(*_pooled(b, labels)),
        hit_rate_a=_mean_or_none(a.hits[both_hits]), hit_rate_b=_mean_or_none(b.hits[both_hits]),
        n_boxes=int(both_hits.sum()),
    )


def _pooled(p: EvalPredictions, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    cols = [p.labels.index(lab) for lab in labels]
    return p.truth[:, cols].ravel(), p.probs[:, cols].ravel()


def comparison_figure(c: Comparison) -> go.Figure:
    """Left: per-label AUROC of both versions with intervals. Right: calibration error and pointing game."""
    rows = [r for r in c.labels if r.auroc_a is not None and r.auroc_b is not None]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.7, 0.3], horizontal_spacing=0.12,
                        subplot_titles=("AUROC per label (95% CI)", "ECE (lower is better) · pointing game"))
    summary = ("ECE", f"pointing game ({c.n_boxes} boxes)")
    for name, value, ci, ece, hits, colour in (
            (c.version_a, "auroc_a", "ci_a", c.ece_a, c.hit_rate_a, "#98a2b3"),
            (c.version_b, "auroc_b", "ci_b", c.ece_b, c.hit_rate_b, "#1d4ed8")):
        y = [getattr(r, value) for r in rows]
        cis = [getattr(r, ci) or (v, v) for r, v in zip(rows, y)]
        fig.add_trace(go.Bar(
            name=name, legendgroup=name, marker_color=colour, x=[r.label for r in rows], y=y,
            error_y=dict(type="data", symmetric=False,
                         array=[hi - v for (_, hi), v in zip(cis, y)],
                         arrayminus=[v - lo for (lo, _), v in zip(cis, y)]),
        ), row=1, col=1)
        fig.add_trace(go.Bar(name=name, legendgroup=name, showlegend=False, marker_color=colour,
                             x=list(summary), y=[ece, hits]), row=1, col=2)
    worse = [r.label for r in rows if r.b_worse_beyond_ci]
    title = f"{c.version_b} vs {c.version_a} on the same {c.n_images} images"
    if worse:
        title += f" — worse beyond CI: {', '.join(worse)}"
    fig.update_layout(barmode="group", title=title, legend=dict(orientation="h"), margin=dict(t=80, l=50, r=20, b=80))
    fig.update_yaxes(range=[0, 1])
    fig.add_hline(y=0.5, line_dash="dot", annotation_text="chance", row=1, col=1)
    return fig


def compare_versions(store, version_a: str, version_b: str, eval_set: EvalSet | None = None, *,
                     n_boot: int = 1000, limit: int | None = None) -> Comparison:
    """Run two registered versions on the same evaluation images and compare them (``b`` vs ``a``)."""
    a, b = (store.get_model(v) for v in (version_a, version_b))
    preds_a, preds_b = predictions_on(eval_set or EvalSet.shared(), [Path(a.path), Path(b.path)], limit=limit)
    return compare(preds_a, preds_b, n_boot=n_boot)
