"""Paired comparison statistics, checked against scikit-learn and against constructed cases."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
from sklearn.metrics import roc_auc_score

from lungdx_widgets.learning.compare import compare, comparison_figure
from lungdx_widgets.model.metrics import auroc_rows
from lungdx_widgets.learning.evalsets import EvalPredictions


def _predictions(version: str, truth: np.ndarray, probs: np.ndarray, hits=None) -> EvalPredictions:
    files = tuple(f"img{i}.png" for i in range(truth.shape[0]))
    labels = tuple(f"L{j}" for j in range(truth.shape[1]))
    return EvalPredictions(version, files, labels, truth, probs,
                           np.array([] if hits is None else hits, dtype=float))


def test_vectorised_bootstrap_auroc_matches_sklearn_row_by_row_with_ties():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 200).astype(float)
    scores = np.round(rng.random(200) + truth * 0.3, 1)  # rounding creates many ties
    idx = rng.integers(0, 200, (5, 200))
    rows = auroc_rows(truth[idx], scores[idx])
    assert rows == pytest.approx([roc_auc_score(truth[i], scores[i]) for i in idx])
    assert np.isnan(auroc_rows(np.ones((1, 5)), scores[None, :5])[0])


def test_point_estimates_and_calibration_of_a_comparison():
    truth = np.array([1, 0] * 50, dtype=float)[:, None]
    calibrated = _predictions("a", truth, np.full((100, 1), 0.5))
    wrong = _predictions("b", truth, 1 - truth)
    c = compare(calibrated, wrong, n_boot=100)
    assert (c.ece_a, c.ece_b) == (pytest.approx(0.0), pytest.approx(1.0))
    assert (c.labels[0].auroc_a, c.labels[0].auroc_b) == (0.5, 0.0)
    assert c.labels[0].b_worse_beyond_ci


def test_worse_candidate_is_flagged_beyond_ci_and_better_one_is_not():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, (300, 2)).astype(float)
    truth[:20, 1] = np.nan  # unlabelled images are left out of that label
    good = np.clip(truth * 0.3 + rng.random((300, 2)) * 0.7, 0, 1)
    good[:20, 1] = rng.random(20)
    noise = rng.random((300, 2))
    ref, worse = _predictions("v1", truth, good), _predictions("v2", truth, noise)
    c = compare(ref, worse, n_boot=300)
    assert [r.label for r in c.labels] == ["L0", "L1"]
    assert c.labels[1].n_pos + c.labels[1].n_neg == 280
    assert all(r.b_worse_beyond_ci for r in c.labels)
    assert len(c.regressions()) == 2 and "L0: AUROC" in c.regressions()[0]
    lo, hi = c.labels[0].ci_a
    assert lo < c.labels[0].auroc_a < hi
    assert compare(worse, ref, n_boot=300).regressions() == []


def test_hit_rate_and_not_assessed_labels():
    truth = np.array([[1, 1], [0, 0], [1, 0], [0, 1]], dtype=float)
    a = _predictions("a", truth, np.array([[.9, np.nan], [.1, np.nan], [.8, np.nan], [.2, np.nan]]),
                     hits=[1, 0, np.nan])
    b = _predictions("b", truth, np.array([[.6, .7], [.4, .2], [.3, .1], [.5, .9]]), hits=[1, 1, 1])
    c = compare(a, b, n_boot=50)
    assert (c.hit_rate_a, c.hit_rate_b, c.n_boxes) == (0.5, 1.0, 2)
    assert c.labels[1].auroc_a is None and c.labels[1].delta_ci is None  # a does not assess L1
    assert c.as_dict()["labels"][0]["auroc_a"] == 1.0


def test_versions_on_different_images_are_refused():
    truth = np.ones((2, 1))
    a = _predictions("a", truth, truth)
    b = EvalPredictions("b", ("x.png", "y.png"), ("L0",), truth, truth, np.array([]))
    with pytest.raises(ValueError):
        compare(a, b)


def test_figure_has_one_bar_trace_per_version_with_intervals():
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 2, (60, 1)).astype(float)
    fig = comparison_figure(compare(_predictions("v1", truth, truth * 0.5 + 0.25),
                                    _predictions("v2", truth, rng.random((60, 1))), n_boot=200))
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["v1", "v1", "v2", "v2"]  # AUROC bars, then ECE / pointing game
    assert fig.data[0].y[0] == 1.0 and fig.data[0].error_y.array[0] == pytest.approx(0.0)
    assert fig.data[3].x[0] == "ECE" and fig.data[3].y[0] > fig.data[1].y[0]  # noise is worse calibrated
    assert "worse beyond CI: L0" in fig.layout.title.text
