"""De-identification of the shared DICOMs: nothing identifying survives, links and intervals do."""

from __future__ import annotations

from datetime import date

import numpy as np
import pydicom
import pytest

from lungdx_widgets.imaging import load_image
from lungdx_widgets.imaging.deid import deidentify, pseudonym_for

from .builders import dicom_bytes

SECRET = "test-secret"


def identifying_values(ds: pydicom.Dataset) -> set[str]:
    """Every name, ID, date, UID and free text in the original that must not reach an export."""
    found: set[str] = set()

    def collect(dataset: pydicom.Dataset, elem: pydicom.DataElement) -> None:
        identifying = elem.VR in ("PN", "DA", "DT", "UI") or elem.keyword in (
            "PatientID", "OtherPatientIDs", "InstitutionName", "InstitutionalDepartmentName", "StationName",
            "AccessionNumber", "StudyID", "DeviceSerialNumber", "ImageComments", "StudyDescription",
            "DerivationDescription", "SeriesDescription")
        values = elem.value if isinstance(elem.value, (list, pydicom.multival.MultiValue)) else [elem.value]
        for value in values if identifying else []:
            text = str(value).strip()
            if len(text) >= 4 and not text.startswith("1.2.840.10008."):
                found.add(text)

    ds.walk(collect)
    return found


@pytest.mark.parametrize("name", ["siim", "nih", "nema_j2k"])
def test_no_identifying_value_survives(name, request):
    original = pydicom.dcmread(request.getfixturevalue(name))
    exported = dicom_bytes(deidentify(original, SECRET))
    leaks = {v for v in identifying_values(original) if v.encode() in exported}
    assert identifying_values(original) and leaks == set()


def test_profile_attributes_are_set_and_private_tags_removed(nema_j2k):
    ds = pydicom.dcmread(nema_j2k)
    ds.add_new(0x00091010, "LO", "ACME private patient note")
    ds.private_block(0x0011, "ACME", create=True).add_new(0x01, "LO", "secret")
    out = deidentify(ds, SECRET)
    assert out.PatientIdentityRemoved == "YES"
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    assert [c.CodeValue for c in out.DeidentificationMethodCodeSequence] == ["113100", "113107", "113108"]
    assert not any(elem.tag.is_private for elem in out.iterall())
    assert "OtherPatientIDs" not in out and "InstitutionName" not in out and out.AccessionNumber == ""
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert "SourceApplicationEntityTitle" not in out.file_meta
    assert ds.PatientID == "9RG1"  # the input is not modified


def test_dates_shift_by_one_offset_per_patient_keeping_intervals(nema_j2k):
    ds = pydicom.dcmread(nema_j2k)
    out = deidentify(ds, SECRET)

    def day(value: str) -> date:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))

    shifts = {(day(out[k].value) - day(ds[k].value)).days for k in
              ("StudyDate", "SeriesDate", "ContentDate", "InstanceCreationDate", "PatientBirthDate")}
    assert len(shifts) == 1 and shifts.pop() != 0
    assert out.StudyTime == ds.StudyTime and out.PatientSex == "F"


def test_same_patient_same_pseudonym_shift_and_uids(siim, siim_mono1, nih):
    a, b = (deidentify(pydicom.dcmread(p), SECRET) for p in (siim, siim_mono1))
    assert a.PatientID == b.PatientID == pseudonym_for("16d7f894-55d7-4d95-8957-d18987f0e981", SECRET)
    assert a.PatientName == a.PatientID and a.StudyDate == b.StudyDate
    assert a.StudyInstanceUID == b.StudyInstanceUID and a.StudyInstanceUID.startswith("2.25.")
    other = deidentify(pydicom.dcmread(nih), SECRET)
    assert other.PatientID != a.PatientID and other.StudyInstanceUID != a.StudyInstanceUID
    assert deidentify(pydicom.dcmread(siim), "another secret").PatientID != a.PatientID


@pytest.mark.parametrize("name", ["siim", "nih", "nema_j2k"])
def test_deidentified_file_still_loads_with_identical_pixels(name, request):
    path = request.getfixturevalue(name)
    before, after = load_image(path), load_image(dicom_bytes(deidentify(pydicom.dcmread(path), SECRET)))
    np.testing.assert_array_equal(after.pixels, before.pixels)
    assert after.patient_id.startswith("ANON-") and after.patient_sex == before.patient_sex
