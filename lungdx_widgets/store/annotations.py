"""Versioned box annotations with optimistic concurrency, and the clinician's sign-off.

A save names the version it was based on; if someone saved in between, the save is refused
(``Conflict``) instead of silently replacing their work. Versions are never updated or deleted.
"""

from __future__ import annotations

import json
from typing import Any

from ..ground_truth import ABSENT, PRESENT, UNCERTAIN, VERDICTS, verdicts_from_agreement
from ..policy import Permission, can
from ..types import Box
from .base import StoreBase, now_iso, to_json
from .errors import Conflict, PermissionDenied, ValidationError
from .records import AnnotationSet, Signoff


class AnnotationsMixin(StoreBase):
    def annotations(self, study_id: int) -> AnnotationSet:
        """The current version (version 0, no boxes, when nothing was saved yet)."""
        self.get_study(study_id)  # type: ignore[attr-defined]
        row = self._row("SELECT * FROM annotation_sets WHERE study_id = ? ORDER BY version DESC LIMIT 1",
                        (int(study_id),))
        return self._set(row) if row else AnnotationSet(study_id=int(study_id), version=0)

    def annotated_study_ids(self) -> list[int]:
        """Studies with at least one saved annotation version, oldest first (the learning loop's universe)."""
        return [int(r["study_id"]) for r in self._rows("SELECT DISTINCT study_id FROM annotation_sets ORDER BY study_id")]

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
            addendum = self.first_signoff(study_id) is not None
            set_id = self._insert("annotation_sets", {
                "study_id": int(study_id), "version": current.version + 1, "based_on": based_on_version,
                "author": actor, "created": now_iso(), "addendum": int(addendum)})
            self.conn.executemany(
                "INSERT INTO annotations (set_id, label, x, y, w, h, score, source, status) VALUES (?,?,?,?,?,?,?,?,?)",
                [(set_id, b.label, b.x, b.y, b.w, b.h, b.score, b.source, b.status) for b in boxes])
            self.audit(actor, "save_annotations", f"study:{study_id}",
                       detail=f"version {current.version + 1}, {len(boxes)} boxes" + (", addendum" if addendum else ""))
        return self.annotations(study_id)

    def sign_study(self, study_id: int, actor: str, agreement: dict[str, bool] | None = None, comment: str = "", *,
                   verdicts: dict[str, str] | None = None, impression: str = "", diagnosis: str = "",
                   annotation_version: int | None = None, addendum: bool = False) -> Signoff:
        """Sign the current annotation version: one sign-off per version, enforced here and by a trigger.

        ``verdicts`` (present/absent/uncertain per finding) are what counts; old callers may pass
        ``agreement`` (agree/disagree with the AI call), turned into verdicts with the stored
        prediction. A second sign-off is refused (``Conflict``) unless it is an explicit
        ``addendum`` on a newer annotation version. A known user must be an enabled clinician;
        ``annotation_version`` (what the signer saw) must still be the current one.
        """
        user = self.get_user(actor)  # type: ignore[attr-defined]
        if user is not None and not can(user, Permission.SIGN):
            raise PermissionDenied(f"Only clinicians sign studies ({actor} is {user.role}"
                                   + (", disabled" if user.disabled else "") + ").")
        with self.transaction():
            version = self.annotations(study_id).version
            if annotation_version is not None and annotation_version != version:
                raise Conflict(f"The boxes changed (version {version}) after you opened version "
                               f"{annotation_version}; review them again before signing.")
            previous = self.signoffs(study_id)
            if previous and not addendum:
                first = previous[0]
                raise Conflict(f"Already signed by {first.signed_by} at {first.signed_at[:16].replace('T', ' ')}; "
                               "later changes are an addendum.")
            if addendum and not previous:
                raise ValidationError("An addendum needs an earlier sign-off; sign the study first.")
            if addendum and previous[-1].annotation_version >= version:
                raise Conflict(f"Version {version} is already signed; save the changed boxes first, then sign "
                               "the addendum.")
            verdicts = self._verdicts(study_id, agreement or {}, verdicts)
            agreement = agreement if agreement is not None else self._agreement(study_id, verdicts)
            self._insert("signoffs", {
                "study_id": int(study_id), "signed_by": actor, "signed_at": now_iso(),
                "agreement_json": to_json({k: bool(v) for k, v in agreement.items()}),
                "comment": comment or "", "annotation_version": version, "verdicts_json": to_json(verdicts),
                "impression": impression.strip(), "diagnosis": diagnosis.strip(), "addendum": int(addendum)})
            absent = [k for k, v in verdicts.items() if v == ABSENT]
            self.audit(actor, "sign_study", f"study:{study_id}",
                       detail=f"annotation version {version}{'; addendum' if addendum else ''}; disagree: "
                              + (", ".join(k for k, v in agreement.items() if not v) or "none")
                              + "; absent: " + (", ".join(absent) or "none"))
        return self.signoffs(study_id)[-1]

    def _verdicts(self, study_id: int, agreement: dict[str, bool], verdicts: dict[str, str] | None) -> dict[str, str]:
        if verdicts is not None:
            bad = sorted(k for k, v in verdicts.items() if v not in VERDICTS)
            if bad:
                raise ValidationError(f"Answer {', '.join(VERDICTS)} for: {', '.join(bad)}.")
            return dict(verdicts)
        pred = self.latest_prediction(study_id)  # type: ignore[attr-defined]
        return verdicts_from_agreement(agreement, pred.probabilities, pred.thresholds) if pred else {}

    def _agreement(self, study_id: int, verdicts: dict[str, str]) -> dict[str, bool]:
        """Verdicts as agree/disagree with the AI call (for readers of the older field)."""
        pred = self.latest_prediction(study_id)  # type: ignore[attr-defined]
        out: dict[str, bool] = {}
        for label, verdict in verdicts.items():
            p, t = (pred.probabilities.get(label), pred.thresholds.get(label)) if pred else (None, None)
            if verdict != UNCERTAIN and p is not None and t is not None:
                out[label] = (p >= t) == (verdict == PRESENT)
        return out

    def first_signoff(self, study_id: int) -> Signoff | None:
        """The first sign-off of a study (None if unsigned)."""
        rows = self.signoffs(study_id)
        return rows[0] if rows else None

    def latest_signoff(self, study_id: int) -> Signoff | None:
        """The newest sign-off (the addendum, when there is one)."""
        rows = self.signoffs(study_id)
        return rows[-1] if rows else None

    def signoffs(self, study_id: int) -> list[Signoff]:
        """Every sign-off of a study, oldest first (the first is the report, later ones addenda)."""
        rows = self._rows("SELECT * FROM signoffs WHERE study_id = ? ORDER BY id", (int(study_id),))
        return [Signoff(id=r["id"], study_id=r["study_id"], signed_by=r["signed_by"], signed_at=r["signed_at"],
                        agreement=json.loads(r["agreement_json"]), comment=r["comment"],
                        annotation_version=r["annotation_version"], verdicts=json.loads(r.get("verdicts_json") or "{}"),
                        impression=r.get("impression") or "", diagnosis=r.get("diagnosis") or "",
                        addendum=bool(r.get("addendum"))) for r in rows]

    def _set(self, row: dict[str, Any]) -> AnnotationSet:
        boxes = self.conn.execute(
            "SELECT label, x, y, w, h, score, source, status FROM annotations WHERE set_id = ? ORDER BY id",
            (row["id"],)).fetchall()
        return AnnotationSet(study_id=row["study_id"], version=row["version"], boxes=tuple(Box(*b) for b in boxes),
                             author=row["author"], created=row["created"], based_on=row["based_on"],
                             addendum=bool(row["addendum"]))
