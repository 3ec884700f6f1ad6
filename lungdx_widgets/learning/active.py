"""Active learning: which studies should an analyst correct first?

A correction teaches the model most where it is unsure (probability near its operating
threshold) or where two versions disagree. Both scores are in [0, 1] so a queue can mix them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .labelsets import is_reviewed

Probabilities = Mapping[str, float | None]
Thresholds = Mapping[str, float | None]


@dataclass(frozen=True)
class ReviewItem:
    """One study in the label-review queue, with the score and the label that earned it."""

    study_id: int
    score: float
    label: str
    reason: str


def _closeness(p: float, threshold: float) -> float:
    """1 at the threshold, 0 at the far end of [0, 1] (scaled per side, so any threshold works)."""
    span = threshold if p < threshold else 1 - threshold
    return 1.0 if span <= 0 else max(0.0, 1 - abs(p - threshold) / span)


def uncertainty(probs: Probabilities, thresholds: Thresholds | None = None) -> tuple[float, str]:
    """Most uncertain assessed label and its score; labels without a threshold use 0.5."""
    best = (0.0, "")
    for label, p in probs.items():
        if p is None or math.isnan(p):
            continue
        score = _closeness(p, (thresholds or {}).get(label) or 0.5)
        if score > best[0]:
            best = (score, label)
    return best


def disagreement(a: Probabilities, b: Probabilities) -> tuple[float, str]:
    """Largest probability gap between two versions on a label both assess."""
    best = (0.0, "")
    for label, pa in a.items():
        pb = b.get(label)
        if pa is None or pb is None or math.isnan(pa) or math.isnan(pb):
            continue
        if abs(pa - pb) > best[0]:
            best = (abs(pa - pb), label)
    return best


def rank_by_uncertainty(predictions: Mapping[int, Probabilities],
                        thresholds: Mapping[int, Thresholds] | None = None) -> list[ReviewItem]:
    """Studies ordered from most to least uncertain (ties: lower study id first).

    ``thresholds`` is per study because each stored prediction keeps the thresholds of the
    version that made it.
    """
    items = []
    for study_id, probs in predictions.items():
        score, label = uncertainty(probs, (thresholds or {}).get(study_id))
        p = probs.get(label) if label else None
        reason = f"{label} {p:.2f} near its threshold" if label and p is not None else "nothing assessed"
        items.append(ReviewItem(study_id, score, label, reason))
    return sorted(items, key=lambda i: (-i.score, i.study_id))


def rank_by_disagreement(a: Mapping[int, Probabilities], b: Mapping[int, Probabilities],
                         names: tuple[str, str] = ("A", "B")) -> list[ReviewItem]:
    """Studies predicted by both versions, ordered by how much the versions disagree."""
    items = []
    for study_id in a.keys() & b.keys():
        score, label = disagreement(a[study_id], b[study_id])
        reason = (f"{label}: {names[0]} {a[study_id][label]:.2f} vs {names[1]} {b[study_id][label]:.2f}"
                  if label else "versions agree")
        items.append(ReviewItem(study_id, score, label, reason))
    return sorted(items, key=lambda i: (-i.score, i.study_id))


def review_queue(store, *, limit: int = 50, versions: tuple[str, str] | None = None,
                 include_reviewed: bool = False) -> list[ReviewItem]:
    """The label-review queue: by uncertainty of the latest predictions, or by the disagreement
    between two versions when ``versions`` is given. Studies a person already reviewed are left
    out unless ``include_reviewed`` (saved but untouched AI proposals do not count as reviewed).
    """
    if versions is None:
        latest = {p.study_id: p for p in store.latest_predictions()}
        ranked = rank_by_uncertainty({k: p.probabilities for k, p in latest.items()},
                                     {k: p.thresholds for k, p in latest.items()})
    else:
        a, b = ({p.study_id: p for p in store.latest_predictions(v)} for v in versions)
        ranked = rank_by_disagreement({k: p.probabilities for k, p in a.items()},
                                      {k: p.probabilities for k, p in b.items()}, names=versions)
    if not include_reviewed:
        reviewed = {i for i in store.annotated_study_ids() if is_reviewed(store.annotations(i).boxes)}
        ranked = [item for item in ranked if item.study_id not in reviewed]
    return ranked[:limit]
