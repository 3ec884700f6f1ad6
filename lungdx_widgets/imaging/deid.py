"""De-identification of DICOM data sets for export (`lungdx export --format dicom-deid`, research sets).

Follows the DICOM PS3.15 Annex E *Basic Application Confidentiality Profile* for the
attributes found in chest radiographs, with two standard options that keep the data useful
for research: *Retain Longitudinal Temporal Information with Modified Dates* (every date is
shifted by the same per-patient offset, so intervals and ages survive) and *Retain Patient
Characteristics* (sex, age, size, weight). Names and IDs become a keyed pseudonym, UIDs are
remapped with a keyed hash (same input UID → same output UID, so studies stay grouped),
private tags, overlays and curves are removed. Burned-in pixel text is *not* cleaned.

The key is ``Settings.deid_secret``; without one, a random key per process keeps a single
export run consistent but different runs unlinkable.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from pydicom import Dataset
from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue

from ..config import get_settings

#: Action per attribute keyword: X remove, Z empty, D replace by the patient pseudonym.
ACTIONS: dict[str, str] = {
    **dict.fromkeys((
        "AccessionNumber", "ContentCreatorName", "ReferringPhysicianName", "StudyID",
    ), "Z"),
    **dict.fromkeys(("PatientID", "PatientName"), "D"),
    **dict.fromkeys((
        "AcquisitionComments", "AcquisitionDeviceProcessingDescription", "AdditionalPatientHistory", "AdmissionID",
        "AdmittingDiagnosesDescription", "Allergies", "BranchOfService", "CassetteID", "ContrastAllergies",
        "CountryOfResidence", "CurrentPatientLocation", "DerivationDescription", "DetectorID",
        "DeviceSerialNumber", "EthnicGroup", "GantryID", "ImageComments", "InstitutionAddress",
        "InstitutionName", "InstitutionalDepartmentName", "IssuerOfAccessionNumberSequence",
        "IssuerOfAdmissionIDSequence", "IssuerOfPatientID", "MedicalAlerts", "MedicalRecordLocator", "MilitaryRank",
        "NameOfPhysiciansReadingStudy", "Occupation", "OperatorsName", "OtherPatientIDs",
        "OtherPatientIDsSequence", "OtherPatientNames", "PatientAddress", "PatientBirthName", "PatientBirthTime",
        "PatientComments", "PatientInsurancePlanCodeSequence", "PatientMotherBirthName",
        "PatientReligiousPreference", "PatientState", "PatientTelephoneNumbers", "PerformedLocation",
        "PerformedProcedureStepDescription", "PerformedProcedureStepID", "PerformedStationName",
        "PerformingPhysicianName", "PhysiciansOfRecord", "PlateID", "ProtocolName", "ReferencedPatientSequence",
        "ReferencedPerformedProcedureStepSequence", "ReferencedStudySequence", "ReferringPhysicianAddress",
        "ReferringPhysicianTelephoneNumbers", "RegionOfResidence", "RequestAttributesSequence",
        "RequestedProcedureDescription", "RequestedProcedureID", "RequestingPhysician", "RequestingService",
        "ScheduledProcedureStepDescription", "ScheduledProcedureStepID", "SeriesDescription", "SpecialNeeds",
        "StationName", "StudyDescription", "TextComments", "TimezoneOffsetFromUTC",
    ), "X"),
}
#: UIDs that name standard things (classes, syntaxes, coding schemes), not people or studies: kept.
STANDARD_UID_KEYWORDS = frozenset({
    "SOPClassUID", "ReferencedSOPClassUID", "MediaStorageSOPClassUID", "TransferSyntaxUID", "CodingSchemeUID",
    "ImplementationClassUID", "RelatedGeneralSOPClassUID", "OriginalSpecializedSOPClassUID",
    "ContextGroupExtensionCreatorUID", "PrivateInformationCreatorUID",
})
STANDARD_UID_ROOT = "1.2.840.10008."
#: Overlay (60xx) and curve (50xx) groups can hold drawn text: removed.
_GRAPHIC_GROUPS = ((0x5000, 0x50FF), (0x6000, 0x60FF))
_MAX_SHIFT_DAYS = 3650
#: PS3.16 CID 7050 codes for what was applied.
METHOD_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ("113108", "Retain Patient Characteristics Option"),
)
METHOD_TEXT = "PS3.15 Basic; Modified Dates; Patient Characteristics"  # LO: at most 64 chars


@dataclass(frozen=True)
class _Keys:
    """Per-patient replacements derived from the secret."""

    secret: bytes
    pseudonym: str
    shift: timedelta

    def uid(self, original: str) -> str:
        """A 2.25 (UUID-style, 128-bit) UID keyed on the original: same input, same output."""
        return "2.25." + str(int(_mac(self.secret, "uid", original)[:32], 16))


def deidentify(dataset: Dataset, secret: str | bytes | None = None) -> Dataset:
    """A de-identified copy of ``dataset`` (the input is not modified)."""
    ds = copy.deepcopy(dataset)
    keys = _keys_for(ds, _secret(secret))
    ds.remove_private_tags()
    _clean(ds, keys)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD_TEXT
    ds.DeidentificationMethodCodeSequence = [_code(value, meaning) for value, meaning in METHOD_CODES]
    ds.LongitudinalTemporalInformationModified = "MODIFIED"
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        for keyword in ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle",
                        "ReceivingApplicationEntityTitle"):
            if keyword in meta:
                delattr(meta, keyword)
        if "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def pseudonym_for(patient_id: str, secret: str | bytes | None = None) -> str:
    """The pseudonym :func:`deidentify` gives this PatientID (to link exported rows to files)."""
    return "ANON-" + _mac(_secret(secret), "patient", patient_id)[:12].upper()


def _keys_for(ds: Dataset, secret: bytes) -> _Keys:
    who = next((str(ds.get(k) or "").strip() for k in ("PatientID", "PatientName", "StudyInstanceUID")
                if str(ds.get(k) or "").strip()), "")
    days = int(_mac(secret, "shift", who)[:8], 16) % _MAX_SHIFT_DAYS + 1
    return _Keys(secret=secret, pseudonym=pseudonym_for(who, secret), shift=timedelta(days=-days))


def _clean(ds: Dataset, keys: _Keys) -> None:
    for elem in list(ds):
        if any(lo <= elem.tag.group <= hi for lo, hi in _GRAPHIC_GROUPS):
            del ds[elem.tag]
            continue
        action = ACTIONS.get(elem.keyword)
        if action == "X":
            del ds[elem.tag]
        elif action == "Z":
            elem.value = [] if elem.VR == "SQ" else ""
        elif action == "D":
            elem.value = keys.pseudonym
        elif elem.VR == "SQ":
            for item in elem.value:
                _clean(item, keys)
        elif elem.VR == "UI" and elem.keyword not in STANDARD_UID_KEYWORDS:
            _map_values(elem, lambda v: v if v.startswith(STANDARD_UID_ROOT) else keys.uid(v))
        elif elem.VR in ("DA", "DT"):
            _map_values(elem, lambda v: _shift(v, keys.shift))


def _map_values(elem: DataElement, fn) -> None:
    """Apply ``fn`` to each (string) value of a possibly multi-valued element; empty stays empty."""
    values = elem.value
    if values is None or values == "":
        return
    if isinstance(values, (list, MultiValue)):
        elem.value = [fn(str(v).strip()) for v in values]
    else:
        elem.value = fn(str(values).strip())


def _shift(value: str, shift: timedelta) -> str:
    """Shift the YYYYMMDD part of a DA/DT value; unparseable dates are emptied (never kept)."""
    try:
        shifted = date(int(value[:4]), int(value[4:6]), int(value[6:8])) + shift
    except (ValueError, OverflowError):
        return ""
    return shifted.strftime("%Y%m%d") + value[8:]


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item


def _mac(secret: bytes, purpose: str, text: str) -> str:
    return hmac.new(secret, f"{purpose}:{text}".encode(), hashlib.sha256).hexdigest()


def _secret(secret: str | bytes | None) -> bytes:
    if secret is None:
        secret = get_settings().deid_secret or _process_secret()
    return secret.encode() if isinstance(secret, str) else secret


@lru_cache(maxsize=1)
def _process_secret() -> bytes:
    return secrets.token_bytes(32)
