"""A stored study with real AI-style box proposals, shared by the viewer/editor tests and the browser test."""

from __future__ import annotations

import csv
from pathlib import Path

from lungdx_widgets.imaging import load_image
from lungdx_widgets.types import Box, Findings, LabelResult, Triage

#: A real TBX11K radiograph with two separate radiologist-drawn boxes in boxes.csv.
REVIEW_IMAGE = "tbx11k_tb0007.png"
REVIEW_CLASSES = ["Pneumonia", "Tuberculosis", "Effusion", "Nodule", "Mass"]
PATIENT = "MRN-2001"


def proposals(shared_data: Path, file: str = REVIEW_IMAGE) -> list[Box]:
    """The shared data's boxes for ``file``, presented as AI proposals with descending scores."""
    with open(shared_data / "boxes.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["file"] == file]
    return [Box(r["label"], float(r["x"]), float(r["y"]), float(r["w"]), float(r["h"]),
                score=round(0.9 - 0.3 * i, 2), source="ai", status="proposed") for i, r in enumerate(rows)]


def seed_review_study(store, shared_data: Path, actor: str = "system") -> int:
    """One patient, one real radiograph, one AI result proposing the shared boxes; returns the study id."""
    png = shared_data / "images" / REVIEW_IMAGE
    data = png.read_bytes()
    if store.search_patients(PATIENT, limit=1) == []:
        store.add_patient(PATIENT, "Iris Review", sex="F", birth_date="1961-03-14", actor=actor)
    study = store.add_study(PATIENT, load_image(data, filename=png.name), data, actor, filename=png.name)
    findings = Findings(results={c: LabelResult(c, 0.7 if c == "Tuberculosis" else 0.1, 0.5) for c in REVIEW_CLASSES},
                        boxes=proposals(shared_data), model_version="fixture-proposals")
    store.add_prediction(study.id, findings, Triage("urgent", ("Tuberculosis 0.70 ≥ 0.50",)), actor)
    return study.id
