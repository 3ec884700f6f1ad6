"""The bilingual clinical vocabulary: one concept per SNOMED CT code, Korean and English terms, free-text coding."""

from __future__ import annotations

import pytest

from lungdx_widgets import vocabulary as v
from lungdx_widgets.hangul import fold
from lungdx_widgets.store import ValidationError
from lungdx_widgets.store.db import connect
from lungdx_widgets.store import open_store
from lungdx_widgets.store.schema import apply_migrations


def test_every_concept_has_a_unique_code_and_both_languages():
    assert len({c.code for c in v.CONCEPTS}) == len(v.CONCEPTS)
    assert all(c.code.isdigit() and 6 <= len(c.code) <= 18 for c in v.CONCEPTS), "SNOMED CT ids are digits"
    assert all(c.en and any("\uac00" <= ch <= "\ud7a3" for ch in c.ko) for c in v.CONCEPTS)
    names = [fold(n) for c in v.CONCEPTS for n in c.names]
    assert len(names) == len(set(names)), "a name belongs to one concept only"


@pytest.mark.parametrize("text, code", [("심부전", v.HEART_FAILURE), ("Heart failure", v.HEART_FAILURE),
                                        ("만성 폐쇄성 폐질환", v.COPD), ("만성폐쇄성폐질환", v.COPD), ("copd", v.COPD),
                                        ("천식", v.ASTHMA), ("CHF", v.CONGESTIVE_HEART_FAILURE)])
def test_exact_terms_are_coded(text, code):
    assert v.code_text(text, "condition") == (code, "coded")


@pytest.mark.parametrize("text, coding", [("Asthma and COPD overlap", "review"), ("no history of asthma", "review"),
                                          ("Immunosuppression (kidney transplant)", "review"),
                                          ("Gout", "free"), ("archival", "free")])
def test_other_text_is_not_guessed(text, coding):
    assert v.code_text(text, "condition") == ("", coding)


def test_latin_names_match_whole_words_only():
    assert v.concepts_named("archival chafing") == []
    assert [c.code for c in v.concepts_named("Congestive heart failure")] == [v.CONGESTIVE_HEART_FAILURE]


def test_picked_code_is_stored_and_checked(store):
    store.add_patient("P1", "Ada Quill")
    c = store.add_condition("P1", "dr", "", code=v.ASTHMA)
    assert (c.name, c.code, c.coding) == ("Asthma", v.ASTHMA, "coded")
    a = store.add_allergy("P1", "dr", "땅콩", "food")
    assert (a.code, a.coding) == ("256349002", "coded")
    with pytest.raises(ValidationError):
        store.add_condition("P1", "dr", "x", code="256349002")  # a substance is not a condition


def test_migration_maps_existing_rows_where_unambiguous(tmp_path):
    db = connect(tmp_path / "old.db")
    apply_migrations(db, stop_before="0007_korean_vocabulary")
    db.execute("INSERT INTO patients (patient_id, name, created) VALUES ('P', 'Old', '2020-01-01')")
    for name in ("Heart failure", "천식", "Asthma and COPD overlap", "Gout"):
        db.execute("INSERT INTO conditions (patient_id, name) VALUES ('P', ?)", (name,))
    db.execute("INSERT INTO allergies (patient_id, substance, kind) VALUES ('P', 'Aspirin', 'drug')")
    db.close()
    with open_store(tmp_path / "old.db") as s:
        rows = s.conn.execute("SELECT name, code, coding FROM conditions ORDER BY id").fetchall()
        assert rows == [("Heart failure", v.HEART_FAILURE, "coded"), ("천식", v.ASTHMA, "coded"),
                        ("Asthma and COPD overlap", "", "review"), ("Gout", "", "free")]
        assert s.conn.execute("SELECT code, coding FROM allergies").fetchall() == [("387458008", "coded")]


def test_a_pick_list_entry_is_coded_when_typed_or_picked():
    for lang in ("en", "ko"):
        for label, code in v.choices("condition", lang) + v.choices("substance", lang):
            assert v.code_text(label, v.concept(code).kind) == (code, "coded"), label
    assert v.code_text("심부전 (asthma)", "condition") == ("", "review")


def test_choices_are_bilingual():
    ko = dict(v.choices("condition", "ko"))
    assert ko["심부전 (Heart failure)"] == v.HEART_FAILURE
    assert dict(v.choices("condition", "en"))["COPD (만성 폐쇄성 폐질환)"] == v.COPD


def test_stored_text_is_shown_as_typed_in_its_own_language():
    assert v.term("256349002", "Peanuts", "en") == "Peanuts"
    assert v.term("256349002", "Peanuts", "ko") == "땅콩"
    assert v.term("256349002", "땅콩", "en") == "Peanut"
    assert v.term("", "Gout", "ko") == "Gout"
