"""Radiograph studies: image bytes stored once by SHA-256, the row written in the same transaction."""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from ..config import get_settings, images_for
from ..imaging.identity import check_identity
from ..imaging.names import display_filename
from ..types import TRIAGE_ORDER, Radiograph
from .base import StoreBase, now_iso
from .errors import IdentityMismatch, NotFound
from .records import Study, WorklistItem

_SUFFIX = {"dicom": ".dcm", "png": ".png", "jpeg": ".jpg"}
#: Worklist order: emergent, urgent, routine, then studies not analysed yet.
_RANK_SQL = "CASE level " + " ".join(f"WHEN '{lvl}' THEN {i}" for i, lvl in enumerate(TRIAGE_ORDER)) + \
    f" ELSE {len(TRIAGE_ORDER)} END"


def _study(row: dict[str, Any]) -> Study:
    return Study(**{k: row[k] for k in Study.__dataclass_fields__})


def _write_atomically(target: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename: readers never see a half-written image."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StudiesMixin(StoreBase):
    @property
    def image_store(self) -> Path:
        """This store's image folder: ``Settings.image_store`` when set, else ``images`` beside its SQLite file."""
        return images_for(get_settings(), self.path if self.db is not None else None)

    def add_study(self, patient_id: str, radiograph: Radiograph, data: bytes, actor: str,
                  filename: str | None = None, confirm_identity_mismatch: bool = False,
                  acquired: str | None = None) -> Study:
        """File an image under a patient; the same bytes for the same patient return the existing study.

        ``acquired`` overrides the radiograph's date (ISO date or date-time; default: the file's
        date, else now). Raises ``IdentityMismatch`` when the file names another patient, unless the
        user confirmed it (the confirmation is written to the audit log).
        """
        patient = self.get_patient(patient_id)  # type: ignore[attr-defined]  # NotFound before any write
        mismatch_message = check_identity(radiograph, patient_id, patient.name)
        mismatch = mismatch_message is not None
        if mismatch and not confirm_identity_mismatch:
            raise IdentityMismatch(mismatch_message)
        sha = hashlib.sha256(data).hexdigest()
        existing = self._row("SELECT * FROM studies WHERE patient_id = ? AND sha256 = ?", (patient_id, sha))
        if existing:  # nothing new is written, but the upload itself is still on the record
            self.audit(actor, "add_study", f"study:{existing['id']}", outcome="duplicate", detail=f"sha256={sha}")
            return _study(existing)
        rel = f"{sha[:2]}/{sha}{_SUFFIX.get(radiograph.source_format, '.bin')}"
        target = self.image_store / rel
        created_file = not target.exists()
        height, width = radiograph.size
        values = {"study_uid": radiograph.study_uid or f"2.25.{uuid.uuid4().int}", "patient_id": patient_id,
                  "acquired": acquired or radiograph.acquired or now_iso(), "modality": radiograph.modality or "",
                  "view": radiograph.view or "", "sha256": sha, "image_path": rel, "filename": display_filename(filename),
                  "source_format": radiograph.source_format, "width": width, "height": height,
                  "uploaded_by": actor, "uploaded_at": now_iso()}
        with self.transaction():
            study_id = self._insert("studies", values)
            if created_file:
                _write_atomically(target, data)
                self.on_rollback(lambda: target.unlink(missing_ok=True))
            detail = f"sha256={sha}" + (f"; identity mismatch confirmed (file ID {(radiograph.patient_id or '').strip()})" if mismatch else "")
            self.audit(actor, "add_study", f"study:{study_id}", detail=detail)
        return self.get_study(study_id)

    def get_study(self, study_id: int) -> Study:
        row = self._row("SELECT * FROM studies WHERE id = ?", (int(study_id),))
        if row is None:
            raise NotFound(f"Study {study_id} was not found.")
        return _study(row)

    def studies_for_patient(self, patient_id: str) -> list[Study]:
        """Newest first, so ``[0]`` is the current study and the rest are priors."""
        rows = self._rows("SELECT * FROM studies WHERE patient_id = ? ORDER BY acquired DESC, id DESC",
                          (patient_id,))
        return [_study(r) for r in rows]

    def study_image_path(self, study: Study) -> Path:
        return self.image_store / study.image_path

    def worklist(self, day: date | None = None, limit: int = 200, *, actor: str | None = None) -> list[WorklistItem]:
        """Studies to read: acquired on ``day`` (default today) or not yet signed off, whatever their date.

        Unsigned studies stay on the list until a clinician signs them (an uploaded DICOM may carry an
        old StudyDate). Order: emergent, urgent, routine, not yet analysed; then by acquisition time.
        With ``actor`` (a person is shown it) the listing is audited, naming the patients on it.
        """
        items = self._worklist(day, limit)
        if actor is not None:
            self.audit_listing(actor, "list_worklist", [i.patient_id for i in items], f"studies={len(items)}")
        return items

    def _worklist(self, day: date | None, limit: int) -> list[WorklistItem]:
        day = day or date.today()
        rows = self._rows(f"""
            WITH latest AS (
                SELECT s.id AS study_id,
                       (SELECT max(id) FROM predictions WHERE study_id = s.id) AS prediction_id
                FROM studies s WHERE substr(s.acquired, 1, 10) = ?
                   OR NOT EXISTS (SELECT 1 FROM signoffs WHERE study_id = s.id)
            ), leveled AS (
                SELECT latest.*, COALESCE(
                    (SELECT level FROM triage_overrides WHERE prediction_id = latest.prediction_id
                     ORDER BY id DESC LIMIT 1),
                    (SELECT triage_level FROM predictions WHERE id = latest.prediction_id)) AS level
                FROM latest
            )
            SELECT leveled.study_id, leveled.prediction_id, p.name AS patient_name,
                   p.sex AS patient_sex, p.birth_date AS patient_birth_date,
                   (SELECT signed_by FROM signoffs WHERE study_id = s.id ORDER BY id LIMIT 1) AS signed_by,
                   EXISTS (SELECT 1 FROM signoffs WHERE study_id = s.id) AS signed
            FROM leveled JOIN studies s ON s.id = leveled.study_id JOIN patients p ON p.patient_id = s.patient_id
            ORDER BY {_RANK_SQL}, s.acquired, s.id LIMIT ?""", (day.isoformat(), int(limit)))
        items = []
        for r in rows:
            study = self.get_study(r["study_id"])
            pred = self._prediction_by_id(r["prediction_id"]) if r["prediction_id"] else None  # type: ignore[attr-defined]
            top = max(((k, p) for k, p in pred.probabilities.items() if p is not None),
                      key=lambda kv: kv[1], default=(None, None)) if pred else (None, None)
            items.append(WorklistItem(
                study_id=study.id, patient_id=study.patient_id, patient_name=r["patient_name"],
                acquired=study.acquired, uploaded_at=study.uploaded_at, view=study.view,
                triage_level=pred.level if pred else None, triage_reasons=pred.triage_reasons if pred else (),
                top_label=top[0], top_probability=top[1], signed=bool(r["signed"]), study=study, prediction=pred,
                patient_sex=r["patient_sex"] or "", patient_birth_date=r["patient_birth_date"] or "",
                signed_by=r["signed_by"] or ""))
        return items

    def unanalysed_studies(self) -> list[Study]:
        """Studies with no AI result yet, oldest first (for batch analysis)."""
        rows = self._rows("SELECT * FROM studies s WHERE NOT EXISTS "
                          "(SELECT 1 FROM predictions WHERE study_id = s.id) ORDER BY s.id")
        return [_study(r) for r in rows]

    def studies_lacking_prediction(self, model_version: str, since: str | None = None) -> list[Study]:
        """Studies with no result from ``model_version`` (acquired on or after ``since``), oldest first.

        The archive re-analysis asks this before each run, so a run that stopped resumes without
        redoing what that version already analysed; other versions' results do not count.
        """
        rows = self._rows("SELECT * FROM studies s WHERE (? IS NULL OR s.acquired >= ?) AND NOT EXISTS "
                          "(SELECT 1 FROM predictions WHERE study_id = s.id AND model_version = ?) ORDER BY s.id",
                          (since, since, model_version))
        return [_study(r) for r in rows]
