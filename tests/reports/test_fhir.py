"""FHIR export of the demo studies, validated with fhir.resources' R4B models (≈ R4 for these resources)."""

from __future__ import annotations

import fhir.resources
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation

from lungdx_widgets.reports.errors import ReportError
from lungdx_widgets.reports.fhir import diagnostic_report_bundle, human_name, validate

from .conftest import NOT_ASSESSED


def _by_type(bundle: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for entry in bundle["entry"]:
        out.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return out


def test_library_default_is_not_r4_so_we_validate_against_r4b():
    assert fhir.resources.__fhir_version__.startswith("5"), "default package is R5; R4B models are used instead"


def test_every_analysed_demo_study_validates(scenario):
    for study_id in scenario.analysed:
        ctx = scenario.context(study_id)
        bundle = diagnostic_report_bundle(ctx)
        validate(bundle)
        parsed = Bundle.model_validate(bundle)
        report = DiagnosticReport.model_validate(bundle["entry"][-1]["resource"])
        assert report.status == ("preliminary" if study_id in scenario.unsigned else "final")
        assert len(report.result) == len(ctx.prediction.probabilities)
        full_urls = {e.fullUrl for e in parsed.entry}
        assert {r.reference for r in report.result} <= full_urls, "every result resolves inside the bundle"
        assert report.imagingStudy[0].reference in full_urls


def test_observations_carry_probability_threshold_and_not_assessed(scenario):
    ctx = scenario.context(scenario.reviewed[0])
    types = _by_type(diagnostic_report_bundle(ctx))
    obs = {o["code"]["text"].removeprefix("AI probability of "): Observation.model_validate(o)
           for o in types["Observation"]}
    assert set(obs) == set(ctx.prediction.probabilities)
    pneumonia = obs["Pneumonia"]
    assert float(pneumonia.valueQuantity.value) == pytest.approx(ctx.prediction.probabilities["Pneumonia"], abs=1e-4)
    assert pneumonia.interpretation[0].coding[0].code == "POS"
    assert pneumonia.code.coding[0].system == "http://snomed.info/sct"
    assert pneumonia.code.coding[0].code == "233604007"
    assert float(pneumonia.component[0].valueQuantity.value) == 0.5
    assert obs["Effusion"].interpretation[0].coding[0].code == "NEG"
    assert "disagreed" in obs["Effusion"].note[0].text
    for label in NOT_ASSESSED:
        assert obs[label].valueQuantity is None
        assert obs[label].dataAbsentReason.coding[0].code == "not-performed"
    assert all(o.status == "final" for o in obs.values())


def test_report_identifies_patient_study_model_and_conclusion(scenario):
    ctx = scenario.context(scenario.reviewed[0])
    types = _by_type(diagnostic_report_bundle(ctx))
    report = types["DiagnosticReport"][0]
    assert types["Patient"][0]["identifier"][0]["value"] == ctx.patient.patient_id
    assert types["Patient"][0]["name"][0]["text"] == ctx.patient.name
    assert types["ImagingStudy"][0]["identifier"][0]["value"] == f"urn:oid:{ctx.study.study_uid}"
    assert types["Device"][0]["version"][0]["value"] == ctx.prediction.model_version
    assert ctx.triage.explanation in report["conclusion"]
    assert "Right lower lobe pneumonia." in report["conclusion"]
    assert "Research use only" in report["conclusion"]
    assert report["resultsInterpreter"][0]["display"] == ctx.signoff.signed_by


def test_unsigned_report_is_preliminary_and_says_so(scenario):
    unsigned = scenario.unsigned[0]
    report = _by_type(diagnostic_report_bundle(scenario.context(unsigned)))["DiagnosticReport"][0]
    assert report["status"] == "preliminary"
    assert "not yet reviewed by a clinician" in report["conclusion"]
    assert "resultsInterpreter" not in report


def test_unanalysed_study_is_a_clear_error(scenario):
    with pytest.raises(ReportError, match="has not been analysed yet"):
        diagnostic_report_bundle(scenario.context(scenario.unanalysed[0]))


def test_validate_rejects_broken_fhir(scenario):
    bundle = diagnostic_report_bundle(scenario.context(scenario.analysed[0]))
    bundle["entry"][-1]["resource"]["status"] = "signed-ish"
    with pytest.raises(ReportError, match="not valid FHIR R4"):
        validate(bundle)


@pytest.mark.parametrize("name, family, given", [
    ("Bruno Sampleton", "Sampleton", ["Bruno"]), ("Sampleton, Bruno Karl", "Sampleton", ["Bruno", "Karl"]),
    ("Madonna", "Madonna", None)])
def test_human_name(name, family, given):
    out = human_name(name)
    assert (out["family"], out.get("given"), out["text"]) == (family, given, name)


def test_validate_rejects_structural_errors(scenario):
    bundle = diagnostic_report_bundle(scenario.context(scenario.analysed[0]))
    bundle["entry"][-1]["resource"]["result"] = "not a list"
    with pytest.raises(ReportError, match="not valid FHIR R4"):
        validate(bundle)
