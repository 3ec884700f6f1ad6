"""Patients and their context: encounters, allergies, conditions, medications, notes; name/MRN search."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from .. import vocabulary
from ..policy import Permission
from ..vocabulary import Kind
from .base import StoreBase, now_iso
from .dialect import SQLITE, Dialect
from .errors import Conflict, NotFound, PermissionDenied, ValidationError
from .search import build_query
from .records import (ALLERGY_KINDS, ALLERGY_SEVERITIES, CONDITION_STATUSES, Allergy, Condition,
                      Encounter, Medication, Note, Patient, PatientRecord)

PATIENT_COLUMNS = "patient_id, name, sex, birth_date, contact, notes"


def search_sql(where: str, limit_offset: bool = True, dialect: Dialect = SQLITE) -> str:
    """The one search statement (the benchmark times it against the bare index lookup); ``where`` from ``build_query``.

    Exact MRN first, then names that start with the first word, then by name. The page is chosen
    inside the index (from its own key columns) and only that page is joined to the patient rows.
    The candidate rows come from the dialect's index (FTS5 MATCH, or a GIN array lookup on PostgreSQL).
    """
    order = "exact DESC, starts DESC, name_key, mrn_key"
    source, key = dialect.search_source()
    return (f"SELECT {', '.join('p.' + c.strip() for c in PATIENT_COLUMNS.split(','))} FROM "
            f"(SELECT s.{key} AS hit_key, s.mrn_key = ? AS exact, instr(s.name_key, ?) = 1 AS starts, "
            f"s.name_key AS name_key, s.mrn_key AS mrn_key FROM {source} AND {where} ORDER BY {order}"
            + (" LIMIT ? OFFSET ?" if limit_offset else "") +
            f") hit JOIN patients p ON p.{key} = hit.hit_key ORDER BY {order}")


def _patient(row: dict[str, Any]) -> Patient:
    return Patient(**{k: row[k] for k in ("patient_id", "name", "sex", "birth_date", "contact", "notes")})


def _iso_date(value: str, what: str, allow_empty: bool = False) -> str:
    value = (value or "").strip()
    if allow_empty and not value:
        return ""
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        raise ValidationError(f"{what} must be a date like 2024-05-31 (got '{value}').") from None
    return value


def _coded(text: str, code: str, kind: Kind) -> tuple[str, dict[str, str]]:
    """(text as stored, code columns): a picked code must be in the vocabulary; its term fills empty text."""
    text = (text or "").strip()
    if code:
        found = vocabulary.concept(code)
        if found is None or found.kind != kind:
            raise ValidationError(f"'{code}' is not a {kind} code of the vocabulary; pick one from the list "
                                  "or type the text without a code.")
        return text or found.en, {"code": code, "coding": "coded"}
    found_code, coding = vocabulary.code_text(text, kind)
    return text, {"code": found_code, "coding": coding}


#: Audit action noun of each patient-record table (``add_allergy``, not ``add_allergie``).
_RECORD_KIND = {"encounters": "encounter", "allergies": "allergy", "conditions": "condition",
                "medications": "medication", "notes": "note"}

class PatientsMixin(StoreBase):
    def search_patients(self, query: str, limit: int = 20, offset: int = 0, *,
                        actor: str | None = None) -> list[Patient]:
        """Patients whose name or MRN contains every word (Korean 초성 too: "ㄱㅁㅈ"), one page at a time.

        A blank query lists patients alphabetically (the picker's initial state). Text that cannot be
        searched (too long, control characters, broken Unicode) raises :class:`ValidationError`.
        With ``actor`` (a person is shown the list: names, MRNs, ages) the listing is audited.
        """
        found_patients = self._search_patients(query, limit, offset)
        if actor is not None:
            self.audit_listing(actor, "list_patients", [p.patient_id for p in found_patients], f"query={query!r}")
        return found_patients

    def _search_patients(self, query: str, limit: int, offset: int) -> list[Patient]:
        limit, offset = max(0, int(limit)), max(0, int(offset))
        found = build_query(query or "")
        if found is None:
            if (query or "").strip():
                return []
            rows = self.conn.execute(f"SELECT {PATIENT_COLUMNS} FROM patients ORDER BY "
                                     f"{self.dialect.nocase('name')} LIMIT ? OFFSET ?",
                                     (limit, offset)).fetchall()
        else:
            first = found.params[0]
            candidates = self.dialect.search_candidates(found.match, found.grams)
            rows = self.conn.execute(search_sql(found.where, dialect=self.dialect),
                                     (first, first, candidates, *found.params, limit, offset)).fetchall()
        return [Patient(*row) for row in rows]

    def get_patient(self, patient_id: str) -> Patient:
        row = self._row(f"SELECT {PATIENT_COLUMNS} FROM patients WHERE patient_id = ?", (patient_id,))
        if row is None:
            raise NotFound(f"No patient with MRN '{patient_id}'.")
        return _patient(row)

    def has_patient(self, patient_id: str) -> bool:
        return self._row("SELECT 1 FROM patients WHERE patient_id = ?", (patient_id,)) is not None

    def count_patients(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM patients").fetchone()[0])

    def add_patient(self, patient_id: str, name: str, actor: str = "system", sex: str = "",
                    birth_date: str = "", contact: str = "", notes: str = "") -> Patient:
        patient_id, name = (patient_id or "").strip(), (name or "").strip()
        if not patient_id or not name:
            raise ValidationError("A patient needs an MRN and a name.")
        sex = (sex or "").strip().upper()[:1]
        if sex not in ("", "M", "F", "O"):
            raise ValidationError("Sex must be M, F, O or empty.")
        birth_date = _iso_date(birth_date, "Birth date", allow_empty=True)
        with self.transaction():
            if self.has_patient(patient_id):
                raise Conflict(f"A patient with MRN '{patient_id}' already exists.")
            self._insert("patients", {"patient_id": patient_id, "name": name, "sex": sex,
                                      "birth_date": birth_date, "contact": contact or "",
                                      "notes": notes or "", "created": now_iso()})
            self.dialect.index_patient(self.conn, patient_id, name)
            self.audit(actor, "add_patient", f"patient:{patient_id}")
        return self.get_patient(patient_id)

    def _add_child(self, table: str, patient_id: str, actor: str, values: dict[str, Any]) -> int:
        """Insert one row that belongs to a patient, with its audit row, in one transaction."""
        if self.refuses(actor, Permission.EDIT_RECORD):  # type: ignore[attr-defined]
            raise PermissionDenied(f"'{actor}' may not add to a patient's record.")
        with self.transaction():
            self.get_patient(patient_id)
            row_id = self._insert(table, {"patient_id": patient_id, **values})
            self.audit(actor, f"add_{_RECORD_KIND[table]}", f"patient:{patient_id}", detail=f"{table}:{row_id}")
        return row_id

    def add_encounter(self, patient_id: str, actor: str, date: str, reason: str, diagnosis: str = "",
                      notes: str = "") -> Encounter:
        if not (reason or "").strip():
            raise ValidationError("An encounter needs a reason.")
        values = {"date": _iso_date(date, "Encounter date"), "reason": reason.strip(),
                  "diagnosis": diagnosis or "", "clinician": actor, "notes": notes or ""}
        row_id = self._add_child("encounters", patient_id, actor, values)
        return Encounter(id=row_id, patient_id=patient_id, **values)

    def add_allergy(self, patient_id: str, actor: str, substance: str, kind: str, reaction: str = "",
                    severity: str = "", code: str = "") -> Allergy:
        """``code``: a substance from the pick-list (vocabulary); without one, typed text is coded if exact."""
        substance, coded = _coded(substance, code, "substance")
        if not substance:
            raise ValidationError("An allergy needs a substance.")
        if kind not in ALLERGY_KINDS:
            raise ValidationError(f"Allergy kind must be one of {', '.join(ALLERGY_KINDS)}.")
        if severity not in ALLERGY_SEVERITIES:
            raise ValidationError(f"Severity must be one of {', '.join(s for s in ALLERGY_SEVERITIES if s)}.")
        values = {"substance": substance, "kind": kind, "reaction": reaction or "", "severity": severity, **coded}
        row_id = self._add_child("allergies", patient_id, actor, values)
        return Allergy(id=row_id, patient_id=patient_id, **values)

    def add_condition(self, patient_id: str, actor: str, name: str, since: str = "",
                      status: str = "active", code: str = "") -> Condition:
        """``code``: a concept from the pick-list (vocabulary); without one, typed text is coded if exact."""
        name, coded = _coded(name, code, "condition")
        if not name:
            raise ValidationError("A condition needs a name.")
        if status not in CONDITION_STATUSES:
            raise ValidationError(f"Condition status must be one of {', '.join(CONDITION_STATUSES)}.")
        values = {"name": name, "since": _iso_date(since, "'Since'", allow_empty=True), "status": status, **coded}
        row_id = self._add_child("conditions", patient_id, actor, values)
        return Condition(id=row_id, patient_id=patient_id, **values)

    def add_medication(self, patient_id: str, actor: str, name: str, dose: str = "", since: str = "") -> Medication:
        if not (name or "").strip():
            raise ValidationError("A medication needs a name.")
        values = {"name": name.strip(), "dose": dose or "", "since": _iso_date(since, "'Since'", allow_empty=True)}
        row_id = self._add_child("medications", patient_id, actor, values)
        return Medication(id=row_id, patient_id=patient_id, **values)

    def add_note(self, patient_id: str, actor: str, text: str) -> Note:
        if not (text or "").strip():
            raise ValidationError("A note cannot be empty.")
        values = {"text": text.strip(), "author": actor, "created": now_iso()}
        row_id = self._add_child("notes", patient_id, actor, values)
        return Note(id=row_id, patient_id=patient_id, **values)

    def patient_record(self, patient_id: str, actor: str) -> PatientRecord:
        """The whole chart for one patient; opening it is audited as a "view".

        Contact details are left out for an account whose role may not see them (:mod:`policy`),
        so no caller (widget, notebook, report) can show them by mistake.
        """
        patient = self.get_patient(patient_id)
        if patient.contact and self.refuses(actor, Permission.SEE_CONTACT):  # type: ignore[attr-defined]
            patient = replace(patient, contact="")

        def rows(table: str, order: str) -> list[dict[str, Any]]:
            return self._rows(f"SELECT * FROM {table} WHERE patient_id = ? ORDER BY {order}", (patient_id,))

        record = PatientRecord(
            patient=patient,
            encounters=tuple(Encounter(**r) for r in rows("encounters", "date DESC, id DESC")),
            allergies=tuple(Allergy(**r) for r in rows("allergies", "kind, substance")),
            conditions=tuple(Condition(**r) for r in rows("conditions", "status, name")),
            medications=tuple(Medication(**r) for r in rows("medications", "name")),
            notes=tuple(Note(**r) for r in rows("notes", "created DESC, id DESC")),
            studies=tuple(self.studies_for_patient(patient_id)),  # type: ignore[attr-defined]
        )
        self.audit(actor, "view", f"patient:{patient_id}")
        return record
