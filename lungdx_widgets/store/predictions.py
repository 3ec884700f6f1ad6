"""Model results per study, and the clinician's triage overrides (kept beside, never replacing, the model's)."""

from __future__ import annotations

import json
from typing import Any

from ..types import TRIAGE_ORDER, Box, Findings, Triage
from .base import StoreBase, now_iso, to_json
from .errors import NotFound, ValidationError
from .records import Prediction


class PredictionsMixin(StoreBase):
    def add_prediction(self, study_id: int, findings: Findings, triage: Triage, actor: str) -> Prediction:
        """Store probabilities (None = not assessed), thresholds, AI boxes and the triage; not heatmaps."""
        self.get_study(study_id)  # type: ignore[attr-defined]
        values = {
            "study_id": int(study_id), "model_version": findings.model_version or "unknown",
            "probabilities_json": to_json({k: r.probability for k, r in findings.results.items()}),
            "thresholds_json": to_json({k: r.threshold for k, r in findings.results.items()}),
            "boxes_json": to_json([b.as_dict() for b in findings.boxes]),
            "triage_level": triage.level, "triage_reasons_json": to_json(list(triage.reasons)),
            "timings_json": to_json(findings.timings), "created": now_iso(), "created_by": actor,
            "out_of_distribution": int(bool(findings.out_of_distribution)), "ood_score": findings.ood_score}
        with self.transaction():
            pred_id = self._insert("predictions", values)
            self.audit(actor, "add_prediction", f"study:{study_id}",
                       detail=f"prediction:{pred_id}; model={values['model_version']}; triage={triage.level}")
        return self._prediction_by_id(pred_id)  # type: ignore[return-value]

    def latest_prediction(self, study_id: int) -> Prediction | None:
        row = self._row("SELECT max(id) AS id FROM predictions WHERE study_id = ?", (int(study_id),))
        return self._prediction_by_id(row["id"]) if row and row["id"] else None

    def latest_predictions(self, model_version: str | None = None) -> list[Prediction]:
        """Each study's latest prediction (the latest *by* ``model_version`` when given), by study id.

        One query for every study (the review queue ranks them all), instead of one per study.
        """
        where, params = ("WHERE model_version = ?", (model_version,)) if model_version else ("", ())
        rows = self._rows(f"""
            SELECT p.*, o.level AS override_level, o.reason AS override_reason, o.actor AS override_by
            FROM predictions p LEFT JOIN triage_overrides o ON o.id =
                (SELECT max(id) FROM triage_overrides WHERE prediction_id = p.id)
            WHERE p.id IN (SELECT max(id) FROM predictions {where} GROUP BY study_id)
            ORDER BY p.study_id""", params)
        return [_prediction(r) for r in rows]

    def predicted_studies(self, model_version: str, study_ids: list[int]) -> set[int]:
        """Which of ``study_ids`` already have a result from ``model_version`` (so a batch writer skips them)."""
        marks = ",".join("?" * len(study_ids))
        rows = self._rows(f"SELECT DISTINCT study_id FROM predictions WHERE model_version = ? AND study_id IN ({marks})",
                          (model_version, *map(int, study_ids))) if study_ids else []
        return {r["study_id"] for r in rows}

    def override_triage(self, study_id: int, level: str, reason: str, actor: str) -> Prediction:
        """Record a clinician's triage level for the latest prediction (with the reason, audited)."""
        if level not in TRIAGE_ORDER:
            raise ValidationError(f"Triage level must be one of {', '.join(TRIAGE_ORDER)}.")
        if not (reason or "").strip():
            raise ValidationError("Please give a reason for changing the triage level.")
        with self.transaction():
            pred = self.latest_prediction(study_id)
            if pred is None:
                raise NotFound(f"Study {study_id} has no AI result to override yet.")
            self._insert("triage_overrides", {"prediction_id": pred.id, "level": level, "reason": reason.strip(),
                                              "actor": actor, "created": now_iso()})
            self.audit(actor, "override_triage", f"study:{study_id}",
                       detail=f"{pred.triage_level} -> {level}: {reason.strip()}")
        return self._prediction_by_id(pred.id)  # type: ignore[return-value]

    def _prediction_by_id(self, prediction_id: int) -> Prediction | None:
        row = self._row("""
            SELECT p.*, o.level AS override_level, o.reason AS override_reason, o.actor AS override_by
            FROM predictions p LEFT JOIN triage_overrides o ON o.id =
                (SELECT max(id) FROM triage_overrides WHERE prediction_id = p.id)
            WHERE p.id = ?""", (prediction_id,))
        return _prediction(row) if row else None


def _prediction(row: dict[str, Any]) -> Prediction:
    return Prediction(
        id=row["id"], study_id=row["study_id"], model_version=row["model_version"],
        probabilities=json.loads(row["probabilities_json"]), thresholds=json.loads(row["thresholds_json"]),
        boxes=tuple(Box.from_dict(b) for b in json.loads(row["boxes_json"])),
        triage_level=row["triage_level"], triage_reasons=tuple(json.loads(row["triage_reasons_json"])),
        created=row["created"], created_by=row["created_by"], override_level=row["override_level"],
        override_reason=row["override_reason"] or "", override_by=row["override_by"] or "",
        out_of_distribution=bool(row.get("out_of_distribution")), ood_score=row.get("ood_score"))
