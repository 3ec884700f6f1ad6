"""Editing a registered patient's demographics (name, sex, birth date, contact), audited field by field.

Why its own mixin: registering and searching patients live in ``patients``; a correction of who a
patient is must say what changed (old → new, without the contact's value) in the audit row.
The MRN never changes: it is the identity every study is filed under.
"""

from __future__ import annotations

from .base import StoreBase
from .errors import ValidationError
from .records import Patient

EDITABLE = ("name", "sex", "birth_date", "contact")


class DemographicsMixin(StoreBase):
    def update_patient(self, patient_id: str, actor: str, **changes: str) -> Patient:
        """Change some of name / sex / birth_date / contact; one transaction, one audit row."""
        unknown = sorted(set(changes) - set(EDITABLE))
        if unknown:
            raise ValidationError(f"Only {', '.join(EDITABLE)} can be changed (not {', '.join(unknown)}).")
        with self.transaction():
            before = self.get_patient(patient_id)  # type: ignore[attr-defined]
            values = {k: (v or "").strip() for k, v in changes.items()}
            if "name" in values and not values["name"]:
                raise ValidationError("A patient needs a name.")
            if "sex" in values:
                values["sex"] = values["sex"].upper()[:1]
                if values["sex"] not in ("", "M", "F", "O"):
                    raise ValidationError("Sex must be M, F, O or empty.")
            if values.get("birth_date"):
                from .patients import _iso_date

                values["birth_date"] = _iso_date(values["birth_date"], "Birth date", allow_empty=True)
            changed = {k: v for k, v in values.items() if getattr(before, k) != v}
            if changed:
                sets = ", ".join(f"{k} = ?" for k in changed)
                self.conn.execute(f"UPDATE patients SET {sets} WHERE patient_id = ?", (*changed.values(), patient_id))
                if "name" in changed:
                    self.dialect.index_patient(self.conn, patient_id, changed["name"])
                detail = "; ".join(f"{k}: changed" if k == "contact" else f"{k}: {getattr(before, k)!r} -> {v!r}"
                                   for k, v in changed.items())
                self.audit(actor, "update_patient", f"patient:{patient_id}", detail=detail)
        return self.get_patient(patient_id)  # type: ignore[attr-defined]
