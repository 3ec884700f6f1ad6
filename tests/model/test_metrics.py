"""One metrics module: its AUROC bootstrap agrees with resampling one AUROC at a time, and nobody else computes AUROC."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import lungdx_widgets
from lungdx_widgets.model import metrics

PACKAGE = Path(lungdx_widgets.__file__).parent


def test_bootstrap_interval_is_the_percentiles_of_per_resample_aurocs():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 60).astype(float)
    p = np.round(rng.random(60) + 0.4 * y, 1)
    idx = metrics.resample_indices(len(y), 300, seed=5)
    one_by_one = [roc_auc_score(y[i], p[i]) for i in idx if 0 < y[i].sum() < len(i)]
    expected = np.percentile(one_by_one, [2.5, 97.5])
    assert metrics.bootstrap_ci(y, p, 300, seed=5) == pytest.approx(list(expected))


def test_missing_class_gives_none_not_an_error():
    assert metrics.auroc(np.zeros(4), np.arange(4.0)) is None
    assert metrics.bootstrap_ci(np.ones(4), np.arange(4.0), 50) is None
    assert metrics.percentile_interval(np.array([0.5] * 5 + [np.nan] * 50)) is None


def test_auroc_is_computed_only_in_the_metrics_module():
    """No other module imports scikit-learn's AUROC or ranks scores itself."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        if rel == "model/metrics.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if isinstance(node, ast.ImportFrom) and any(a.name in ("roc_auc_score", "rankdata") for a in node.names):
                offenders.append(f"{rel}:{node.lineno}")
            if isinstance(node, ast.FunctionDef) and "auroc" in node.name and "rows" in node.name:
                offenders.append(f"{rel}:{node.lineno}")
            if isinstance(node, ast.FunctionDef) and node.name in ("auroc", "bootstrap_ci", "expected_calibration_error"):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []
