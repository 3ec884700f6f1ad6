"""Everything a report or export needs about one study, read from the store in one go.

The renderers (html, fhir, sr, research) take a :class:`StudyContext` and never touch the
database, so each one is a pure function of plain records and is tested on real demo studies.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..config import get_settings
from ..imaging import load_image
from ..store.records import AnnotationSet, Patient, PatientRecord, Prediction, Signoff, Study
from ..types import Box, Radiograph, Triage
from .errors import ReportError

MODEL_CARD = "MODEL_CARD.md"
#: Box statuses a clinician has kept (research export and final reports use only these).
REVIEWED_STATUSES = frozenset({"accepted", "edited"})


@dataclass(frozen=True)
class StudyContext:
    """One study with its patient, latest analysis, reviewed boxes and sign-off."""

    study: Study
    record: PatientRecord
    prediction: Prediction | None
    annotations: AnnotationSet
    signoff: Signoff | None
    image_path: Path
    signer_name: str = ""  # the signing clinician's display name (username when unknown)

    @property
    def patient(self) -> Patient:
        return self.record.patient

    @property
    def signed(self) -> bool:
        return self.signoff is not None

    @property
    def triage(self) -> Triage | None:
        """The level that counts (clinician override first) with its reasons."""
        p = self.prediction
        if p is None:
            return None
        ai = Triage(p.triage_level, p.triage_reasons)  # type: ignore[arg-type]
        if p.override_level:
            return Triage(p.override_level, (f"clinician override by {p.override_by}: {p.override_reason}",  # type: ignore[arg-type]
                                             f"AI triage was {ai.explanation}"))
        return ai

    @property
    def boxes(self) -> tuple[Box, ...]:
        """Saved annotations (minus rejected) when a clinician saved any, else the model's proposals."""
        if self.annotations.version > 0:
            return tuple(b for b in self.annotations.boxes if b.status != "rejected")
        return self.prediction.boxes if self.prediction else ()

    @property
    def reviewed_boxes(self) -> tuple[Box, ...]:
        """Only boxes a clinician accepted or drew (for research data)."""
        return tuple(b for b in self.annotations.boxes
                     if b.status in REVIEWED_STATUSES or (b.source == "human" and b.status != "rejected"))

    @cached_property
    def radiograph(self) -> Radiograph:
        return load_image(self.image_path)

    @property
    def pixels(self) -> np.ndarray:
        return self.radiograph.pixels


def split_name(name: str) -> tuple[str, str]:
    """(family, given) from "Family, Given" or "Given Family" (how the store keeps names)."""
    if "," in name:
        family, _, given = name.partition(",")
    else:
        *first, family = name.split() or [""]
        given = " ".join(first)
    return family.strip(), " ".join(given.split())


def study_context(store, study_id: int, actor: str) -> StudyContext:
    """Gather one study; raises :class:`ReportError` when it does not exist or its image is gone."""
    from ..store.errors import NotFound

    try:
        study = store.get_study(int(study_id))
    except NotFound as exc:
        raise ReportError(f"Study {study_id} does not exist.") from exc
    path = Path(store.study_image_path(study))
    if not path.is_file():
        raise ReportError(f"The image of study {study_id} is missing from the image store ({path}).")
    signoff = store.signoff(study.id)
    signer = store.get_user(signoff.signed_by) if signoff else None
    return StudyContext(
        study=study,
        record=store.patient_record(study.patient_id, actor),
        prediction=store.latest_prediction(study.id),
        annotations=store.annotations(study.id),
        signoff=signoff,
        image_path=path,
        signer_name=(signer.display_name if signer else signoff.signed_by) if signoff else "",
    )


def model_card_uri() -> str:
    """Where the model card lives (``weights/MODEL_CARD.md``), as a URI a report can link to."""
    return (get_settings().weights / MODEL_CARD).resolve().as_uri()
