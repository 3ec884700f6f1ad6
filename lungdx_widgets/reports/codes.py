"""One table mapping model labels to standard codes, shared by the FHIR and DICOM SR exports.

Only codes we are sure of are SNOMED CT; every other label is coded in the workbench's own
scheme (``LUNGDX_SCHEME``) with the label as the code, so a receiver still sees the exact label.
"""

from __future__ import annotations

from dataclasses import dataclass

SNOMED_SYSTEM = "http://snomed.info/sct"
#: Private coding scheme (DICOM designators starting with "99" are private; FHIR gets a URN).
LUNGDX_SCHEME = "99LUNGDX"
LUNGDX_SYSTEM = "urn:lungdx:finding"

#: label → (SNOMED CT concept id, preferred term)
SNOMED_FINDINGS: dict[str, tuple[str, str]] = {
    "Pneumonia": ("233604007", "Pneumonia"),
    "Pneumothorax": ("36118008", "Pneumothorax"),
    "Effusion": ("60046008", "Pleural effusion"),
    "Tuberculosis": ("56717001", "Tuberculosis"),
    "Atelectasis": ("46621007", "Atelectasis"),
    "Cardiomegaly": ("8186001", "Cardiomegaly"),
    "Edema": ("19242006", "Pulmonary edema"),
    "Emphysema": ("87433001", "Pulmonary emphysema"),
    "COVID-19": ("840539006", "Disease caused by severe acute respiratory syndrome coronavirus 2"),
}

#: The study itself: SNOMED CT "Plain chest X-ray".
CHEST_XRAY = ("399208008", "Plain chest X-ray")


@dataclass(frozen=True)
class FindingCode:
    code: str
    scheme: str  # DICOM coding scheme designator
    system: str  # FHIR system URI
    meaning: str


def finding_code(label: str) -> FindingCode:
    """The code for a model label (SNOMED CT when known, else the private scheme)."""
    if label in SNOMED_FINDINGS:
        code, meaning = SNOMED_FINDINGS[label]
        return FindingCode(code, "SCT", SNOMED_SYSTEM, meaning)
    return FindingCode(label, LUNGDX_SCHEME, LUNGDX_SYSTEM, label)
