"""Progression per finding between two signed studies: the rule (pure) and the store reading (real SQLite, real films)."""

from __future__ import annotations


import pytest

from lungdx_widgets.progression import (IMPROVED, NEW, UNCHANGED, WORSE, SignedFindings, compare, signed_findings,
                                        statement, statements)
from lungdx_widgets.types import Box

from .store.conftest import findings, load, png_files, triage  # noqa: F401 - png_files is a fixture


def _signed(day: str, states: dict[str, str], boxes=(), size=(1000, 1000)) -> SignedFindings:
    return SignedFindings(1, day, "dr-a", states, tuple(boxes), *size)


def _by_label(progressions):
    return {p.label: p.change for p in progressions}


def test_state_changes_decide_new_worse_improved():
    prior = _signed("2026-01-03", {"Pneumonia": "uncertain", "Effusion": "present", "Nodule": "present",
                                   "Cardiomegaly": "absent"})
    now = _signed("2026-03-01", {"Pneumonia": "present", "Effusion": "absent", "Nodule": "uncertain",
                                 "Pneumothorax": "present", "Mass": "uncertain", "Cardiomegaly": "absent"})
    got = compare(prior, now)
    assert _by_label(got) == {"Pneumonia": WORSE, "Effusion": IMPROVED, "Nodule": IMPROVED,
                              "Pneumothorax": NEW, "Mass": NEW}
    assert [p.change for p in got] == [NEW, NEW, WORSE, IMPROVED, IMPROVED], "most urgent change first"
    assert "Cardiomegaly" not in _by_label(got), "absent on both films is not a statement"


def test_box_extent_decides_between_two_present_findings():
    big, small = Box("Effusion", 0, 0, 300, 300, source="human", status="edited"), \
        Box("Effusion", 0, 0, 200, 200, source="human", status="edited")
    prior = _signed("2026-01-03", {"Effusion": "present", "Pneumonia": "present"}, [small])
    now = _signed("2026-03-01", {"Effusion": "present", "Pneumonia": "present"}, [big])
    got = {p.label: p for p in compare(prior, now)}
    assert got["Effusion"].change == WORSE and got["Effusion"].sized  # 9% of the film vs 4%
    assert got["Pneumonia"].change == UNCHANGED and not got["Pneumonia"].sized  # no boxes: state only
    assert _by_label(compare(now, prior))["Effusion"] == IMPROVED
    similar = _signed("2026-03-01", {"Effusion": "present"}, [Box("Effusion", 0, 0, 220, 220, source="human")])
    assert compare(prior, similar)[0].change == UNCHANGED


def test_statements_are_plain_in_english_and_korean():
    prior = _signed("2026-01-03", {"Pneumonia": "uncertain", "Effusion": "present"},
                    [Box("Effusion", 0, 0, 200, 200, source="human")])
    now = _signed("2026-03-01", {"Pneumonia": "present", "Effusion": "present"},
                  [Box("Effusion", 0, 0, 300, 300, source="human")])
    got = compare(prior, now)
    assert statements(got, "en") == [
        "Effusion: worse — larger: boxes cover 9% of the film, 4% on Jan 3, 2026.",
        "Pneumonia: worse — present now; uncertain on Jan 3, 2026."]
    korean = statements(got, "ko")
    assert korean[1].startswith("폐렴: 악화 — 현재 있음; 2026. 1. 3.")
    assert korean[0].startswith("흉수: 악화 — ")
    for line in korean:
        assert not any(word in line for word in ("worse", "present", "boxes", "uncertain")), line
    new = compare(_signed("2026-01-03", {}), _signed("2026-03-01", {"Pneumothorax": "present"}))
    assert statement(new[0], "en") == "Pneumothorax: new — present now; not reported on Jan 3, 2026."


@pytest.fixture
def two_signed_studies(store, png_files):  # noqa: F811 - the fixture above
    store.add_user("dr-a", "pw-dr-a-123", "clinician")
    store.add_patient("P1", "Ada Quillfeather")
    first = store.add_study("P1", *load(png_files[0]), "dr-a", acquired="2026-01-03")
    second = store.add_study("P1", *load(png_files[1]), "dr-a", acquired="2026-03-01")
    for s in (first, second):
        store.add_prediction(s.id, findings(0.8), triage("urgent"), "model")
    return store, first, second


def test_signed_findings_follow_the_ground_truth_rule_and_the_signed_version(two_signed_studies):
    store, first, second = two_signed_studies
    assert signed_findings(store, first.id) is None, "an unsigned study says nothing yet"
    w, h = first.width, first.height
    store.save_annotations(first.id, [Box("Effusion", 0, 0, w * 0.2, h * 0.2, source="human", status="edited"),
                                      Box("Infiltration", 0, 0, 50, 50, score=0.7, source="ai", status="accepted")],
                           0, "dr-a")
    store.sign_study(first.id, "dr-a", verdicts={"Infiltration": "absent", "Pneumonia": "uncertain"})
    # saved after signing and not signed: not part of what the study says
    store.save_annotations(first.id, [Box("Mass", 0, 0, 40, 40, source="human", status="edited")], 1, "dr-a")
    prior = signed_findings(store, first.id)
    assert prior.states == {"Effusion": "present", "Infiltration": "absent", "Pneumonia": "uncertain"}
    assert [b.label for b in prior.boxes] == ["Effusion"], "the box the signer called absent is no ground truth"
    assert prior.extent("Effusion") == pytest.approx(0.04, rel=0.05)
    assert prior.day == "2026-01-03"

    w2, h2 = second.width, second.height
    store.save_annotations(second.id, [Box("Effusion", 0, 0, w2 * 0.35, h2 * 0.35, source="human", status="edited")],
                           0, "dr-a")
    store.sign_study(second.id, "dr-a", verdicts={"Pneumonia": "absent", "Infiltration": "present"})
    got = _by_label(compare(prior, signed_findings(store, second.id)))
    assert got == {"Effusion": WORSE, "Infiltration": NEW, "Pneumonia": IMPROVED}
