"""Patients: full-text search by name words and MRN prefix (paged), chart sections, validation."""

from __future__ import annotations

import pytest

from lungdx_widgets.store import Conflict, ValidationError

NAMES = ["Ada Quillfeather", "Bruno Quillon", "Clara Marblewick", "Anne-Marie Testwell", "Zoe O'Sample"]


@pytest.fixture
def patients(store):
    for i in range(1, 26):
        store.add_patient(f"DEMO-{i:04d}", f"Person{i:02d} Sampleton", actor="clerk", sex="F")
    for i, name in enumerate(NAMES):
        store.add_patient(f"MRN{9000 + i}", name, actor="clerk")
    return store


def test_search_by_mrn_prefix(patients):
    hits = patients.search_patients("DEMO-001", limit=50)
    assert sorted(p.patient_id for p in hits) == [f"DEMO-{i:04d}" for i in range(10, 20)]
    assert [p.patient_id for p in patients.search_patients("mrn9003")] == ["MRN9003"]
    assert [p.patient_id for p in patients.search_patients("DEMO-0007")] == ["DEMO-0007"]


def test_search_by_partial_name_words(patients):
    assert {p.name for p in patients.search_patients("quill")} == {"Ada Quillfeather", "Bruno Quillon"}
    assert [p.name for p in patients.search_patients("ada quill")] == ["Ada Quillfeather"]
    assert [p.name for p in patients.search_patients("marie")] == ["Anne-Marie Testwell"]
    assert [p.name for p in patients.search_patients("o'sam")] == ["Zoe O'Sample"]
    assert patients.search_patients("nobody") == []


def test_search_pages_do_not_overlap_and_cover_all(patients):
    pages = [patients.search_patients("sampleton", limit=10, offset=o) for o in (0, 10, 20)]
    assert [len(p) for p in pages] == [10, 10, 5]
    ids = [p.patient_id for page in pages for p in page]
    assert sorted(ids) == [f"DEMO-{i:04d}" for i in range(1, 26)]


def test_search_treats_fts_syntax_as_text(patients):
    for query in ('"', "AND", "NEAR(", "*", "-", "a OR", "(x"):
        assert isinstance(patients.search_patients(query), list)
    assert patients.search_patients("   ", limit=3) == patients.search_patients("", limit=3)
    assert [p.name for p in patients.search_patients("", limit=2)] == ["Ada Quillfeather", "Anne-Marie Testwell"]


def test_search_index_follows_new_patients(store):
    assert store.search_patients("velvetmoss") == []
    store.add_patient("NEW-1", "Hugo Velvetmoss")
    assert [p.patient_id for p in store.search_patients("velvet")] == ["NEW-1"]


def test_patient_record_has_every_section_and_is_audited(store):
    store.add_patient("P1", "Ada Quillfeather", actor="clerk", sex="f", birth_date="1950-06-01")
    store.add_encounter("P1", "dr-a", "2024-01-05", "Cough", diagnosis="Bronchitis")
    store.add_encounter("P1", "dr-a", "2025-03-01", "Fever")
    store.add_allergy("P1", "dr-a", "Penicillin", "drug", reaction="anaphylaxis", severity="life-threatening")
    store.add_allergy("P1", "dr-a", "Peanuts", "food", severity="severe")
    store.add_condition("P1", "dr-a", "COPD", since="2010-01-01")
    store.add_condition("P1", "dr-a", "Pneumonia", status="resolved")
    store.add_medication("P1", "dr-a", "Tiotropium", dose="18 µg")
    store.add_note("P1", "dr-a", "Lives alone.")
    rec = store.patient_record("P1", actor="dr-b")
    assert rec.patient.sex == "F" and rec.patient.age() is not None and rec.patient.age() >= 74
    assert [e.reason for e in rec.encounters] == ["Fever", "Cough"]  # newest first
    assert {(a.substance, a.kind) for a in rec.allergies} == {("Penicillin", "drug"), ("Peanuts", "food")}
    assert rec.active_conditions == ("COPD",)
    assert rec.medications[0].name == "Tiotropium" and rec.notes[0].author == "dr-a"
    view = store.audit_events(1)[0]
    assert (view.actor, view.action, view.obj) == ("dr-b", "view", "patient:P1")


@pytest.mark.parametrize("call", [
    lambda s: s.add_patient("", "No Id"),
    lambda s: s.add_patient("P2", "Bad Date", birth_date="31/12/1950"),
    lambda s: s.add_allergy("P1", "dr", "Dust", "airborne"),
    lambda s: s.add_allergy("P1", "dr", "Dust", "other", severity="extreme"),
    lambda s: s.add_encounter("P1", "dr", "yesterday", "Cough"),
    lambda s: s.add_condition("P1", "dr", "COPD", status="maybe"),
    lambda s: s.add_note("P1", "dr", "   "),
])
def test_invalid_input_is_refused_with_a_message(store, call):
    store.add_patient("P1", "Valid Person")
    before = store.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    with pytest.raises(ValidationError) as exc:
        call(store)
    assert str(exc.value)
    assert store.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before


def test_duplicate_mrn_is_a_conflict(store):
    store.add_patient("P1", "First")
    with pytest.raises(Conflict, match="P1"):
        store.add_patient("P1", "Second")
    assert store.get_patient("P1").name == "First"
