"""Register a new patient, or correct a registered patient's demographics, from the dashboard.

Why: a clinician cannot run ``lungdx patients add``. Writes go through ``Store.add_patient`` /
``Store.update_patient`` under the acting user (audited); the store's validation messages are
shown as they are. The MRN of a registered patient is never edited.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from ..errors import LungDxError
from ..i18n import N_
from ..i18n import gettext as _
from .theme import message_html

#: The sex choices (label, stored code); labels are the catalogue's words (terms.SEXES), shown with ``_()``.
SEXES = (("—", ""), (N_("female"), "F"), (N_("male"), "M"), (N_("other"), "O"))
MSG_REGISTERED = N_("Patient {mrn} registered.")
MSG_UPDATED = N_("Demographics saved.")
MSG_NO_PATIENT = N_("Select a patient first.")


class PatientForm(w.VBox):
    """``mode="new"``: MRN + demographics → Register. ``mode="edit"``: the open patient's demographics → Save."""

    def __init__(self, store, actor: str, mode: str = "new", on_saved: Callable[[str], None] = lambda _pid: None) -> None:
        self._store = store
        self._actor = actor
        self.mode = mode
        self._on_saved = on_saved
        self.patient_id: str | None = None
        self.mrn = w.Text(placeholder=_("MRN"), layout=w.Layout(width="100%"))
        self.name = w.Text(placeholder=_("Name (Family, Given)"), layout=w.Layout(width="100%"))
        self.sex = w.Dropdown(options=[(_(label), code) for label, code in SEXES], value="", description=_("Sex"), layout=w.Layout(width="100%"))
        self.birth_date = w.Text(placeholder=_("Birth date (YYYY-MM-DD)"), layout=w.Layout(width="100%"))
        self.contact = w.Text(placeholder=_("Contact (phone / address)"), layout=w.Layout(width="100%"))
        for box, cls in ((self.mrn, "mrn"), (self.name, "name"), (self.sex, "sex"), (self.birth_date, "birth"),
                         (self.contact, "contact")):
            box.add_class(f"lx-patient-{cls}")
        self.save = w.Button(description=_("Register patient") if mode == "new" else _("Save demographics"),
                             layout=w.Layout(width="160px"))
        self.save.add_class(f"lx-patient-{mode}-save")
        self.message = w.HTML()
        self.save.on_click(lambda _b: self.submit())
        fields = [self.name, self.sex, self.birth_date, self.contact]
        super().__init__(([self.mrn] if mode == "new" else []) + fields + [self.save, self.message])
        self.add_class("lx-form")
        self.add_class(f"lx-patient-form-{mode}")

    def load(self, patient) -> None:
        """Edit mode: fill the fields from the open patient (and forget any earlier message)."""
        self.patient_id = patient.patient_id if patient is not None else None
        self.message.value = ""
        self.name.value = patient.name if patient else ""
        self.sex.value = patient.sex if patient and patient.sex in dict((v, k) for k, v in SEXES) else ""
        self.birth_date.value = patient.birth_date if patient else ""
        self.contact.value = getattr(patient, "contact", "") if patient else ""

    def reset(self) -> None:
        for box in (self.mrn, self.name, self.birth_date, self.contact):
            box.value = ""
        self.sex.value = ""
        self.message.value = ""

    def submit(self) -> str | None:
        """Write through the store; returns the patient's MRN, or None after showing why not."""
        try:
            if self.mode == "new":
                patient = self._store.add_patient(self.mrn.value, self.name.value, self._actor, sex=self.sex.value,
                                                  birth_date=self.birth_date.value, contact=self.contact.value)
                text = _(MSG_REGISTERED).format(mrn=patient.patient_id)
            else:
                if not self.patient_id:
                    self.message.value = message_html(MSG_NO_PATIENT, "warn")
                    return None
                patient = self._store.update_patient(self.patient_id, self._actor, name=self.name.value,
                                                     sex=self.sex.value, birth_date=self.birth_date.value,
                                                     contact=self.contact.value)
                text = _(MSG_UPDATED)
        except LungDxError as exc:
            self.message.value = message_html(str(exc), "error")
            return None
        if self.mode == "new":
            self.reset()
        self.message.value = message_html(text, "ok")
        self._on_saved(patient.patient_id)
        return patient.patient_id
