"""``lungdx export --format dicom-deid``: the stored DICOM of each study, de-identified for a research set."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from lungdx_widgets.imaging import load_image
from lungdx_widgets.imaging.deid import pseudonym_for
from lungdx_widgets.reports.errors import ReportError
from lungdx_widgets.reports.export import export_studies
from lungdx_widgets.store import open_store


def test_dicom_studies_export_de_identified_with_their_pixels(scenario, tmp_path):
    assert scenario.dicom, "the scenario has DICOM studies"
    with open_store(scenario.db) as store:
        result = export_studies(store, "dicom-deid", tmp_path, "pytest", study_ids=list(scenario.dicom))
        originals = [store.study_image_path(store.get_study(i)) for i in scenario.dicom]
        audited = {e.obj for e in store.audit_events(actor="pytest", action="export_dicom-deid")}
    assert len(result.files) == len(scenario.dicom) and result.studies == len(scenario.dicom)
    assert audited == {f"study:{i}" for i in scenario.dicom}
    for original_path, exported_path in zip(originals, result.files):
        original, exported = pydicom.dcmread(original_path), pydicom.dcmread(exported_path)
        assert exported.PatientID == pseudonym_for(str(original.PatientID)) != original.PatientID
        assert str(original.PatientName) and str(original.PatientName) not in exported_path.read_bytes().decode("latin-1")
        assert exported.SOPInstanceUID != original.SOPInstanceUID and exported_path.stem == exported.SOPInstanceUID
        assert np.array_equal(load_image(original_path).pixels, load_image(exported_path).pixels), "pixels untouched"


def test_a_study_filed_from_png_is_refused_by_name(scenario, tmp_path):
    png_study = next(i for i in scenario.analysed if i not in scenario.dicom)
    with open_store(scenario.db) as store, pytest.raises(ReportError, match="not DICOM"):
        export_studies(store, "dicom-deid", tmp_path, "pytest", study_ids=[png_study])
    assert not list(tmp_path.iterdir()), "nothing written"
