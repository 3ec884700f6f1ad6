"""Read-only listings the learning loop needs and the store contract does not offer.

Why here: the store answers questions about one study; the learning loop asks about all of them
("which studies were reviewed?", "what did version X predict everywhere?"). These are plain
SELECTs on the store's connection; every *write* still goes through the store's methods.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


def annotated_study_ids(store) -> list[int]:
    """Studies with at least one saved annotation version, oldest first."""
    rows = store.conn.execute("SELECT DISTINCT study_id FROM annotation_sets ORDER BY study_id").fetchall()
    return [int(r[0]) for r in rows]


@dataclass(frozen=True)
class StudyPrediction:
    """The part of a stored prediction the review queue needs."""

    study_id: int
    model_version: str
    probabilities: dict[str, float | None]
    thresholds: dict[str, float | None]


def predictions_by_version(store, version: str | None = None) -> dict[int, StudyPrediction]:
    """Each study's latest prediction (made by ``version`` when given), keyed by study id."""
    where, params = ("WHERE model_version = ?", (version,)) if version else ("", ())
    rows = store.conn.execute(
        "SELECT study_id, model_version, probabilities_json, thresholds_json FROM predictions WHERE id IN "
        f"(SELECT max(id) FROM predictions {where} GROUP BY study_id) ORDER BY study_id", params).fetchall()
    return {int(r[0]): StudyPrediction(int(r[0]), r[1], json.loads(r[2]), json.loads(r[3])) for r in rows}
