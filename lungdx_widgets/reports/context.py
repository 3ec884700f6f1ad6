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
from ..ground_truth import signoff_verdicts, truth_boxes
from ..imaging import load_image
from ..store.records import AnnotationSet, Patient, PatientRecord, Prediction, Signoff, Study
from ..types import Box, Radiograph, Triage
from .errors import ReportError

MODEL_CARD = "MODEL_CARD.md"


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
    #: Every sign-off, oldest first: the first is the report, later ones are addenda.
    signoffs: tuple[Signoff, ...] = ()
    #: The newest saved annotation version (newer than the signed one when edits were not signed yet).
    latest_version: int = 0

    @property
    def verdicts(self) -> dict[str, str]:
        """The signer's present/absent/uncertain per finding (newest sign-off)."""
        return signoff_verdicts(self.signoffs[-1] if self.signoffs else self.signoff, self.prediction)

    @property
    def unsigned_changes(self) -> bool:
        """Boxes were saved after the newest sign-off and nobody has signed them."""
        return self.signed and self.latest_version > self.annotations.version

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
        """The ground-truth boxes: kept by a person and not contradicted by the sign-off (one rule)."""
        return truth_boxes(self.verdicts, self.annotations.boxes)

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
    signoffs = tuple(store.signoffs(study.id))
    signoff = signoffs[0] if signoffs else None
    signer = store.get_user(signoff.signed_by) if signoff else None
    latest = store.annotations(study.id)
    shown = latest
    if signoffs:  # a signed study shows exactly the version its newest sign-off signed
        signed_version = signoffs[-1].annotation_version
        shown = next((a for a in store.annotation_history(study.id) if a.version == signed_version),
                     AnnotationSet(study_id=study.id, version=signed_version))
    return StudyContext(
        study=study,
        record=store.patient_record(study.patient_id, actor),
        prediction=store.latest_prediction(study.id),
        annotations=shown,
        signoff=signoff,
        image_path=path,
        signer_name=(signer.display_name or signoff.signed_by if signer else signoff.signed_by) if signoff else "",
        signoffs=signoffs,
        latest_version=latest.version,
    )


def model_card_uri() -> str:
    """Where the model card lives (``weights/MODEL_CARD.md``), as a URI a report can link to."""
    return (get_settings().weights / MODEL_CARD).resolve().as_uri()
