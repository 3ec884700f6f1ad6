"""Frozen records the store hands out: plain data, no database handles, safe to pass to widgets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..policy import ROLES as ROLES  # the role names (policy.GRANTS); re-exported for the store's users
from ..types import Box, Findings, LabelResult, TRIAGE_ORDER

ALLERGY_KINDS: tuple[str, ...] = ("drug", "food", "other")
ALLERGY_SEVERITIES: tuple[str, ...] = ("", "mild", "moderate", "severe", "life-threatening")
CONDITION_STATUSES: tuple[str, ...] = ("active", "resolved", "inactive")
MODEL_STATUSES: tuple[str, ...] = ("candidate", "active", "retired")


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: str
    disabled: bool
    created: str
    language: str = ""  # interface language chosen for the account; "" = follow the browser


@dataclass(frozen=True)
class Patient:
    patient_id: str  # MRN
    name: str
    sex: str = ""
    birth_date: str = ""  # ISO date or ""
    contact: str = ""
    notes: str = ""

    def age(self, on: date | None = None) -> int | None:
        """Whole years on ``on`` (default today); None when the birth date is unknown."""
        try:
            born = date.fromisoformat(self.birth_date[:10])
        except ValueError:
            return None
        on = on or date.today()
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass(frozen=True)
class Encounter:
    id: int
    patient_id: str
    date: str
    reason: str
    diagnosis: str
    clinician: str
    notes: str


@dataclass(frozen=True)
class Allergy:
    id: int
    patient_id: str
    substance: str
    kind: str  # drug / food / other
    reaction: str
    severity: str
    code: str = ""  # SNOMED CT substance code (lungdx_widgets.vocabulary), "" for free text
    coding: str = "free"  # coded / free / review


@dataclass(frozen=True)
class Condition:
    id: int
    patient_id: str
    name: str
    since: str
    status: str
    code: str = ""  # SNOMED CT concept (lungdx_widgets.vocabulary), "" for free text
    coding: str = "free"  # coded / free / review


@dataclass(frozen=True)
class Medication:
    id: int
    patient_id: str
    name: str
    dose: str
    since: str


@dataclass(frozen=True)
class Note:
    id: int
    patient_id: str
    text: str
    author: str
    created: str


@dataclass(frozen=True)
class Study:
    id: int
    study_uid: str
    patient_id: str
    acquired: str  # ISO date or date-time
    modality: str
    view: str
    sha256: str
    image_path: str  # relative to Settings.image_store
    filename: str
    source_format: str
    width: int
    height: int
    uploaded_by: str
    uploaded_at: str


@dataclass(frozen=True)
class PatientRecord:
    """Everything the dashboard shows beside an image, read in one go."""

    patient: Patient
    encounters: tuple[Encounter, ...] = ()
    allergies: tuple[Allergy, ...] = ()
    conditions: tuple[Condition, ...] = ()
    medications: tuple[Medication, ...] = ()
    notes: tuple[Note, ...] = ()
    studies: tuple[Study, ...] = ()

    @property
    def active_conditions(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.conditions if c.status == "active")


@dataclass(frozen=True)
class Prediction:
    """A stored model result for one study; the clinician may override its triage level."""

    id: int
    study_id: int
    model_version: str
    probabilities: dict[str, float | None]
    thresholds: dict[str, float | None]
    boxes: tuple[Box, ...]
    triage_level: str
    triage_reasons: tuple[str, ...]
    created: str
    created_by: str
    override_level: str | None = None
    override_reason: str = ""
    override_by: str = ""
    #: The film looked unlike the model's training films: findings may be unreliable (model v2 guard).
    out_of_distribution: bool = False
    ood_score: float | None = None

    @property
    def level(self) -> str:
        """The level that counts: the clinician's override when there is one."""
        return self.override_level or self.triage_level

    @property
    def rank(self) -> int:
        return TRIAGE_ORDER.index(self.level)  # type: ignore[arg-type]

    def to_findings(self) -> Findings:
        """Findings without heatmaps (those are recomputed, not stored)."""
        results = {k: LabelResult(k, p, self.thresholds.get(k)) for k, p in self.probabilities.items()}
        return Findings(results=results, boxes=list(self.boxes), model_version=self.model_version,
                        out_of_distribution=self.out_of_distribution, ood_score=self.ood_score)


@dataclass(frozen=True)
class AnnotationSet:
    """One saved version of a study's boxes; version 0 with no boxes means nothing saved yet."""

    study_id: int
    version: int
    boxes: tuple[Box, ...] = ()
    author: str = ""
    created: str = ""
    based_on: int = 0
    addendum: bool = False  # saved after the study was signed


@dataclass(frozen=True)
class Signoff:
    """One signature on one annotation version; ``addendum`` when it follows an earlier sign-off."""

    id: int
    study_id: int
    signed_by: str
    signed_at: str
    agreement: dict[str, bool]
    comment: str
    annotation_version: int
    #: present / absent / uncertain per finding (the ground-truth rule reads these first).
    verdicts: dict[str, str] = field(default_factory=dict)
    impression: str = ""
    diagnosis: str = ""
    addendum: bool = False


@dataclass(frozen=True)
class WorklistItem:
    """One row of the day's worklist (flat fields for rendering, plus the full records)."""

    study_id: int
    patient_id: str
    patient_name: str
    acquired: str
    uploaded_at: str
    view: str
    triage_level: str | None  # None: not analysed yet
    triage_reasons: tuple[str, ...]
    top_label: str | None
    top_probability: float | None
    signed: bool
    study: Study
    prediction: Prediction | None = field(default=None, compare=False)
    patient_sex: str = ""
    patient_birth_date: str = ""
    signed_by: str = ""


@dataclass(frozen=True)
class AuditEvent:
    id: int
    time: str
    actor: str
    action: str
    obj: str
    outcome: str
    detail: str


@dataclass(frozen=True)
class Snapshot:
    """A frozen copy of the reviewed labels a model was trained on."""

    id: str
    content_hash: str
    counts: dict
    path: str
    created_by: str
    created: str


@dataclass(frozen=True)
class ModelVersion:
    version: str
    path: str
    sha256: str
    snapshot_id: str | None
    metrics: dict
    status: str  # candidate / active / retired
    created: str
    created_by: str
    activated_at: str | None
