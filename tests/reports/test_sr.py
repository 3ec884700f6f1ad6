"""DICOM SR export: written to disk, re-read with pydicom (and highdicom's parser), ROIs and coordinates checked."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.uid import Comprehensive3DSRStorage, SecondaryCaptureImageStorage

from lungdx_widgets.reports.errors import ReportError
from lungdx_widgets.reports.export import write_sr
from lungdx_widgets.reports.sr import ALGORITHM_NAME, closed_polyline


def _text_items(ds: pydicom.Dataset) -> list[tuple[str, str]]:
    """(concept meaning, text value) of every TEXT item anywhere in the SR tree."""
    out = []
    for item in ds.get("ContentSequence", []):
        if item.ValueType == "TEXT":
            out.append((item.ConceptNameCodeSequence[0].CodeMeaning, item.TextValue))
        out += _text_items(item)
    return out


def _export(scenario, study_id: int, tmp_path: Path) -> tuple[pydicom.Dataset, list[Path]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    files = write_sr(scenario.context(study_id), tmp_path, "pytest")
    return pydicom.dcmread(files[0]), files


def test_png_study_sr_has_one_closed_polyline_per_reviewed_box(scenario, tmp_path):
    ctx = scenario.context(scenario.reviewed[0])
    sr, files = _export(scenario, ctx.study.id, tmp_path)
    assert sr.SOPClassUID == Comprehensive3DSRStorage
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    groups = hd.sr.srread(files[0]).content.get_planar_roi_measurement_groups()
    boxes = ctx.boxes
    assert len(boxes) == 2 and len(groups) == 2, "the rejected AI box is not reported"
    for group, box in zip(groups, boxes):
        assert group.roi.GraphicType == "POLYLINE"
        points = np.asarray(group.roi.GraphicData, dtype=float).reshape(-1, 2)
        expected = [[box.x, box.y], [box.x + box.w, box.y], [box.x + box.w, box.y + box.h],
                    [box.x, box.y + box.h], [box.x, box.y]]
        np.testing.assert_allclose(points, expected, atol=1e-3)
    assert [g.finding_type.CodeMeaning for g in groups] == ["Pneumonia", "Pleural effusion"]
    assert sr.VerificationFlag == "VERIFIED" and sr.CompletionFlag == "COMPLETE"


def test_algorithm_identification_for_ai_boxes(scenario, tmp_path):
    sr, _ = _export(scenario, scenario.reviewed[0], tmp_path)
    texts = _text_items(sr)
    assert ("Algorithm Name", ALGORITHM_NAME) in texts
    assert ("Algorithm Version", "test-model-1") in texts
    # one AI box (accepted) carries the algorithm; the clinician's own box does not
    assert sum(1 for name, _ in texts if name == "Algorithm Name") == 1


def test_png_study_gets_a_secondary_capture_source_that_the_sr_references(scenario, tmp_path):
    ctx = scenario.context(scenario.reviewed[0])
    sr, files = _export(scenario, ctx.study.id, tmp_path)
    assert len(files) == 2
    sc = pydicom.dcmread(files[1])
    assert sc.SOPClassUID == SecondaryCaptureImageStorage
    assert (sc.Rows, sc.Columns) == (ctx.study.height, ctx.study.width)
    np.testing.assert_allclose(sc.pixel_array / 255.0, ctx.pixels, atol=1 / 255 + 1e-6)
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == sc.SOPInstanceUID
    assert sr.StudyInstanceUID == sc.StudyInstanceUID == ctx.study.study_uid
    assert sr.PatientID == ctx.patient.patient_id
    # same study → same UIDs when exported again
    sr2, files2 = _export(scenario, ctx.study.id, tmp_path / "again")
    assert sr2.SOPInstanceUID == sr.SOPInstanceUID and pydicom.dcmread(files2[1]).SOPInstanceUID == sc.SOPInstanceUID


def test_dicom_study_references_its_own_file(scenario, tmp_path):
    study_id = next(i for i in scenario.dicom if i in scenario.reviewed)
    ctx = scenario.context(study_id)
    sr, files = _export(scenario, study_id, tmp_path)
    original = pydicom.dcmread(ctx.image_path, stop_before_pixels=True)
    assert len(files) == 1
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == original.SOPInstanceUID
    assert len(hd.sr.srread(files[0]).content.get_planar_roi_measurement_groups()) == len(ctx.boxes)


def test_unsigned_study_reports_ai_proposals_unverified(scenario, tmp_path):
    study_id = scenario.unsigned[0]
    ctx = scenario.context(study_id)
    sr, files = _export(scenario, study_id, tmp_path)
    assert sr.VerificationFlag == "UNVERIFIED" and sr.CompletionFlag == "PARTIAL"
    assert len(hd.sr.srread(files[0]).content.get_planar_roi_measurement_groups()) == len(ctx.prediction.boxes) == 2


def test_unanalysed_study_without_annotations_is_refused(scenario, tmp_path):
    with pytest.raises(ReportError, match="neither an analysis nor annotations"):
        write_sr(scenario.context(scenario.unanalysed[0]), tmp_path, "pytest")


def test_closed_polyline_clips_to_the_image_and_refuses_outside_boxes():
    pts = closed_polyline(-5, 10, 30, 500, rows=100, cols=200)
    np.testing.assert_allclose(pts, [[0, 10], [25, 10], [25, 100], [0, 100], [0, 10]])
    with pytest.raises(ReportError, match="outside the image"):
        closed_polyline(300, 10, 20, 20, rows=100, cols=200)


def test_every_analysed_demo_study_exports_and_rereads(scenario, tmp_path):
    for study_id in scenario.analysed:
        ctx = scenario.context(study_id)
        sr, files = _export(scenario, study_id, tmp_path / str(study_id))
        assert len(hd.sr.srread(files[0]).content.get_planar_roi_measurement_groups()) == len(ctx.boxes)
        assert len(files) == (1 if study_id in scenario.dicom else 2)
