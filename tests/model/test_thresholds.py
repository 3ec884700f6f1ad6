"""Operating thresholds: Youden's J where validation positives suffice, fixed specificity where they do not."""

import numpy as np

from lungdx_widgets.model.train import (MIN_POSITIVES_FOR_YOUDEN, SPARSE_LABEL_SPECIFICITY, operating_threshold,
                                        youden_threshold)


def test_sparse_label_keeps_specificity_instead_of_flagging_everything():
    rng = np.random.default_rng(0)
    neg = rng.uniform(0.0, 0.5, 200)
    pos = np.array([0.06, 0.07, 0.45, 0.9])  # few positives, some scored low
    y = np.r_[np.zeros_like(neg), np.ones_like(pos)]
    p = np.r_[neg, pos]
    t = operating_threshold(y, p)
    specificity = float((neg < t).mean())
    assert abs(specificity - SPARSE_LABEL_SPECIFICITY) < 0.02


def test_well_supported_label_uses_youden():
    rng = np.random.default_rng(1)
    n = MIN_POSITIVES_FOR_YOUDEN + 5
    y = np.r_[np.zeros(100), np.ones(n)]
    p = np.r_[rng.uniform(0, 0.6, 100), rng.uniform(0.4, 1.0, n)]
    assert operating_threshold(y, p) == youden_threshold(y, p)


def test_no_negatives_falls_back_to_half():
    assert operating_threshold(np.ones(3), np.array([0.2, 0.3, 0.9])) == 0.5
