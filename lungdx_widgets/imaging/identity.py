"""DICOM header → patient: never attach a study to the wrong patient silently."""

from __future__ import annotations

from ..types import Radiograph


def check_identity(radiograph: Radiograph, patient_id: str, selected_name: str | None = None) -> str | None:
    """A message when the file's own PatientID names someone other than ``patient_id``, else None.

    Files without a PatientID (PNG/JPEG, de-identified DICOM) cannot contradict the selection.
    IDs are compared exactly after trimming DICOM's space padding: the store's MRNs are
    case-sensitive (``mrn-1`` and ``MRN-1`` can be two patients), so case is not ignored.
    """
    in_file = (radiograph.patient_id or "").strip()
    selected = (patient_id or "").strip()
    if not in_file or in_file == selected:
        return None
    name = f" ({radiograph.patient_name})" if radiograph.patient_name else ""
    who = f"{selected_name} ({selected})" if selected_name else f"'{selected}'"
    return (f"This DICOM belongs to patient ID '{in_file}'{name}, but patient {who} is selected. "
            "Check the patient, or confirm explicitly that the image belongs to the selected patient.")
