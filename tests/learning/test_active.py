"""Review-queue ordering by uncertainty and by disagreement between versions."""

from __future__ import annotations

from lungdx_widgets.learning.active import disagreement, rank_by_disagreement, rank_by_uncertainty, uncertainty


def test_uncertainty_peaks_at_the_operating_threshold():
    assert uncertainty({"Pneumonia": 0.3}, {"Pneumonia": 0.3}) == (1.0, "Pneumonia")
    assert uncertainty({"Pneumonia": 1.0}, {"Pneumonia": 0.3})[0] == 0.0
    assert uncertainty({"Pneumonia": 0.0}, {"Pneumonia": 0.3})[0] == 0.0
    # not-assessed labels never count
    assert uncertainty({"Mass": None, "Nodule": float("nan")}) == (0.0, "")


def test_queue_puts_the_most_uncertain_study_first():
    preds = {1: {"Pneumonia": 0.95, "Effusion": 0.02}, 2: {"Pneumonia": 0.52, "Effusion": None},
             3: {"Pneumonia": 0.1, "Effusion": 0.35}}
    queue = rank_by_uncertainty(preds, {3: {"Effusion": 0.4}})
    assert [i.study_id for i in queue] == [2, 3, 1]
    assert queue[0].label == "Pneumonia" and "0.52" in queue[0].reason
    assert queue[1].label == "Effusion"


def test_disagreement_orders_by_largest_gap_on_shared_labels():
    a = {1: {"Pneumonia": 0.9, "Mass": 0.1}, 2: {"Pneumonia": 0.5}, 3: {"Pneumonia": 0.2}}
    b = {1: {"Pneumonia": 0.85, "Mass": None}, 2: {"Pneumonia": 0.1}, 4: {"Pneumonia": 0.9}}
    assert disagreement(a[1], b[1]) == (0.050000000000000044, "Pneumonia")
    queue = rank_by_disagreement(a, b, names=("v1", "v2"))
    assert [i.study_id for i in queue] == [2, 1]  # only studies both versions predicted
    assert queue[0].reason == "Pneumonia: v1 0.50 vs v2 0.10"


def test_review_queue_from_stored_predictions_skips_reviewed_studies(store, shared_data, boxed_pneumonia):
    from lungdx_widgets.learning.active import review_queue
    from lungdx_widgets.types import Box, Findings, LabelResult, Triage

    from .conftest import add_real_study

    studies = [add_real_study(store, shared_data, f, f"AL-{i}") for i, f in enumerate(boxed_pneumonia[:3])]

    def predict(study, version, p):
        findings = Findings({"Pneumonia": LabelResult("Pneumonia", p, 0.4)}, model_version=version)
        store.add_prediction(study.id, findings, Triage("routine"), "cli")

    for study, p_old, p_new in zip(studies, (0.41, 0.9, 0.05), (0.45, 0.2, 0.06)):
        predict(study, "v1", p_old)
        predict(study, "v2", p_new)
    by_uncertainty = review_queue(store)  # latest predictions (v2): 0.45 is nearest its 0.4 threshold
    assert [i.study_id for i in by_uncertainty] == [studies[0].id, studies[1].id, studies[2].id]  # 0.45, 0.2, 0.06
    by_disagreement = review_queue(store, versions=("v1", "v2"))
    assert by_disagreement[0].study_id == studies[1].id and "v1 0.90 vs v2 0.20" in by_disagreement[0].reason
    store.save_annotations(studies[0].id, [Box("Pneumonia", 1, 1, 5, 5, score=0.5, status="proposed")], 0, "cli")
    assert review_queue(store)[0].study_id == studies[0].id  # AI proposals saved unchanged: not reviewed
    store.save_annotations(studies[0].id, [Box("Pneumonia", 1, 1, 5, 5, score=0.5, status="rejected")], 1, "ana")
    assert studies[0].id not in [i.study_id for i in review_queue(store)]
    assert review_queue(store, include_reviewed=True, limit=1)[0].study_id == studies[0].id
