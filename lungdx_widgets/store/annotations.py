"""Versioned box annotations with optimistic concurrency, and the clinician's sign-off.

A save names the version it was based on; if someone saved in between, the save is refused
(``Conflict``) instead of silently replacing their work. Versions are never updated or deleted.
"""

from __future__ import annotations

import json
from typing import Any

from ..types import Box
from .base import StoreBase, now_iso, to_json
from .errors import Conflict, ValidationError
from .records import AnnotationSet, Signoff


class AnnotationsMixin(StoreBase):
    def annotations(self, study_id: int) -> AnnotationSet:
        """The current version (version 0, no boxes, when nothing was saved yet)."""
        self.get_study(study_id)  # type: ignore[attr-defined]
        row = self._row("SELECT * FROM annotation_sets WHERE study_id = ? ORDER BY version DESC LIMIT 1",
                        (int(study_id),))
        return self._set(row) if row else AnnotationSet(study_id=int(study_id), version=0)

    def annotation_history(self, study_id: int) -> list[AnnotationSet]:
        """All versions, oldest first."""
        rows = self._rows("SELECT * FROM annotation_sets WHERE study_id = ? ORDER BY version", (int(study_id),))
        return [self._set(r) for r in rows]

    def save_annotations(self, study_id: int, boxes: list[Box], based_on_version: int, actor: str) -> AnnotationSet:
        """Save a new version; ``Conflict`` if ``based_on_version`` is not the current one."""
        for b in boxes:
            if b.w < 0 or b.h < 0 or not b.label:
                raise ValidationError("Every box needs a label and a non-negative width and height.")
        with self.transaction():  # BEGIN IMMEDIATE: the version check and the insert are atomic
            current = self.annotations(study_id)
            if current.version != based_on_version:
                raise Conflict(
                    f"These annotations were changed by {current.author} at {current.created[11:16]} "
                    f"(version {current.version}) after you opened version {based_on_version}. "
                    "Reload to see their changes, then apply yours again.")
            addendum = self.signoff(study_id) is not None
            set_id = self._insert("annotation_sets", {
                "study_id": int(study_id), "version": current.version + 1, "based_on": based_on_version,
                "author": actor, "created": now_iso(), "addendum": int(addendum)})
            self.conn.executemany(
                "INSERT INTO annotations (set_id, label, x, y, w, h, score, source, status) VALUES (?,?,?,?,?,?,?,?,?)",
                [(set_id, b.label, b.x, b.y, b.w, b.h, b.score, b.source, b.status) for b in boxes])
            self.audit(actor, "save_annotations", f"study:{study_id}",
                       detail=f"version {current.version + 1}, {len(boxes)} boxes" + (", addendum" if addendum else ""))
        return self.annotations(study_id)

    def sign_study(self, study_id: int, actor: str, agreement: dict[str, bool], comment: str = "") -> Signoff:
        """The clinician's sign-off: per-finding agree/disagree, bound to the annotation version seen.

        Later annotation saves are kept but marked as addenda.
        """
        with self.transaction():
            version = self.annotations(study_id).version
            sign_id = self._insert("signoffs", {
                "study_id": int(study_id), "signed_by": actor, "signed_at": now_iso(),
                "agreement_json": to_json({k: bool(v) for k, v in agreement.items()}),
                "comment": comment or "", "annotation_version": version})
            self.audit(actor, "sign_study", f"study:{study_id}",
                       detail=f"annotation version {version}; disagree: "
                              + (", ".join(k for k, v in agreement.items() if not v) or "none"))
        return self.signoff(study_id)  # type: ignore[return-value]

    def signoff(self, study_id: int) -> Signoff | None:
        """The first sign-off of a study (None if unsigned)."""
        row = self._row("SELECT * FROM signoffs WHERE study_id = ? ORDER BY id LIMIT 1", (int(study_id),))
        if row is None:
            return None
        return Signoff(id=row["id"], study_id=row["study_id"], signed_by=row["signed_by"], signed_at=row["signed_at"],
                       agreement=json.loads(row["agreement_json"]), comment=row["comment"],
                       annotation_version=row["annotation_version"])

    def _set(self, row: dict[str, Any]) -> AnnotationSet:
        boxes = self.conn.execute(
            "SELECT label, x, y, w, h, score, source, status FROM annotations WHERE set_id = ? ORDER BY id",
            (row["id"],)).fetchall()
        return AnnotationSet(study_id=row["study_id"], version=row["version"], boxes=tuple(Box(*b) for b in boxes),
                             author=row["author"], created=row["created"], based_on=row["based_on"],
                             addendum=bool(row["addendum"]))
