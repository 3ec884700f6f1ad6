"""PACS links in the store: pulled instances (idempotency by SOP Instance UID), stub patients, results sent back.

Each write is audited in the caller's transaction, so the PACS pull files a study and its SOP
link together or not at all (see ``services.ingest(on_filed=...)``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .base import StoreBase, now_iso
from .errors import Conflict, NotFound


@dataclass(frozen=True)
class PacsInstance:
    """One SOP Instance pulled from the PACS and the study it was filed as."""

    sop_instance_uid: str
    study_id: int
    study_instance_uid: str
    series_instance_uid: str
    sop_class_uid: str
    issuer: str
    pulled_by: str
    pulled_at: str


@dataclass(frozen=True)
class PacsStub:
    """A patient created from a PACS header (unknown here): a person must check and complete it."""

    patient_id: str
    source_patient_id: str
    issuer: str
    created_by: str
    created_at: str
    reviewed_by: str
    reviewed_at: str


@dataclass(frozen=True)
class PacsExport:
    """One result sent back with STOW-RS: the SR and the Secondary Capture with the boxes."""

    id: int
    study_id: int
    signoff_id: int | None
    study_instance_uid: str
    sr_series_uid: str
    sr_sop_instance_uid: str
    sc_series_uid: str
    sc_sop_instance_uid: str
    previous_sr_uid: str
    sent_by: str
    sent_at: str


def _record(cls: type, row: dict[str, Any]) -> Any:
    return cls(**row)


class PacsMixin(StoreBase):
    def pacs_instance(self, sop_instance_uid: str) -> PacsInstance | None:
        row = self._row("SELECT * FROM pacs_instances WHERE sop_instance_uid = ?", (sop_instance_uid,))
        return None if row is None else _record(PacsInstance, row)

    def pacs_instance_for_study(self, study_id: int) -> PacsInstance | None:
        row = self._row("SELECT * FROM pacs_instances WHERE study_id = ? ORDER BY pulled_at LIMIT 1", (int(study_id),))
        return None if row is None else _record(PacsInstance, row)

    def pulled_uids(self, sop_instance_uids: Iterable[str]) -> set[str]:
        """Which of these SOP Instance UIDs are already filed (one query per 500)."""
        uids, found = list(sop_instance_uids), set()
        for start in range(0, len(uids), 500):
            chunk = uids[start:start + 500]
            marks = ",".join("?" for _ in chunk)
            found |= {r["sop_instance_uid"] for r in self._rows(
                f"SELECT sop_instance_uid FROM pacs_instances WHERE sop_instance_uid IN ({marks})", chunk)}
        return found

    def record_pacs_instance(self, sop_instance_uid: str, study_id: int, actor: str, *, study_instance_uid: str,
                             series_instance_uid: str, sop_class_uid: str = "", issuer: str = "") -> PacsInstance:
        """Link a pulled instance to its study; ``Conflict`` when another pull linked it first."""
        if self.pacs_instance(sop_instance_uid) is not None:
            raise Conflict(f"Instance {sop_instance_uid} was already filed (by another pull).")
        with self.transaction():
            self._insert("pacs_instances", {
                "sop_instance_uid": sop_instance_uid, "study_id": int(study_id),
                "study_instance_uid": study_instance_uid, "series_instance_uid": series_instance_uid,
                "sop_class_uid": sop_class_uid, "issuer": issuer, "pulled_by": actor, "pulled_at": now_iso()})
            self.audit(actor, "pacs_link", f"study:{study_id}", detail=f"sop={sop_instance_uid}")
        found = self.pacs_instance(sop_instance_uid)
        assert found is not None
        return found

    def add_stub_patient(self, patient_id: str, name: str, actor: str, *, source_patient_id: str, issuer: str = "",
                         sex: str = "", birth_date: str = "") -> PacsStub:
        """A patient known only from a PACS header, flagged for review (never merged into another)."""
        with self.transaction():
            self.add_patient(patient_id, name, actor, sex=sex, birth_date=birth_date,  # type: ignore[attr-defined]
                             notes="Created from a PACS study header; check identity and complete the record.")
            self._insert("pacs_patient_stubs", {"patient_id": patient_id, "source_patient_id": source_patient_id,
                                                "issuer": issuer, "created_by": actor, "created_at": now_iso()})
            self.audit(actor, "pacs_stub_patient", f"patient:{patient_id}",
                       detail=f"PatientID={source_patient_id}; issuer={issuer or '-'}")
        return self.pacs_stubs(include_reviewed=True, patient_id=patient_id)[0]

    def pacs_stubs(self, include_reviewed: bool = False, patient_id: str | None = None) -> list[PacsStub]:
        where, params = [], []
        if not include_reviewed:
            where.append("reviewed_at = ''")
        if patient_id is not None:
            where.append("patient_id = ?")
            params.append(patient_id)
        sql = "SELECT * FROM pacs_patient_stubs" + (f" WHERE {' AND '.join(where)}" if where else "")
        return [_record(PacsStub, r) for r in self._rows(sql + " ORDER BY created_at, patient_id", params)]

    def review_stub(self, patient_id: str, actor: str) -> None:
        """A person checked the stub patient's identity."""
        with self.transaction():
            cur = self.conn.execute("UPDATE pacs_patient_stubs SET reviewed_by = ?, reviewed_at = ? "
                                    "WHERE patient_id = ? AND reviewed_at = ''", (actor, now_iso(), patient_id))
            if cur.rowcount == 0:
                raise NotFound(f"No unreviewed PACS stub patient {patient_id}.")
            self.audit(actor, "pacs_stub_reviewed", f"patient:{patient_id}")

    def pacs_unsent_signed_studies(self) -> list[int]:
        """Pulled studies whose newest sign-off has not been sent back yet."""
        rows = self._rows("""
            SELECT DISTINCT pi.study_id FROM pacs_instances pi
            JOIN signoffs s ON s.id = (SELECT max(id) FROM signoffs WHERE study_id = pi.study_id)
            WHERE NOT EXISTS (SELECT 1 FROM pacs_exports e WHERE e.study_id = pi.study_id AND e.signoff_id = s.id)
            ORDER BY pi.study_id""")
        return [int(r["study_id"]) for r in rows]

    def pacs_exports(self, study_id: int) -> list[PacsExport]:
        """Results sent back for a study, oldest first."""
        rows = self._rows("SELECT * FROM pacs_exports WHERE study_id = ? ORDER BY id", (int(study_id),))
        return [_record(PacsExport, r) for r in rows]

    def record_pacs_export(self, study_id: int, actor: str, *, signoff_id: int | None, study_instance_uid: str,
                           sr_series_uid: str, sr_sop_instance_uid: str, sc_series_uid: str,
                           sc_sop_instance_uid: str, previous_sr_uid: str = "") -> PacsExport:
        """Write down what the PACS accepted (only after STOW-RS succeeded)."""
        with self.transaction():
            export_id = self._insert("pacs_exports", {
                "study_id": int(study_id), "signoff_id": signoff_id, "study_instance_uid": study_instance_uid,
                "sr_series_uid": sr_series_uid, "sr_sop_instance_uid": sr_sop_instance_uid,
                "sc_series_uid": sc_series_uid, "sc_sop_instance_uid": sc_sop_instance_uid,
                "previous_sr_uid": previous_sr_uid, "sent_by": actor, "sent_at": now_iso()})
            self.audit(actor, "pacs_push", f"study:{study_id}",
                       detail=f"sr={sr_sop_instance_uid}; sc={sc_sop_instance_uid}"
                              + (f"; supersedes {previous_sr_uid}" if previous_sr_uid else ""))
        return next(e for e in self.pacs_exports(study_id) if e.id == export_id)
