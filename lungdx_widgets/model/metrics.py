"""The one set of classification metrics every evaluator uses (training, ``lungdx evaluate``, model compare).

Why one module: AUROC was written three times (scikit-learn in training, a hand Mann–Whitney in
evaluation, a vectorised rank version in the paired compare) and they had to be kept equal by hand.
Single AUROCs come from scikit-learn; the bootstrap needs thousands of AUROCs at once, so
:func:`auroc_rows` computes them from average ranks in one vectorised step (same statistic,
ties count half). Every function returns ``None``/NaN where a class is missing instead of raising.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

#: Confidence level of every bootstrap interval.
CI_LEVEL = 0.95
#: Fewer resamples with both classes than this give no interval (a percentile of a handful says nothing).
MIN_RESAMPLES = 10


def auroc(y: np.ndarray, p: np.ndarray) -> float | None:
    """AUROC of scores ``p`` against 0/1 targets ``y``; None when a class is missing."""
    y, p = np.asarray(y), np.asarray(p)
    if not ((y == 1).any() and (y == 0).any()):
        return None
    return float(roc_auc_score(y, p))


def auroc_rows(truth: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUROC of every row of (resamples, n) arrays at once; NaN where a row lacks a class."""
    ranks = rankdata(scores, axis=1)
    n_pos = truth.sum(axis=1)
    n_neg = truth.shape[1] - n_pos
    rank_sum = (ranks * truth).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    result[(n_pos == 0) | (n_neg == 0)] = np.nan
    return result


def resample_indices(n: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """(n_boot, n) image indices drawn with replacement (shared so paired comparisons resample alike)."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def percentile_interval(samples: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float] | None:
    """Percentile interval of bootstrap samples (NaN ignored); None with too few usable resamples."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[~np.isnan(samples)]
    if samples.size < MIN_RESAMPLES:
        return None
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return float(lo), float(hi)


def bootstrap_ci(y: np.ndarray, p: np.ndarray, n_boot: int, seed: int = 0) -> list[float] | None:
    """Percentile 95% CI of the AUROC over image resamples (None without both classes)."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if n_boot <= 0 or auroc(y, p) is None:
        return None
    idx = resample_indices(len(y), n_boot, seed)
    interval = percentile_interval(auroc_rows(y[idx], p[idx]))
    return None if interval is None else list(interval)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float | None:
    """ECE over ``bins`` equal-width probability bins, weighted by films per bin; None when empty."""
    if len(y) == 0:
        return None
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    return float(sum(abs(p[which == b].mean() - y[which == b].mean()) * (which == b).sum()
                     for b in range(bins) if (which == b).any()) / len(y))


def stratified_auroc(y: np.ndarray, p: np.ndarray, groups: list[str]) -> dict[str, dict]:
    """AUROC and class counts inside each group (view, source)."""
    out = {}
    for g in sorted(set(groups)):
        m = np.array([x == g for x in groups])
        out[g] = {"auroc": auroc(y[m], p[m]), "n_pos": int((y[m] == 1).sum()), "n_neg": int((y[m] == 0).sum())}
    return out
