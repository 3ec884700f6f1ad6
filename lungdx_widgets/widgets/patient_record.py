"""The patient's context next to the AI result: banner with allergies, and the full record.

Reads go through ``Store.patient_record(patient_id, actor)`` (audited as a view); additions go
through the store's ``add_*`` methods with the acting user. Analysts never see contact data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import ipywidgets as w
import traitlets as t

from ..i18n import N_, language
from ..i18n import gettext as _
from ..terms import SEXES
from ..vocabulary import Kind, choices, term
from ..errors import LungDxError
from ..policy import Permission, can
from ..store.records import ALLERGY_KINDS, ALLERGY_SEVERITIES, CONDITION_STATUSES
from .theme import SEVERITY_RANK, esc, message_html, severity_style


def allergy_chips(allergies: Sequence) -> str:
    """Allergies as chips, most severe first, coloured by severity (or 'No known allergies')."""
    if not allergies:
        return f"<span class='lx-muted lx-nka'>{esc(_('No known allergies'))}</span>"
    ordered = sorted(allergies, key=lambda a: SEVERITY_RANK.get((a.severity or "").lower(), 1))
    chips = []
    for a in ordered:
        fg, bg = severity_style(a.severity)
        detail = " · ".join(x for x in (a.reaction, _(a.severity) if a.severity else "") if x)
        chips.append(f"<span class='lx-allergy' style='color:{fg};background:{bg}' title='{esc(a.kind)}'>"
                     f"⚠ {esc(term(getattr(a, 'code', ''), a.substance, language()))}{(' — ' + esc(detail)) if detail else ''}</span>")
    return "".join(chips)


def demographics(patient) -> str:
    age = patient.age()
    bits = [_(SEXES[patient.sex]) if patient.sex in SEXES and patient.sex else _("sex unknown"), _("{age} y").format(age=age) if age is not None else _("age unknown"),
            _("born {date}").format(date=patient.birth_date) if patient.birth_date else ""]
    return " · ".join(esc(b) for b in bits if b)


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> str:
    if not rows:
        return f"<div class='lx-muted'>{esc(_(empty))}</div>"
    head = "".join(f"<th>{esc(_(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def record_html(record, *, show_contact: bool) -> str:
    """The whole record as one HTML block (one widget update per patient switch keeps it fast)."""
    p = record.patient
    parts = [f"<div class='lx-record-name'><b>{esc(p.name)}</b> <span class='lx-muted'>{esc(_('MRN'))} {esc(p.patient_id)}</span></div>",
             f"<div>{demographics(p)}</div>"]
    if show_contact and getattr(p, "contact", None):
        parts.append(f"<div class='lx-contact'>{esc(_('Contact:'))} {esc(p.contact)}</div>")
    parts.append(f"<h3>{esc(_('Allergies'))}</h3>" + f"<div class='lx-allergies'>{allergy_chips(record.allergies)}</div>")
    parts.append(f"<h3>{esc(_('Chronic conditions'))}</h3>" + _table(
        (N_("Condition"), N_("Since"), N_("Status")),
        [(term(getattr(c, "code", ""), c.name, language()), c.since, _(c.status)) for c in record.conditions],
        N_("No chronic conditions recorded.")))
    parts.append(f"<h3>{esc(_('Medications'))}</h3>" + _table(
        (N_("Medication"), N_("Dose"), N_("Since")), [(m.name, m.dose, m.since) for m in record.medications],
        N_("No medications recorded.")))
    parts.append(f"<h3>{esc(_('Encounters'))}</h3>" + _table(
        (N_("Date"), N_("Reason"), N_("Diagnosis"), N_("Notes")),
        [(e.date, e.reason, e.diagnosis, e.notes) for e in record.encounters],  # newest first, as the store returns them
        N_("No prior encounters.")))
    notes = list(record.notes)[:5]  # newest first, as the store returns them
    parts.append(f"<h3>{esc(_('Notes'))}</h3>" + (
        "".join(f"<div class='lx-note'><span class='lx-muted'>{esc(getattr(n, 'created', ''))[:16]} "
                f"{esc(getattr(n, 'author', ''))}</span><br>{esc(n.text)}</div>" for n in notes)
        or f"<div class='lx-muted'>{esc(_('No notes.'))}</div>"))
    if getattr(p, "notes", None):
        parts.append(f"<div class='lx-muted'>{esc(p.notes)}</div>")
    return "".join(parts)


class PatientBanner(w.HBox):
    """Always-visible strip: who is this, and what are they allergic to."""

    def __init__(self) -> None:
        self._html = w.HTML(f"<span class='lx-muted'>{esc(_('No patient selected — search on the left or open a study.'))}</span>")
        super().__init__([self._html], layout=w.Layout(flex="0 0 auto", width="100%"))
        self.add_class("lx-banner")

    def show(self, record) -> None:
        p = record.patient
        self._html.value = (f"<div><span class='lx-name'>{esc(p.name)}</span> "
                            f"<span class='lx-muted'>{esc(_('MRN'))} {esc(p.patient_id)} · {demographics(p)}</span></div>"
                            f"<div class='lx-banner-allergies'>{allergy_chips(record.allergies)}</div>")

    def clear(self) -> None:
        self._html.value = f"<span class='lx-muted'>{esc(_('No patient selected.'))}</span>"


#: Fields offered with the bilingual vocabulary as a pick-list (lungdx_widgets.vocabulary).
PICK_LISTS: dict[tuple[str, str], Kind] = {("condition", "name"): "condition", ("allergy", "substance"): "substance"}


class AddToRecordForm(w.VBox):
    """One small form for encounter / allergy / condition / note; fields change with the kind.

    Closed vocabularies (allergy kind and severity, condition status) are drop-downs fed from the
    store's own lists, so the store's validation is the only rulebook.
    """

    FIELDS: dict[str, tuple[tuple[str, str, Sequence[str] | None], ...]] = {
        "encounter": (("date", N_("Date (YYYY-MM-DD, empty = today)"), None), ("reason", N_("Reason"), None),
                      ("diagnosis", N_("Diagnosis"), None), ("notes", N_("Notes"), None)),
        "allergy": (("substance", N_("Substance"), None), ("kind", N_("Kind"), ALLERGY_KINDS),
                    ("reaction", N_("Reaction"), None), ("severity", N_("Severity"), ALLERGY_SEVERITIES)),
        "condition": (("name", N_("Condition"), None), ("since", N_("Since (YYYY-MM-DD)"), None),
                      ("status", N_("Status"), CONDITION_STATUSES)),
        "medication": (("name", N_("Medication"), None), ("dose", N_("Dose"), None), ("since", N_("Since (YYYY-MM-DD)"), None)),
        "note": (("text", N_("Note"), None),),
    }

    def __init__(self, on_submit: Callable[[str, dict[str, str]], str | None]) -> None:
        self._on_submit = on_submit
        self.kind = w.Dropdown(options=[(_(k), k) for k in self.FIELDS], value="note", layout=w.Layout(width="140px"))
        self.kind.add_class("lx-add-type")
        self._inputs: dict[str, w.ValueWidget] = {}
        self._fields = w.VBox()
        self.save = w.Button(description=_("Add to record"), layout=w.Layout(width="140px"))
        self.save.add_class("lx-add-save")
        self.message = w.HTML()
        self.kind.observe(lambda _c: self._build(), names="value")
        self.save.on_click(lambda _b: self.submit())
        self._build()
        super().__init__([w.HBox([self.kind, self.save]), self._fields, self.message])
        self.add_class("lx-form")

    def reset(self) -> None:
        """Back to an empty note form with no message (a patient switch must not carry values over)."""
        self.message.value = ""
        if self.kind.value != "note":
            self.kind.value = "note"  # rebuilds the fields empty
        else:
            self._build()

    def _build(self) -> None:
        self._inputs = {}
        for name, hint, options in self.FIELDS[self.kind.value]:
            picks = PICK_LISTS.get((self.kind.value, name))
            box = (w.Dropdown(options=[(_(o) if o else "—", o) for o in options], description=_(hint),
                              layout=w.Layout(width="100%")) if options is not None
                   # the bilingual vocabulary as suggestions; free text stays allowed (coded when exact)
                   else w.Combobox(placeholder=_(hint), options=[label for label, _code in choices(picks, language())],
                                   ensure_option=False, layout=w.Layout(width="100%")) if picks
                   else w.Text(placeholder=_(hint), layout=w.Layout(width="100%")))
            box.add_class(f"lx-add-{name}")
            self._inputs[name] = box
        self._fields.children = tuple(self._inputs.values())

    def fill(self, **values: str) -> None:
        """Set field values (what typing does; used by notebooks and tests)."""
        for name, value in values.items():
            self._inputs[name].value = value

    def submit(self) -> None:
        values = {k: str(v.value or "").strip() for k, v in self._inputs.items()}
        error = self._on_submit(self.kind.value, values)
        if error:
            self.message.value = message_html(error, "error")
            return
        self.message.value = message_html(_("{kind} added.").format(kind=_(self.kind.value)), "ok")
        for box in self._inputs.values():
            if isinstance(box, w.Text):
                box.value = ""


class PatientRecordPanel(w.VBox):
    """The full record of one patient; clinicians can add to it."""

    patient_id = t.Unicode(None, allow_none=True, help="Patient shown (set through show()).")

    def __init__(self, store, actor: str, role: str) -> None:
        self._store = store
        self._actor = actor
        self._role = role
        self._changed: list[Callable[[object], None]] = []
        self.record = None
        self._html = w.HTML(f"<div class='lx-empty'>{esc(_('Select a patient to see the record.'))}</div>")
        self._html.add_class("lx-record")
        self.form = AddToRecordForm(self._add) if can(role, Permission.EDIT_RECORD) else None
        self._form_box = w.Accordion(children=[self.form], titles=(_("Add encounter, allergy, condition, medication or note"),),
                                     selected_index=None, layout=w.Layout(display="none")) if self.form else None
        super().__init__([self._html] + ([self._form_box] if self._form_box else []))
        self.add_class("lx-record-panel")

    def show(self, patient_id: str):
        """Load (audited) and render the record; returns it, or None after showing the error."""
        try:
            record = self._store.patient_record(patient_id, self._actor)
        except LungDxError as exc:
            self._html.value = message_html(str(exc), "error")
            return None
        self.record = record
        self.patient_id = patient_id
        self._html.value = record_html(record, show_contact=can(self._role, Permission.SEE_CONTACT))
        if self._form_box is not None:
            self._form_box.layout.display = None
        return record

    def redraw(self) -> None:
        """Render the record already read again (another language): no new read, no audit row."""
        if self.record is not None:
            self._html.value = record_html(self.record, show_contact=can(self._role, Permission.SEE_CONTACT))

    def _add(self, kind: str, values: dict[str, str]) -> str | None:
        """Write one addition through the store; returns an error message or None."""
        if not self.patient_id:
            return _("Select a patient first.")
        required = {"encounter": "reason", "allergy": "substance", "condition": "name", "medication": "name",
                    "note": "text"}[kind]
        if not values.get(required):
            hint = {name: hint for name, hint, _options in AddToRecordForm.FIELDS[kind]}[required]
            return _("Please fill in '{field}'.").format(field=_(hint))
        pid, actor = self.patient_id, self._actor
        try:
            if kind == "encounter":
                self._store.add_encounter(pid, actor, values["date"] or date.today().isoformat(), values["reason"],
                                          values["diagnosis"], values["notes"])
            elif kind == "allergy":
                self._store.add_allergy(pid, actor, values["substance"], values["kind"],
                                        values["reaction"], values["severity"])
            elif kind == "condition":
                self._store.add_condition(pid, actor, values["name"], values["since"], values["status"])
            elif kind == "medication":
                self._store.add_medication(pid, actor, values["name"], values["dose"], values["since"])
            else:
                self._store.add_note(pid, actor, values["text"])
        except LungDxError as exc:
            return str(exc)
        record = self.show(pid)
        for handler in list(self._changed):
            handler(record)
        return None

    def on_changed(self, handler: Callable[[object], None]) -> None:
        """Call ``handler(record)`` after every change to the record, so every view of the patient follows."""
        self._changed.append(handler)

    def reset(self) -> None:
        """A patient switch: the add form starts empty, without the last patient's message."""
        if self.form is not None and self._form_box is not None:
            self.form.reset()
            self._form_box.selected_index = None
