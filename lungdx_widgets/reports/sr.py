"""DICOM Comprehensive 3D SR (TID 1500 measurement report) of a study's boxes, via highdicom.

One planar ROI group per box: the rectangle as a closed POLYLINE (SCOORD has no rectangle type;
five points, the first repeated last), its finding type (SNOMED CT where known) and, for boxes
the model proposed, the algorithm identification (name + model version).

The SR must reference a DICOM source image. A study uploaded as DICOM references its own file.
A PNG/JPEG study has none, so :func:`source_image` builds a minimal Secondary Capture image from
the same pixels with deterministic UIDs (same study → same UIDs), and the export writes it next
to the SR so the reference resolves.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from .codes import CHEST_XRAY, finding_code
from .context import StudyContext, split_name
from .errors import ReportError

ALGORITHM_NAME = "LungDx chest X-ray model"
MANUFACTURER = "LungDx Workbench"
ORGANIZATION = "LungDx Workbench (research use only)"


@dataclass(frozen=True)
class SRExport:
    """The SR and, for non-DICOM studies, the Secondary Capture it references."""

    sr: Dataset
    source: Dataset
    source_is_generated: bool


def _uid(ctx: StudyContext, purpose: str) -> str:
    """Deterministic UID per study and purpose (re-exporting the same study yields the same UIDs)."""
    return generate_uid(entropy_srcs=[ctx.study.study_uid, ctx.study.sha256, purpose])


def _dicom_date(value: str) -> str | None:
    digits = (value or "")[:10].replace("-", "")
    return digits if len(digits) == 8 and digits.isdigit() else None


def _secondary_capture(ctx: StudyContext) -> Dataset:
    pixels = np.clip(np.rint(ctx.pixels * 255.0), 0, 255).astype(np.uint8)
    patient = ctx.patient
    return hd.sc.SCImage(
        pixel_array=pixels, photometric_interpretation="MONOCHROME2", bits_allocated=8,
        coordinate_system="PATIENT", patient_orientation=("L", "F"),
        study_instance_uid=ctx.study.study_uid, series_instance_uid=_uid(ctx, "sc-series"), series_number=90,
        sop_instance_uid=_uid(ctx, "sc-instance"), instance_number=1, manufacturer=MANUFACTURER,
        patient_id=patient.patient_id, patient_name=_person_name(patient.name),
        patient_birth_date=_dicom_date(patient.birth_date),
        patient_sex=_dicom_sex(patient.sex),
        study_date=_dicom_date(ctx.study.acquired), accession_number=None,
        series_description="Secondary capture of the uploaded image (LungDx)",
    )


def _person_name(name: str) -> str:
    """DICOM PN "Family^Given" (a single name keeps its caret: "admin^")."""
    return "^".join(split_name(name))


def _dicom_sex(sex: str) -> str:
    first = (sex or "").strip().upper()[:1]
    return first if first in ("M", "F") else "O"


#: Type 2 patient/study attributes the SR copies from its source; real files sometimes lack them.
_COPIED_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                 "ReferringPhysicianName", "StudyID", "AccessionNumber")


def source_image(ctx: StudyContext) -> tuple[Dataset, bool]:
    """(the DICOM the SR references, whether it was generated)."""
    if ctx.study.source_format == "dicom":
        ds = pydicom.dcmread(ctx.image_path)
        for keyword in _COPIED_TYPE2:
            if keyword not in ds:
                setattr(ds, keyword, "")  # present but empty, as Type 2 allows
        return ds, False
    return _secondary_capture(ctx), True


def closed_polyline(x: float, y: float, w: float, h: float, rows: int, cols: int) -> np.ndarray:
    """Rectangle (clipped to the image) as five (column, row) points, first == last."""
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(cols), x + w), min(float(rows), y + h)
    if x1 <= x0 or y1 <= y0:
        raise ReportError(f"A box ({x:.0f}, {y:.0f}, {w:.0f}×{h:.0f}) lies outside the image.")
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], dtype=np.float64)


def _roi_groups(ctx: StudyContext, source: Dataset, version: str) -> list:
    """One TID 1410 planar ROI group per box; AI boxes name the algorithm that proposed them."""
    rows, cols = int(source.Rows), int(source.Columns)
    region_source = hd.sr.SourceImageForRegion.from_source_image(source)
    algorithm = hd.sr.AlgorithmIdentification(name=ALGORITHM_NAME, version=version)
    groups = []
    for n, box in enumerate(ctx.boxes, start=1):
        code = finding_code(box.label)
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=_uid(ctx, f"roi-{n}"), identifier=f"ROI {n}: {box.label}"),
            referenced_region=hd.sr.ImageRegion(
                graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                graphic_data=closed_polyline(box.x, box.y, box.w, box.h, rows, cols),
                source_image=region_source),
            finding_type=Code(code.code[:16], code.scheme, code.meaning),
            algorithm_id=algorithm if box.source == "ai" else None,
        ))
    return groups


def _observation_context(ctx: StudyContext, version: str, signer: str | None) -> hd.sr.ObservationContext:
    """The model as device observer; the signing clinician as person observer once signed."""
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=_uid(ctx, f"device-{version}"), name=ALGORITHM_NAME, model_name=version,
            manufacturer_name=MANUFACTURER))
    person = None if signer is None else hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=signer))
    return hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device)


def build_sr(ctx: StudyContext) -> SRExport:
    """The TID 1500 report for the study's boxes (reviewed ones when saved, else the model's)."""
    if ctx.prediction is None and ctx.annotations.version == 0:
        raise ReportError(f"Study {ctx.study.id} has neither an analysis nor annotations to put in an SR.")
    source, generated = source_image(ctx)
    version = (ctx.prediction.model_version if ctx.prediction else "") or "unknown"
    signer = _person_name(ctx.signer_name or ctx.signoff.signed_by) if ctx.signoff else None
    groups = _roi_groups(ctx, source, version)
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(ctx, version, signer),
        procedure_reported=Code(CHEST_XRAY[0], "SCT", CHEST_XRAY[1]),
        imaging_measurements=groups or None, referenced_images=None if groups else [source])
    with warnings.catch_warnings():  # highdicom re-checks the source file's PatientName, which is not ours to fix
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name")
        sr = _comprehensive_sr(ctx, source, report, signer)
    return SRExport(sr, source, generated)


def _comprehensive_sr(ctx: StudyContext, source: Dataset, report: hd.sr.MeasurementReport,
                      signer: str | None) -> hd.sr.Comprehensive3DSR:
    signed = signer is not None
    return hd.sr.Comprehensive3DSR(
        evidence=[source], content=report, series_instance_uid=_uid(ctx, "sr-series"), series_number=91,
        sop_instance_uid=_uid(ctx, f"sr-{ctx.annotations.version}-{signed}"), instance_number=1,
        manufacturer=MANUFACTURER, is_complete=signed, is_final=signed, is_verified=signed,
        verifying_observer_name=signer, verifying_organization=ORGANIZATION if signed else None,
        series_description="LungDx AI findings (research use only)",
    )
