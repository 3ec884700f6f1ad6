"""One sign-off per study version (store + trigger), signer role, and the one ground-truth rule."""

from __future__ import annotations


import pytest

from lungdx_widgets.ground_truth import conflicts, ground_truth, truth_boxes, verdicts_from_agreement
from lungdx_widgets.learning.labelsets import ReviewedImage, box_rows, label_row
from lungdx_widgets.store import Conflict, PermissionDenied, ValidationError
from lungdx_widgets.types import Box

from .conftest import findings, load, triage

ACCEPTED_INF = Box("Infiltration", 10, 20, 100, 80, score=0.7, source="ai", status="accepted")
DRAWN_CONS = Box("Consolidation", 300, 300, 60, 60, source="human", status="edited")
REJECTED_EFF = Box("Effusion", 5, 5, 30, 30, score=0.6, source="ai", status="rejected")


@pytest.fixture
def study(store, png_files):
    store.add_user("dr-a", "pw-dr-a-123", "clinician")
    store.add_user("dr-b", "pw-dr-b-123", "clinician")
    store.add_user("an-c", "pw-an-c-123", "analyst")
    store.add_patient("P1", "Ada Quillfeather")
    s = store.add_study("P1", *load(png_files[0]), "dr-a")
    store.add_prediction(s.id, findings(0.8), triage("urgent"), "model")
    return s


def test_second_sign_off_is_a_conflict_and_names_the_first_signer(store, study):
    first = store.sign_study(study.id, "dr-a", verdicts={"Pneumonia": "present"}, impression="RLL pneumonia",
                             diagnosis="Community-acquired pneumonia")
    assert (first.verdicts, first.impression, first.diagnosis, first.addendum) == (
        {"Pneumonia": "present"}, "RLL pneumonia", "Community-acquired pneumonia", False)
    with pytest.raises(Conflict, match="Already signed by dr-a"):
        store.sign_study(study.id, "dr-b", verdicts={"Pneumonia": "absent"})
    assert [s.signed_by for s in store.signoffs(study.id)] == ["dr-a"]


def test_the_trigger_refuses_a_second_sign_off_from_any_connection(store, study, raw_connection, integrity_error):
    store.sign_study(study.id, "dr-a", verdicts={"Pneumonia": "present"})
    raw = raw_connection()
    try:
        with pytest.raises(integrity_error, match="already signed"):
            raw.execute("INSERT INTO signoffs (study_id, signed_by, signed_at, agreement_json, annotation_version) "
                        "VALUES (?, 'dr-b', '2026-01-01T00:00:00', '{}', 0)", (study.id,))
    finally:
        raw.close()


def test_an_addendum_needs_a_newer_version_and_is_marked(store, study):
    store.sign_study(study.id, "dr-a", verdicts={"Pneumonia": "present"})
    with pytest.raises(Conflict, match="already signed"):
        store.sign_study(study.id, "dr-b", verdicts={"Pneumonia": "absent"}, addendum=True)
    store.save_annotations(study.id, [DRAWN_CONS], 0, "dr-b")
    later = store.sign_study(study.id, "dr-b", verdicts={"Pneumonia": "present", "Consolidation": "present"},
                             addendum=True)
    assert later.addendum and later.annotation_version == 1
    assert store.first_signoff(study.id).signed_by == "dr-a" and store.latest_signoff(study.id) == later
    with pytest.raises(ValidationError):
        other = store.add_study("P1", *load_second(store), "dr-a")
        store.sign_study(other.id, "dr-a", verdicts={}, addendum=True)


def load_second(store):
    from pathlib import Path

    from lungdx_widgets.config import load_settings

    return load(sorted(Path(load_settings().shared_data, "images").glob("nih*.png"))[1])


def test_only_enabled_clinicians_sign_and_stale_views_are_refused(store, study):
    with pytest.raises(PermissionDenied, match="Only clinicians"):
        store.sign_study(study.id, "an-c", verdicts={"Pneumonia": "present"})
    store.set_user_disabled("dr-b", True, actor="admin")
    with pytest.raises(PermissionDenied, match="disabled"):
        store.sign_study(study.id, "dr-b", verdicts={"Pneumonia": "present"})
    store.save_annotations(study.id, [ACCEPTED_INF], 0, "dr-a")
    with pytest.raises(Conflict, match="review them again"):
        store.sign_study(study.id, "dr-a", verdicts={"Pneumonia": "present"}, annotation_version=0)
    with pytest.raises(ValidationError, match="present, absent, uncertain"):
        store.sign_study(study.id, "dr-a", verdicts={"Pneumonia": "yes"})
    assert store.signoffs(study.id) == []


def test_old_agreement_answers_become_verdicts(store, study):
    signed = store.sign_study(study.id, "dr-a", {"Pneumonia": False})  # disagree with a positive call
    assert signed.verdicts == {"Pneumonia": "absent"}
    assert verdicts_from_agreement({"A": True, "B": True, "C": False}, {"A": 0.9, "B": 0.1, "C": None},
                                   {"A": 0.5, "B": 0.5, "C": 0.5}) == {"A": "present", "B": "absent"}


def test_the_sign_off_overrules_a_contradicting_box():
    boxes = [ACCEPTED_INF, DRAWN_CONS, REJECTED_EFF]
    verdicts = {"Infiltration": "absent", "Consolidation": "uncertain", "Pneumonia": "present"}
    assert ground_truth(verdicts, boxes) == {"Infiltration": 0, "Effusion": 0, "Pneumonia": 1}
    assert ground_truth({}, boxes) == {"Infiltration": 1, "Consolidation": 1, "Effusion": 0}
    assert conflicts(verdicts, boxes) == ["Consolidation", "Infiltration"]
    assert truth_boxes(verdicts, boxes) == ()
    image = ReviewedImage("s.png", "pseudo", "F", "PA", 1000, 1000, tuple(boxes), "study 1", verdicts=verdicts)
    row = label_row(image)
    assert (row["y_Infiltration"], row["y_Consolidation"], row["y_Pneumonia"], row["has_box"]) == ("0", "", "1", "0")
    assert list(box_rows(image)) == []
