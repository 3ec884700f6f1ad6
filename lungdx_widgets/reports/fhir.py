"""FHIR R4 DiagnosticReport for one study, as a ``collection`` Bundle of plain JSON dicts.

The Bundle holds the Patient, the ImagingStudy, the model as a Device (name + version), one
Observation per finding (probability as a unitless Quantity, positive/negative against the
operating threshold, "not assessed" as a dataAbsentReason) and the DiagnosticReport that ties
them together. ``status`` is ``preliminary`` until a clinician signs the study and ``final`` after.

Checked against the FHIR R4 structure with ``fhir.resources``' R4B models (its default package
is R5; R4B changed nothing in the resources used here), see :func:`validate`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from ..display import RESEARCH_NOTICE
from ..store.records import Patient
from .codes import CHEST_XRAY, SNOMED_SYSTEM, finding_code
from .context import StudyContext, split_name
from .errors import ReportError

FHIR_VERSION = "4.0.1"
STUDY_ID_SYSTEM = "urn:lungdx:study"
MRN_SYSTEM = "urn:lungdx:mrn"
UCUM = "http://unitsofmeasure.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"
#: Demo patients are fictional, so the namespace only has to be stable, not registered.
_NAMESPACE = uuid.UUID("6f1c3f4e-1a8e-4b7a-9d4a-3c2f1e0d9b8a")


def _urn(*parts: object) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, '/'.join(map(str, parts)))}"


def _instant(value: str) -> str:
    """FHIR ``instant`` needs seconds and a zone; stored values are ISO with offset or plain dates."""
    try:
        dt = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        dt = datetime.now(timezone.utc)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.isoformat(timespec="seconds")


def _gender(sex: str) -> str:
    return {"M": "male", "F": "female", "O": "other"}.get((sex or "").strip().upper()[:1], "unknown")


def human_name(name: str) -> dict[str, Any]:
    """FHIR HumanName; the text is kept exactly as written."""
    family, given = split_name(name)
    out: dict[str, Any] = {"text": name, "family": family}
    if given:
        out["given"] = given.split()
    return out


def patient_resource(patient: Patient) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": MRN_SYSTEM, "value": patient.patient_id}],
        "name": [human_name(patient.name)],
        "gender": _gender(patient.sex),
    }
    if patient.birth_date:
        res["birthDate"] = patient.birth_date[:10]
    return res


def _observation(ctx: StudyContext, label: str, probability: float | None, threshold: float | None,
                 status: str, refs: dict[str, str]) -> dict[str, Any]:
    code = finding_code(label)
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": status,
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "imaging", "display": "Imaging"}]}],
        "code": {"coding": [{"system": code.system, "code": code.code, "display": code.meaning}],
                 "text": f"AI probability of {label}"},
        "subject": {"reference": refs["patient"]},
        "effectiveDateTime": _instant(ctx.study.acquired or ctx.study.uploaded_at),
        "device": {"reference": refs["device"]},
        "derivedFrom": [{"reference": refs["study"]}],
    }
    if probability is None:
        obs["dataAbsentReason"] = {"coding": [{"system": ABSENT, "code": "not-performed",
                                               "display": "Not Performed"}],
                                   "text": "not assessed: the model was not trained on this finding"}
        return obs
    obs["valueQuantity"] = {"value": round(float(probability), 4), "unit": "probability",
                            "system": UCUM, "code": "1"}
    if threshold is not None:
        positive = probability >= threshold
        obs["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": "POS" if positive else "NEG",
                                              "display": "Positive" if positive else "Negative"}]}]
        obs["component"] = [{"code": {"text": "operating threshold"},
                             "valueQuantity": {"value": float(threshold), "unit": "probability",
                                               "system": UCUM, "code": "1"}}]
    if ctx.signoff and label in ctx.signoff.agreement:
        verdict = "agreed" if ctx.signoff.agreement[label] else "disagreed"
        obs["note"] = [{"text": f"{ctx.signoff.signed_by} {verdict} with this finding"}]
    return obs


def conclusion(ctx: StudyContext) -> str:
    """One paragraph: triage with its reasons, then the clinician's sign-off or "not yet signed"."""
    triage = ctx.triage
    parts = [f"AI triage {triage.explanation}." if triage else "Not analysed."]
    if ctx.signoff:
        s = ctx.signoff
        comment = f": {s.comment.strip().rstrip('.')}." if s.comment.strip() else "."
        parts.append(f"Signed by {s.signed_by} at {s.signed_at}{comment}")
    else:
        parts.append("Preliminary: not yet reviewed by a clinician.")
    parts.append(RESEARCH_NOTICE)  # exports are in English (msgid)
    return " ".join(parts)


def diagnostic_report_bundle(ctx: StudyContext) -> dict[str, Any]:
    """The Bundle for ``ctx`` (raises :class:`ReportError` when the study was never analysed)."""
    if ctx.prediction is None:
        raise ReportError(f"Study {ctx.study.id} has not been analysed yet; there is nothing to report.")
    pred, study = ctx.prediction, ctx.study
    status = "final" if ctx.signed else "preliminary"
    refs = {"patient": _urn("patient", ctx.patient.patient_id), "study": _urn("study", study.study_uid),
            "device": _urn("model", pred.model_version), "report": _urn("report", study.study_uid, pred.id)}
    imaging_study = {
        "resourceType": "ImagingStudy",
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{study.study_uid}"}],
        "status": "available",
        "modality": [{"system": DICOM_DCM, "code": study.modality or "OT"}],
        "subject": {"reference": refs["patient"]},
        "started": _instant(study.acquired or study.uploaded_at),
        "numberOfSeries": 1,
        "numberOfInstances": 1,
        "description": f"Chest radiograph {study.view}".strip(),
    }
    device = {
        "resourceType": "Device",
        "deviceName": [{"name": "LungDx Workbench chest X-ray model", "type": "model-name"}],
        "version": [{"value": pred.model_version}],
        "status": "active",
    }
    observations = [(_urn("observation", study.study_uid, pred.id, label),
                     _observation(ctx, label, p, pred.thresholds.get(label), status, refs))
                    for label, p in pred.probabilities.items()]
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "identifier": [{"system": STUDY_ID_SYSTEM, "value": f"{study.id}-{pred.id}"}],
        "status": status,
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                  "code": "RAD", "display": "Radiology"}]}],
        "code": {"coding": [{"system": SNOMED_SYSTEM, "code": CHEST_XRAY[0], "display": CHEST_XRAY[1]}],
                 "text": "AI-assisted chest radiograph report"},
        "subject": {"reference": refs["patient"]},
        "effectiveDateTime": _instant(study.acquired or study.uploaded_at),
        "issued": _instant(ctx.signoff.signed_at if ctx.signoff else pred.created),
        "imagingStudy": [{"reference": refs["study"]}],
        "result": [{"reference": urn} for urn, _ in observations],
        "conclusion": conclusion(ctx),
    }
    if ctx.signoff:
        report["resultsInterpreter"] = [{"display": ctx.signoff.signed_by}]
    resources = [(refs["patient"], patient_resource(ctx.patient)), (refs["study"], imaging_study),
                 (refs["device"], device), *observations, (refs["report"], report)]
    return {"resourceType": "Bundle", "type": "collection", "timestamp": _instant(report["issued"]),
            "entry": [{"fullUrl": url, "resource": res} for url, res in resources]}


#: Required value-set bindings the FHIR models do not check (they check structure and types only).
REQUIRED_STATUS = {
    "DiagnosticReport": {"registered", "partial", "preliminary", "final", "amended", "corrected", "appended",
                         "cancelled", "entered-in-error", "unknown"},
    "Observation": {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                    "entered-in-error", "unknown"},
}


def validate(bundle: dict[str, Any]) -> None:
    """Parse with the FHIR models (R4B ≈ R4 here) and check the required status codes.

    Raises :class:`ReportError` naming the first problem.
    """
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    try:
        Bundle.model_validate(bundle)
    except ValidationError as exc:
        raise ReportError(f"The FHIR export is not valid FHIR R4: {exc.errors()[0]}") from exc
    for entry in bundle["entry"]:
        res = entry["resource"]
        allowed = REQUIRED_STATUS.get(res["resourceType"])
        if allowed is not None and res.get("status") not in allowed:
            raise ReportError(f"The FHIR export is not valid FHIR R4: {res['resourceType']}.status "
                              f"'{res.get('status')}' is not one of {', '.join(sorted(allowed))}")
