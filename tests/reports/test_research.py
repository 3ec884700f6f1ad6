"""De-identified research export: trainer-readable CSVs + PNGs + COCO, and no demo identifier anywhere."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from lungdx_widgets.imaging.deid import pseudonym_for
from lungdx_widgets.model.data import prepare, read_grayscale, read_records
from lungdx_widgets.reports.export import export_studies
from lungdx_widgets.reports.research import confirmed_labels
from lungdx_widgets.store import open_store


@pytest.fixture(scope="module")
def export(scenario, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("research")
    with open_store(scenario.db) as store:
        result = export_studies(store, "coco", out, "pytest")
    left_out = len(scenario.analysed) + len(scenario.unanalysed) - len(scenario.reviewed)
    patients = len({scenario.context(i).patient.patient_id for i in scenario.reviewed})
    assert str(result).startswith(f"{len(scenario.reviewed)} images of {patients} patients with "
                                  f"{2 * len(scenario.reviewed)} boxes")
    assert f"({left_out} studies left out: unsigned or without clinician labels)" in str(result)
    return out


def _header(path: Path) -> list[str]:
    with open(path, newline="") as fh:
        return next(csv.reader(fh))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_headers_are_the_shared_ones(export, shared_data):
    assert _header(export / "labels.csv") == _header(shared_data / "labels.csv")
    assert _header(export / "boxes.csv") == _header(shared_data / "boxes.csv")


def test_only_signed_studies_with_clinician_labels(export, scenario):
    assert scenario.history, "past studies the demo signed without verdicts or boxes are left out"
    rows = _rows(export / "labels.csv")
    assert len(rows) == len(scenario.reviewed)
    for row in rows:
        # agreed Pneumonia positive; disagreed with Atelectasis (positive → 0) and Effusion (negative → 1)
        assert (row["y_Pneumonia"], row["y_Atelectasis"], row["y_Effusion"]) == ("1", "0", "1")
        assert row["findings"] == "Pneumonia|Effusion"
        assert row["y_Nodule"] == "" and row["y_No Finding"] == "0", "unreviewed labels stay unknown"
        assert row["patient_id"].startswith("ANON-")


def test_boxes_are_the_reviewed_ones_in_png_pixels(export, scenario):
    boxes = _rows(export / "boxes.csv")
    assert len(boxes) == 2 * len(scenario.reviewed), "accepted + clinician-drawn; rejected left out"
    assert {b["label"] for b in boxes} == {"Pneumonia", "Effusion"}
    for b in boxes:
        with Image.open(export / "images" / b["file"]) as im:
            w, h = im.size
        assert 0 <= float(b["x"]) and float(b["x"]) + float(b["w"]) <= w + 0.01
        assert 0 <= float(b["y"]) and float(b["y"]) + float(b["h"]) <= h + 0.01


def test_pngs_are_the_study_pixels(export, scenario):
    studies = [scenario.context(i).pixels for i in scenario.reviewed]
    for row in _rows(export / "labels.csv"):
        png = read_grayscale(export / "images" / row["file"])
        assert (row["height"], row["width"]) == tuple(str(n) for n in png.shape)
        assert any(p.shape == png.shape and np.allclose(p, png, atol=1 / 255 + 1e-6) for p in studies)


def test_trainer_reads_the_export_without_edits(export, scenario):
    records = read_records(export / "labels.csv", export / "boxes.csv")
    assert len(records) == len(scenario.reviewed)
    assert all(r.target("Pneumonia") == 1.0 and r.target("Nodule") is None for r in records)
    assert sum(len(r.boxes) for r in records) == 2 * len(records)
    prepared = prepare(records, export / "images", ("Pneumonia", "Effusion"), size=64)
    assert len(prepared.images) == len(records)


def test_coco_json_matches_the_csvs(export):
    coco = json.loads((export / "annotations.coco.json").read_text())
    boxes = _rows(export / "boxes.csv")
    files = {img["id"]: img["file_name"] for img in coco["images"]}
    cats = {c["id"]: c["name"] for c in coco["categories"]}
    assert len(coco["annotations"]) == len(boxes)
    got = sorted((files[a["image_id"]], cats[a["category_id"]], *a["bbox"]) for a in coco["annotations"])
    want = sorted((b["file"], b["label"], float(b["x"]), float(b["y"]), float(b["w"]), float(b["h"])) for b in boxes)
    assert got == want
    assert all((export / "images" / f).is_file() for f in files.values())


def test_exports_are_audited(export, scenario):
    with open_store(scenario.db) as store:
        events = store.audit_events(limit=1000, action="export_research")
    assert sorted(int(e.obj.split(":")[1]) for e in events) == sorted(scenario.reviewed)


def _identifiers(scenario, shared_data: Path) -> set[str]:
    """Every direct identifier of every demo patient and study, as stored or as carried in its files."""
    found: set[str] = set()
    with open_store(scenario.db) as store:
        for p in store.search_patients("", limit=1000):
            found |= {p.patient_id, p.name, *p.name.split(), p.birth_date, p.birth_date.replace("-", "")}
            if p.contact:
                found |= {p.contact, p.contact.split(" (")[0]}
            for s in store.studies_for_patient(p.patient_id):
                found |= {s.study_uid, s.filename, Path(s.filename).stem, s.sha256, s.acquired[:10]}
                if s.source_format == "dicom":
                    ds = pydicom.dcmread(store.study_image_path(s), stop_before_pixels=True)
                    found |= {str(ds.get(k)) for k in ("PatientID", "PatientName", "StudyInstanceUID",
                                                       "SOPInstanceUID", "AccessionNumber") if ds.get(k)}
    source_ids = {r["patient_id"] for r in _rows(shared_data / "labels.csv")
                  if Path(r["file"]).stem in found}
    return {i for i in found | source_ids if i and len(i) >= 4}


def test_no_direct_identifier_anywhere_in_the_export(export, scenario, shared_data):
    identifiers = _identifiers(scenario, shared_data)
    assert len(identifiers) > 40
    files = [p for p in export.rglob("*") if p.is_file()]
    assert len(files) == len(scenario.reviewed) + 4  # images + labels, boxes, coco, README
    for path in files:
        blob = path.read_bytes().lower()
        hits = [i for i in identifiers if i.lower().encode() in blob]
        assert not hits, f"{path.name} contains {hits}"
        assert not any(i.lower() in path.name.lower() for i in identifiers)


def test_confirmed_labels_follow_agreement(scenario):
    ctx = scenario.context(scenario.reviewed[0])
    assert confirmed_labels(ctx) == {"Pneumonia": 1, "Atelectasis": 0, "Effusion": 1}
    unsigned = scenario.context(scenario.unsigned[0])
    assert confirmed_labels(unsigned) == {}


def test_pseudonyms_group_a_patients_images(export, scenario):
    rows = _rows(export / "labels.csv")
    patients = {scenario.context(i).patient.patient_id for i in scenario.reviewed}
    assert {r["patient_id"] for r in rows} == {pseudonym_for(p) for p in patients}
