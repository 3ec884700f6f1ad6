"""A real demo database (real shared PNGs and DICOMs) with stored results, annotations and sign-offs.

The AI results are written as the model would write them (Findings → triage.assess →
add_prediction) but with fixed numbers, so these tests do not depend on model weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from lungdx_widgets.model.weights import LABELS
from lungdx_widgets.reports.context import StudyContext, study_context
from lungdx_widgets.reports.export import all_study_ids
from lungdx_widgets.store import open_store
from lungdx_widgets.store.demo import DEMO_USERS, create_demo_database
from lungdx_widgets.triage import assess
from lungdx_widgets.types import Box, Findings, LabelResult

CLINICIAN = DEMO_USERS["clinician"]
MODEL_VERSION = "test-model-1"
NOT_ASSESSED = ("Hernia", "Fibrosis")


@dataclass(frozen=True)
class Scenario:
    db: Path
    analysed: tuple[int, ...]
    unanalysed: tuple[int, ...]
    reviewed: tuple[int, ...]  # signed here with per-finding verdicts and reviewed boxes
    history: tuple[int, ...]   # signed by the demo set-up as past reports (no verdicts, no boxes)
    unsigned: tuple[int, ...]  # analysed, never signed
    dicom: tuple[int, ...]

    def context(self, study_id: int) -> StudyContext:
        with open_store(self.db) as store:
            return study_context(store, study_id, "pytest")


def demo_findings(study_id: int, width: int, height: int) -> Findings:
    """Pneumonia positive with one AI box, Effusion negative, two labels not assessed."""
    probs = {label: 0.1 for label in LABELS}
    probs.update({"Pneumonia": 0.6 + 0.03 * (study_id % 5), "Atelectasis": 0.55})
    results = {label: LabelResult(label, None if label in NOT_ASSESSED else p, None if label in NOT_ASSESSED else 0.5)
               for label, p in probs.items()}
    boxes = [Box("Pneumonia", width * 0.2, height * 0.3, width * 0.25, height * 0.3, score=0.7),
             Box("Atelectasis", width * 0.6, height * 0.55, width * 0.2, height * 0.2, score=0.5)]
    return Findings(results=results, boxes=boxes, model_version=MODEL_VERSION)


def reviewed_boxes(ai: tuple[Box, ...], width: int, height: int) -> list[Box]:
    """Clinician review: first AI box accepted, second rejected, one box drawn, one AI box edited."""
    first, second = ai
    return [
        Box(first.label, first.x, first.y, first.w, first.h, first.score, "ai", "accepted"),
        Box(second.label, second.x, second.y, second.w, second.h, second.score, "ai", "rejected"),
        Box("Effusion", width * 0.55, height * 0.7, width * 0.3, height * 0.2, None, "human", "edited"),
    ]


#: One more fictional patient whose films are all taken today, so this test decides who signs what.
EXTRA_PATIENT = ("TEST-REPORTS-1", "Ida Reportwell", "F", "1950-02-03", "+00 555 9911 (fictional)")
EXTRA_IMAGES = ("tbx11k_tb0007.png", "nihtalo_00010120_010.png", "nihtalo_00000310_001.png")


def _add_extra_patient(store, shared: Path) -> list[int]:
    from lungdx_widgets.imaging import load_image

    mrn, name, sex, birth, contact = EXTRA_PATIENT
    store.add_patient(mrn, name, "pytest", sex=sex, birth_date=birth, contact=contact)
    store.add_condition(mrn, "pytest", "COPD", since="2010-01-01")
    ids = []
    for n, file in enumerate(EXTRA_IMAGES):
        data = (shared / "images" / file).read_bytes()
        acquired = f"{date.today().isoformat()}T0{7 + n}:00:00+00:00"
        ids.append(store.add_study(mrn, load_image(data, filename=file), data, "pytest", filename=file,
                                   acquired=acquired).id)
    return ids


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Scenario:
    db = tmp_path_factory.mktemp("reports") / "demo.db"
    create_demo_database(db, n_patients=4, analyze=False, report_history=False)  # history: signed, no labels
    with open_store(db) as store:
        extra = _add_extra_patient(store, shared_data)
        ids = all_study_ids(store)
        studies = {i: store.get_study(i) for i in ids}
        history = tuple(i for i in ids if store.first_signoff(i) is not None)
        open_ids = [i for i in ids if i not in history]
        unanalysed = (extra[2],)
        dicom = tuple(i for i in ids if studies[i].source_format == "dicom")
        open_demo_pngs = [i for i in open_ids if i not in extra and i not in dicom]
        reviewed = (extra[0], *open_demo_pngs[:1], *[i for i in dicom if i in open_ids][-1:])
        for study in studies.values():
            if study.id in unanalysed:
                continue
            findings = demo_findings(study.id, study.width, study.height)
            record = store.patient_record(study.patient_id, "pytest")
            pred = store.add_prediction(study.id, findings, assess(findings, record), "pytest")
            if study.id in reviewed:
                store.save_annotations(study.id, reviewed_boxes(pred.boxes, study.width, study.height), 0, CLINICIAN)
                store.sign_study(study.id, CLINICIAN, {"Pneumonia": True, "Atelectasis": False, "Effusion": False},
                                 comment="Right lower lobe pneumonia.")
    unsigned = tuple(i for i in open_ids if i not in reviewed and i not in unanalysed)
    assert len(reviewed) == 3 and unsigned and history, "the demo no longer has the mix these tests need"
    return Scenario(db, tuple(i for i in ids if i not in unanalysed), unanalysed, reviewed, history, unsigned,
                    dicom)
