"""Pins every row of ``triage.RULES`` and the behaviour on missing data (no model involved)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from lungdx_widgets import triage, vocabulary
from lungdx_widgets.model.weights import LABELS
from lungdx_widgets.store.records import Condition, Patient, PatientRecord
from lungdx_widgets.triage import RULES, FindingRule, RaiseRule, RiskFactorRule, assess
from lungdx_widgets.terms import finding_term
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
    assert t.reasons[0] == f"likely {finding_term(rule.label)} in a 36-year-old — {rule.action}"


def test_threshold_boundary_is_inclusive():
    assert assess({**NEGATIVE, "Pneumonia": 0.5}, YOUNG, today=TODAY).level == "urgent"
    assert assess({**NEGATIVE, "Pneumonia": 0.4999}, YOUNG, today=TODAY).level == "routine"


def test_model_thresholds_come_from_label_results_and_caller_overrides_them():
    results = {k: LabelResult(k, p, 0.55 if k == "Pneumonia" else 0.5) for k, p in NEGATIVE.items()}
    results["Pneumonia"] = LabelResult("Pneumonia", 0.52, 0.55)
    assert assess(Findings(results), YOUNG, today=TODAY).level == "routine"
    results["Pneumonia"] = LabelResult("Pneumonia", 0.81, 0.55)
    assert assess(Findings(results), YOUNG, today=TODAY).explanation == (
        "urgent: likely pneumonia in a 36-year-old — start antibiotics within hours")
    assert assess(Findings(results), YOUNG, thresholds={"Pneumonia": 0.9}, today=TODAY).level == "routine"


def test_none_thresholds_fall_back_to_the_model_then_the_default():
    results = {k: LabelResult(k, p, None) for k, p in with_(Pneumonia=0.52).items()}
    results["Pneumothorax"] = LabelResult("Pneumothorax", 0.3, 0.25)
    t = assess(Findings(results), YOUNG, thresholds={"Pneumonia": None, "Pneumothorax": None}, today=TODAY)
    assert t.level == "emergent"  # Pneumothorax 0.30 ≥ its model threshold 0.25
    assert [r.split(" in ")[0] for r in t.reasons[:2]] == ["likely pneumothorax", "likely pneumonia"]


def test_example_explanation_with_age_and_copd():
    t = assess(Findings({k: LabelResult(k, p, 0.55) for k, p in with_(Pneumonia=0.81).items()}),
               record("1948-03-02", "COPD"), today=TODAY)
    assert t.explanation == ("urgent: likely pneumonia in a 78-year-old with COPD — start antibiotics within "
                             "hours; risk factors: COPD, age 78")


def test_most_urgent_rule_wins_and_reasons_are_ordered_by_level():
    t = assess(with_(Pneumonia=0.7, Pneumothorax=0.6), YOUNG, today=TODAY)
    assert t.level == "emergent"
    assert [r.split(" in ")[0] for r in t.reasons[:2]] == ["likely pneumothorax", "likely pneumonia"]


def _effusion_findings(box_w: float, box_h: float | None) -> Findings:
    results = {k: LabelResult(k, p, 0.5) for k, p in with_(Effusion=0.9).items()}
    boxes = [] if box_h is None else [Box("Effusion", 10, 10, box_w, box_h)]
    return Findings(results, heatmaps={"Effusion": np.zeros((50, 50), np.float32)}, boxes=boxes, image_size=(100, 100))


def test_large_effusion_is_emergent():
    t = assess(_effusion_findings(40, 40), YOUNG, today=TODAY)  # 16 % of the image
    assert t.level == "emergent"
    assert t.reasons[0] == ("likely large pleural effusion (covers 16% of the image) in a 36-year-old — "
                            "look now: it compresses the lung and may need drainage today")


def test_measured_small_effusion_is_routine_abnormal():
    t = assess(_effusion_findings(20, 20), YOUNG, today=TODAY)  # 4 %
    assert t.level == "routine"
    assert t.reasons == ("likely pleural effusion — not urgent on its own: read in the usual order",)


def test_unmeasured_effusion_is_urgent_not_ignored():
    t = assess(_effusion_findings(0, None), YOUNG, today=TODAY)
    assert t.level == "urgent"
    assert t.reasons[0] == ("likely pleural effusion of unmeasured size in a 36-year-old — "
                            "look today: it may be large")
    # dict input has no boxes at all: also unmeasured
    assert assess(with_(Effusion=0.9), YOUNG, today=TODAY).level == "urgent"


def test_rejected_boxes_do_not_measure_extent():
    f = _effusion_findings(40, 40)
    f.boxes = [Box("Effusion", 10, 10, 40, 40, status="rejected")]
    assert "of unmeasured size" in assess(f, YOUNG, today=TODAY).reasons[0]


def test_overlapping_boxes_are_measured_once():
    f = _effusion_findings(20, 20)
    f.boxes = [Box("Effusion", 10, 10, 30, 30), Box("Effusion", 10, 10, 30, 30), Box("Effusion", 20, 20, 20, 20)]
    assert assess(f, YOUNG, today=TODAY).level == "routine"  # union 9 %, not the 22 % their sum would give


def test_boxes_covering_most_of_the_film_do_not_measure_size():
    """A diffuse map boxed as nearly the whole image is not a large effusion; the size stays unmeasured."""
    t = assess(_effusion_findings(90, 90), YOUNG, today=TODAY)
    assert t.level == "urgent"
    assert "of unmeasured size" in t.reasons[0]


def test_image_size_argument_measures_dict_free_findings_without_heatmaps():
    f = _effusion_findings(40, 40)
    f.heatmaps, f.image_size = {}, None
    assert assess(f, YOUNG, today=TODAY).level == "urgent"  # no image size: unmeasured
    assert assess(f, YOUNG, today=TODAY, image_size=(100, 100)).level == "emergent"


def test_bounded_heatmaps_are_not_taken_for_the_image_size():
    """Heatmaps cover the film at ≤ 512 px, so their shape says nothing of the image's: 40×40 of a
    100×100 film is 16 %, whatever size the map has (a 50×50 map would have said 64 %)."""
    f = _effusion_findings(40, 40)
    f.image_size = None
    assert assess(f, YOUNG, today=TODAY).level == "urgent"  # unmeasured, not guessed from the map
    f.lung_mask = np.zeros((100, 100), bool)  # image-sized: a valid fallback
    assert assess(f, YOUNG, today=TODAY).level == "emergent"


def test_other_positive_label_is_routine_and_named():
    t = assess(with_(Nodule=0.7), YOUNG, today=TODAY)
    assert t.level == "routine"
    assert t.reasons == ("likely nodule — not urgent on its own: read in the usual order",)


def test_no_finding_label_is_never_abnormal():
    t = assess(with_(**{"No_Finding": 0.99}), record("1940-01-01", "COPD"), today=TODAY)
    assert t.level == "routine"
    assert t.reasons == ("no finding at or above its threshold", "risk factors: COPD, age 86")


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
    assert t.reasons == ("likely nodule — not urgent on its own: read in the usual order",
                         f"raised from routine: {factor}")


def test_every_risk_rule_is_exercised():
    facts = triage.PatientFacts(70, tuple(triage.Problem(n, frozenset({c})) for n, c in (
        ("COPD", vocabulary.COPD), ("heart failure", vocabulary.HEART_FAILURE), ("chemo", vocabulary.CHEMOTHERAPY))))
    assert all(r.match(facts) for r in RULES if isinstance(r, RiskFactorRule))


def test_risk_factors_never_make_a_film_emergent():
    t = assess(with_(Pneumonia=0.9), record("1930-01-01", "COPD", "heart failure", "HIV"), today=TODAY)
    assert t.level == "urgent"
    assert t.reasons == ("likely pneumonia in a 96-year-old with COPD, heart failure, HIV — start antibiotics "
                         "within hours", "risk factors: COPD, heart failure, HIV, age 96")


def test_age_boundary_is_the_65th_birthday():
    assert assess(with_(Nodule=0.7), record("1961-11-28"), today=TODAY).level == "urgent"
    assert assess(with_(Nodule=0.7), record("1961-11-29"), today=TODAY).level == "routine"


def test_resolved_conditions_are_not_risk_factors():
    rec = record("1990-01-01", ("Asthma", "resolved"), ("Bronchiectasis", "inactive"))
    assert assess(with_(Nodule=0.7), rec, today=TODAY).level == "routine"


def test_not_assessed_labels_never_trigger_and_are_said():
    t = assess(with_(Pneumothorax=None, Tuberculosis=None), YOUNG, today=TODAY)
    assert t.level == "routine"
    assert t.reasons[-1] == "not assessed: pneumothorax, tuberculosis"


def test_nan_probability_counts_as_not_assessed():
    t = assess(with_(Pneumothorax=float("nan")), YOUNG, today=TODAY)
    assert t.level == "routine"
    assert "not assessed: pneumothorax" in t.reasons


def test_absent_watched_labels_are_said_not_assessed():
    t = assess({"Pneumonia": 0.9}, YOUNG, today=TODAY)
    assert t.level == "urgent"
    assert t.reasons[-1] == ("not assessed: pneumothorax, pleural effusion, consolidation, lung opacity, "
                             "tuberculosis, pulmonary oedema")


def test_missing_record_is_said_and_adds_no_risk():
    t = assess(with_(Nodule=0.7), None, today=TODAY)
    assert t.level == "routine"
    assert t.reasons[-1] == "no patient record: risk factors not checked"


def test_patient_facts_agree_with_the_store_record():
    rec = record("1948-03-02", "COPD", ("Asthma", "resolved"))
    facts = triage.patient_facts(rec, TODAY)
    assert facts == triage.PatientFacts(rec.patient.age(TODAY), (triage.Problem("COPD", frozenset({vocabulary.COPD})),))
    assert tuple(p.name for p in facts.problems) == rec.active_conditions


@pytest.mark.parametrize("birth", [None, "", "unknown"])
def test_missing_or_bad_birth_date_is_age_unknown(birth):
    t = assess(with_(Nodule=0.7), record(birth), today=TODAY)
    assert t.level == "routine"
    assert t.reasons[-1] == "age unknown"


def test_empty_findings_say_everything_is_unassessed():
    t = assess({}, None, today=TODAY)
    assert t.level == "routine"
    assert t.reasons[0] == "no finding at or above its threshold"
    assert t.reasons[1].startswith("not assessed: pneumothorax")


# -- clinical vocabulary: Korean and English terms are the same risk factor --------------------------

@pytest.mark.parametrize("korean, english", [("심부전", "heart failure"), ("만성 폐쇄성 폐질환", "COPD"),
                                             ("천식", "asthma"), ("만성폐쇄성폐질환", "chronic obstructive pulmonary disease")])
def test_korean_condition_raises_triage_like_its_english_term(korean, english):
    for text in (korean, english):
        t = assess(with_(Nodule=0.7), record("1990-01-01", text), today=TODAY)
        assert t.level == "urgent", text
        assert t.reasons[-1] == f"raised from routine: {text}"


def test_stored_korean_conditions_are_coded_and_named_in_english_reasons(store):
    store.add_patient("K-1", "김민준", birth_date="1947-05-01")
    store.add_condition("K-1", "dr", "만성 폐쇄성 폐질환")
    store.add_condition("K-1", "dr", "고혈압")
    rec = store.patient_record("K-1", actor="dr")
    assert {c.code for c in rec.conditions} == {vocabulary.COPD, "38341003"}
    t = assess(with_(Pneumonia=0.81), rec, today=TODAY)
    assert t.reasons[0] == "likely pneumonia in a 79-year-old with COPD — start antibiotics within hours"


def test_raised_from_routine_names_the_risk_factors():
    t = assess(with_(Nodule=0.7), record("1951-01-01", "COPD"), today=TODAY)
    assert t.level == "urgent"
    assert t.reasons[-1] == "raised from routine: COPD, age 75"


def test_unrelated_or_resolved_conditions_are_not_risk_factors():
    for text in ("archival note", "고혈압", "ex-smoker"):
        assert assess(with_(Nodule=0.7), record("1990-01-01", text), today=TODAY).level == "routine", text


# -- model v2 guard: AI findings of an out-of-distribution film never escalate ------------------------

def _ood(**probs: float) -> Findings:
    return Findings({k: LabelResult(k, p, 0.5) for k, p in with_(**probs).items()}, out_of_distribution=True)


def test_out_of_distribution_film_is_not_escalated_on_ai_findings():
    t = assess(_ood(Pneumothorax=0.99, Pneumonia=0.95), record("1940-01-01", "COPD"), today=TODAY)
    assert t.level == "routine"
    assert t.reasons[0] == ("AI findings not used for triage: this film differs from the films the model "
                            "learned from — read it in the usual order")
    assert not any(r.startswith("likely") or r.startswith("raised") for r in t.reasons)
    assert "risk factors: COPD, age 86" in t.reasons


def test_the_same_findings_in_distribution_do_escalate():
    f = _ood(Pneumothorax=0.99)
    f.out_of_distribution = False
    assert assess(f, YOUNG, today=TODAY).level == "emergent"


def test_dict_input_has_no_guard_and_still_works():
    assert assess(with_(Pneumothorax=0.99), YOUNG, today=TODAY).level == "emergent"


def test_stored_prediction_keeps_the_guard_when_triaged_again(store):
    from lungdx_widgets.store.records import Prediction

    p = Prediction(1, 1, "m", {"Pneumothorax": 0.99}, {"Pneumothorax": 0.5}, (), "routine", (), "now", "me",
                   out_of_distribution=True)
    assert assess(p.to_findings(), YOUNG, today=TODAY).level == "routine"
