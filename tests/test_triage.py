"""Pins every row of ``triage.RULES`` and the behaviour on missing data (no model involved)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from lungdx_widgets import triage
from lungdx_widgets.model.registry import LABELS
from lungdx_widgets.store.records import Condition, Patient, PatientRecord
from lungdx_widgets.triage import RULES, FindingRule, RaiseRule, RiskFactorRule, assess
from lungdx_widgets.types import Box, Findings, LabelResult

TODAY = date(2026, 11, 28)
#: Every triage-watched label assessed and negative: the baseline each test changes one thing in.
NEGATIVE = {"Pneumothorax": 0.05, "Effusion": 0.05, "Pneumonia": 0.05, "Consolidation": 0.05,
            "Lung Opacity": 0.05, "Tuberculosis": 0.05, "Edema": 0.05,
            "Nodule": 0.05, "No Finding": 0.9}


def record(birth: str | None = "1990-01-01", *conditions: str | tuple[str, str]) -> PatientRecord:
    """A real store record; a condition is a name or (name, status)."""
    pairs = [(c, "active") if isinstance(c, str) else c for c in conditions]
    conds = tuple(Condition(i, "MRN-T", name, since="", status=status) for i, (name, status) in enumerate(pairs))
    return PatientRecord(Patient("MRN-T", "Test Patient", "F", birth or ""), conditions=conds)


YOUNG = record("1990-01-01")


def with_(**probs: float | None) -> dict[str, float | None]:
    """NEGATIVE with some labels changed (``No_Finding`` → "No Finding")."""
    return {**NEGATIVE, **{k.replace("_", " "): v for k, v in probs.items()}}


def test_rules_table_is_complete_and_explained():
    kinds = {type(r) for r in RULES}
    assert kinds == {FindingRule, RiskFactorRule, RaiseRule}
    assert all(len(r.why) > 15 for r in RULES), "every rule carries its clinical reason"


def test_every_watched_label_is_one_the_product_reports():
    assert {r.label for r in RULES if isinstance(r, FindingRule)} <= set(LABELS)


def test_all_negative_is_routine_without_gaps():
    t = assess(NEGATIVE, YOUNG, today=TODAY)
    assert t.level == "routine"
    assert t.reasons == ("no finding at or above its threshold",)


@pytest.mark.parametrize("rule", [r for r in RULES if isinstance(r, FindingRule) and r.size == "any"],
                         ids=lambda r: r.label)
def test_each_finding_rule_sets_its_level(rule: FindingRule):
    t = assess({**NEGATIVE, rule.label: 0.81}, YOUNG, today=TODAY)
    assert t.level == rule.level
    assert t.reasons[0] == f"{rule.label} 0.81 ≥ 0.50"


def test_threshold_boundary_is_inclusive():
    assert assess({**NEGATIVE, "Pneumonia": 0.5}, YOUNG, today=TODAY).level == "urgent"
    assert assess({**NEGATIVE, "Pneumonia": 0.4999}, YOUNG, today=TODAY).level == "routine"


def test_model_thresholds_come_from_label_results_and_caller_overrides_them():
    results = {k: LabelResult(k, p, 0.55 if k == "Pneumonia" else 0.5) for k, p in NEGATIVE.items()}
    results["Pneumonia"] = LabelResult("Pneumonia", 0.52, 0.55)
    assert assess(Findings(results), YOUNG, today=TODAY).level == "routine"
    results["Pneumonia"] = LabelResult("Pneumonia", 0.81, 0.55)
    assert assess(Findings(results), YOUNG, today=TODAY).explanation == "urgent: Pneumonia 0.81 ≥ 0.55"
    assert assess(Findings(results), YOUNG, thresholds={"Pneumonia": 0.9}, today=TODAY).level == "routine"


def test_none_thresholds_fall_back_to_the_model_then_the_default():
    results = {k: LabelResult(k, p, None) for k, p in with_(Pneumonia=0.52).items()}
    results["Pneumothorax"] = LabelResult("Pneumothorax", 0.3, 0.25)
    t = assess(Findings(results), YOUNG, thresholds={"Pneumonia": None, "Pneumothorax": None}, today=TODAY)
    assert t.reasons[:2] == ("Pneumothorax 0.30 ≥ 0.25", "Pneumonia 0.52 ≥ 0.50")


def test_example_explanation_with_age_and_copd():
    t = assess(Findings({k: LabelResult(k, p, 0.55) for k, p in with_(Pneumonia=0.81).items()}),
               record("1948-03-02", "COPD"), today=TODAY)
    assert t.explanation == "urgent: Pneumonia 0.81 ≥ 0.55; age 78; COPD"


def test_most_urgent_rule_wins_and_reasons_are_ordered_by_level():
    t = assess(with_(Pneumonia=0.7, Pneumothorax=0.6), YOUNG, today=TODAY)
    assert t.level == "emergent"
    assert t.reasons[:2] == ("Pneumothorax 0.60 ≥ 0.50", "Pneumonia 0.70 ≥ 0.50")


def _effusion_findings(box_w: float, box_h: float | None) -> Findings:
    results = {k: LabelResult(k, p, 0.5) for k, p in with_(Effusion=0.9).items()}
    boxes = [] if box_h is None else [Box("Effusion", 10, 10, box_w, box_h)]
    return Findings(results, heatmaps={"Effusion": np.zeros((100, 100), np.float32)}, boxes=boxes)


def test_large_effusion_is_emergent():
    t = assess(_effusion_findings(40, 40), YOUNG, today=TODAY)  # 16 % of the image
    assert t.level == "emergent"
    assert t.reasons[0] == "large Effusion 0.90 ≥ 0.50 (covers 16% of the image)"


def test_measured_small_effusion_is_routine_abnormal():
    t = assess(_effusion_findings(20, 20), YOUNG, today=TODAY)  # 4 %
    assert t.level == "routine"
    assert t.reasons == ("Effusion 0.90 ≥ 0.50",)


def test_unmeasured_effusion_is_urgent_not_ignored():
    t = assess(_effusion_findings(0, None), YOUNG, today=TODAY)
    assert t.level == "urgent"
    assert t.reasons[0] == "Effusion 0.90 ≥ 0.50 (size not measured)"
    # dict input has no boxes at all: also unmeasured
    assert assess(with_(Effusion=0.9), YOUNG, today=TODAY).level == "urgent"


def test_rejected_boxes_do_not_measure_extent():
    f = _effusion_findings(40, 40)
    f.boxes = [Box("Effusion", 10, 10, 40, 40, status="rejected")]
    assert assess(f, YOUNG, today=TODAY).reasons[0].endswith("(size not measured)")


def test_overlapping_boxes_are_measured_once():
    f = _effusion_findings(20, 20)
    f.boxes = [Box("Effusion", 10, 10, 30, 30), Box("Effusion", 10, 10, 30, 30), Box("Effusion", 20, 20, 20, 20)]
    assert assess(f, YOUNG, today=TODAY).level == "routine"  # union 9 %, not the 22 % their sum would give


def test_boxes_covering_most_of_the_film_do_not_measure_size():
    """A diffuse map boxed as nearly the whole image is not a large effusion; the size stays unmeasured."""
    t = assess(_effusion_findings(90, 90), YOUNG, today=TODAY)
    assert t.level == "urgent"
    assert t.reasons[0] == "Effusion 0.90 ≥ 0.50 (size not measured)"


def test_image_size_argument_measures_dict_free_findings_without_heatmaps():
    f = _effusion_findings(40, 40)
    f.heatmaps = {}
    assert assess(f, YOUNG, today=TODAY).level == "urgent"  # no image size: unmeasured
    assert assess(f, YOUNG, today=TODAY, image_size=(100, 100)).level == "emergent"


def test_other_positive_label_is_routine_and_named():
    t = assess(with_(Nodule=0.7), YOUNG, today=TODAY)
    assert t.level == "routine"
    assert t.reasons == ("Nodule 0.70 ≥ 0.50",)


def test_no_finding_label_is_never_abnormal():
    t = assess(with_(**{"No_Finding": 0.99}), record("1940-01-01", "COPD"), today=TODAY)
    assert t.level == "routine"
    assert t.reasons == ("no finding at or above its threshold", "age 86", "COPD")


@pytest.mark.parametrize("birth, conditions, factor", [
    ("1948-03-02", (), "age 78"),
    ("1990-01-01", ("COPD",), "COPD"),
    ("1990-01-01", ("Chronic heart failure",), "Chronic heart failure"),
    ("1990-01-01", ("Kidney transplant, on tacrolimus",), "Kidney transplant, on tacrolimus"),
    ("1990-01-01", ("HIV infection",), "HIV infection"),
])
def test_each_risk_factor_raises_routine_abnormal_to_urgent(birth, conditions, factor):
    t = assess(with_(Nodule=0.7), record(birth, *conditions), today=TODAY)
    assert t.level == "urgent"
    assert t.reasons == ("Nodule 0.70 ≥ 0.50", factor, "raised from routine: abnormal finding with a risk factor")


def test_every_risk_rule_is_exercised():
    facts = triage.PatientFacts(70, ("COPD", "heart failure", "on chemotherapy"))
    assert all(r.match(facts) for r in RULES if isinstance(r, RiskFactorRule))


def test_risk_factors_never_make_a_film_emergent():
    t = assess(with_(Pneumonia=0.9), record("1930-01-01", "COPD", "heart failure", "HIV"), today=TODAY)
    assert t.level == "urgent"
    assert t.reasons == ("Pneumonia 0.90 ≥ 0.50", "age 96", "COPD", "heart failure", "HIV")


def test_age_boundary_is_the_65th_birthday():
    assert assess(with_(Nodule=0.7), record("1961-11-28"), today=TODAY).level == "urgent"
    assert assess(with_(Nodule=0.7), record("1961-11-29"), today=TODAY).level == "routine"


def test_resolved_conditions_are_not_risk_factors():
    rec = record("1990-01-01", ("Asthma", "resolved"), ("Bronchiectasis", "inactive"))
    assert assess(with_(Nodule=0.7), rec, today=TODAY).level == "routine"


def test_not_assessed_labels_never_trigger_and_are_said():
    t = assess(with_(Pneumothorax=None, Tuberculosis=None), YOUNG, today=TODAY)
    assert t.level == "routine"
    assert t.reasons[-1] == "not assessed: Pneumothorax, Tuberculosis"


def test_nan_probability_counts_as_not_assessed():
    t = assess(with_(Pneumothorax=float("nan")), YOUNG, today=TODAY)
    assert t.level == "routine"
    assert "not assessed: Pneumothorax" in t.reasons


def test_absent_watched_labels_are_said_not_assessed():
    t = assess({"Pneumonia": 0.9}, YOUNG, today=TODAY)
    assert t.level == "urgent"
    assert t.reasons[-1] == ("not assessed: Pneumothorax, Effusion, Consolidation, Lung Opacity, "
                             "Tuberculosis, Edema")


def test_missing_record_is_said_and_adds_no_risk():
    t = assess(with_(Nodule=0.7), None, today=TODAY)
    assert t.level == "routine"
    assert t.reasons[-1] == "no patient record: risk factors not checked"


def test_patient_facts_agree_with_the_store_record():
    rec = record("1948-03-02", "COPD", ("Asthma", "resolved"))
    facts = triage.patient_facts(rec, TODAY)
    assert facts == triage.PatientFacts(rec.patient.age(TODAY), rec.active_conditions)


@pytest.mark.parametrize("birth", [None, "", "unknown"])
def test_missing_or_bad_birth_date_is_age_unknown(birth):
    t = assess(with_(Nodule=0.7), record(birth), today=TODAY)
    assert t.level == "routine"
    assert t.reasons[-1] == "age unknown"


def test_empty_findings_say_everything_is_unassessed():
    t = assess({}, None, today=TODAY)
    assert t.level == "routine"
    assert t.reasons[0] == "no finding at or above its threshold"
    assert t.reasons[1].startswith("not assessed: Pneumothorax")
