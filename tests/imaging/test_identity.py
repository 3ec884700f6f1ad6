"""A DICOM's own PatientID is checked against the patient it is filed under."""

from __future__ import annotations

from lungdx_widgets.imaging import check_identity, load_image


def test_matching_id_passes_ignoring_padding_but_not_case(nema_j2k):
    rg = load_image(nema_j2k)
    assert check_identity(rg, "9RG1") is None
    assert check_identity(rg, " 9RG1 ") is None
    # store MRNs are case-sensitive: another case may be another patient
    assert check_identity(rg, "9rg1") is not None


def test_other_patient_gets_a_message_naming_both(nema_j2k):
    message = check_identity(load_image(nema_j2k), "MRN-0042")
    assert message is not None and "9RG1" in message and "MRN-0042" in message and "CompressedSamples" in message


def test_files_without_a_patient_id_cannot_mismatch(chest_png):
    assert check_identity(load_image(chest_png), "MRN-0042") is None
