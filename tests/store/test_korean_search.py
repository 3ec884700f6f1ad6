"""Korean name search (substring, 초성) and search hardening: every query is searched or refused with a message."""

from __future__ import annotations

import time

import pytest

from lungdx_widgets.store import ValidationError, open_store
from lungdx_widgets.store.db import connect
from lungdx_widgets.store.schema import apply_migrations
from lungdx_widgets.store.search import MAX_QUERY_CHARS, fold, initials

PEOPLE = [("K-1", "김민준"), ("K-2", "이서연"), ("K-3", "박민준"), ("K-4", "김 민서"), ("K-5", "고명진"),
          ("R-1", "Kim Min-jun"), ("R-2", "Ada Quillfeather")]


@pytest.fixture
def people(store):
    for mrn, name in PEOPLE:
        store.add_patient(mrn, name, actor="clerk")
    return store


def names(store, query: str) -> list[str]:
    return [p.name for p in store.search_patients(query)]


def test_given_name_finds_the_whole_korean_name(people):
    assert set(names(people, "민준")) == {"김민준", "박민준"}
    assert names(people, "김민준") == ["김민준"]
    assert names(people, "서연") == ["이서연"]
    assert set(names(people, "김")) == {"김민준", "김 민서"}


def test_a_space_inside_a_korean_name_does_not_matter(people):
    assert names(people, "김민서") == ["김 민서"]
    assert names(people, "김 민서") == ["김 민서"]


def test_initial_consonants_find_korean_names(people):
    assert set(names(people, "ㄱㅁㅈ")) == {"김민준", "고명진"}
    assert set(names(people, "ㅁㅈ")) == {"김민준", "박민준", "고명진"}
    assert names(people, "ㅇㅅㅇ") == ["이서연"]
    assert names(people, "김민ㅈ") == ["김민준"]  # not 고명진: the keyboard is still composing the last syllable


def test_romanised_and_latin_names_stay_findable(people):
    assert names(people, "min-jun") == ["Kim Min-jun"]
    assert names(people, "minjun") == ["Kim Min-jun"]
    assert names(people, "kim") == ["Kim Min-jun"]
    assert names(people, "feather") == ["Ada Quillfeather"]
    assert names(people, "ada quill") == ["Ada Quillfeather"]
    assert [p.patient_id for p in people.search_patients("k-3")] == ["K-3"]


def test_exact_mrn_ranks_first(store):
    store.add_patient("A-10", "Zed Tenner")
    store.add_patient("A-1", "Zed Oner")
    assert [p.patient_id for p in store.search_patients("a-1")] == ["A-1", "A-10"]


def test_keys():
    assert fold("José O'Brien") == "joseobrien"
    assert fold("ㄱㅁㅈ") == "ㄱㅁㅈ"  # typed initials survive compatibility folding
    assert initials("김민준 Kim") == "ㄱㅁㅈ"
    assert initials("뷁") == "ㅂ"


def test_index_follows_renames_and_deletes(people, backend):
    people.update_patient("K-1", "clerk", name="김하늘")
    assert names(people, "민준") == ["박민준"] and names(people, "ㄱㅎㄴ") == ["김하늘"]
    people.conn.execute("UPDATE patients SET name = '최지우' WHERE patient_id = 'K-2'")  # around the store
    assert names(people, "서연") == []  # never a stale hit
    # SQLite's triggers index raw SQL; PostgreSQL cannot run the Python keys in a trigger, so the
    # row waits for reindex_search (integrity_check names the gap meanwhile).
    assert people.reindex_search() == (1 if backend == "postgresql" else 0)
    assert names(people, "ㅊㅈㅇ") == ["최지우"] and people.integrity_check() == "ok"
    people.conn.execute("DELETE FROM patients WHERE patient_id = 'K-5'")
    assert names(people, "명진") == []


def test_upgrade_indexes_existing_korean_patients(tmp_path):
    db = connect(tmp_path / "old.db")
    apply_migrations(db, stop_before="0007_korean_search")
    db.execute("INSERT INTO patients (patient_id, name, created) VALUES ('OLD-1', '정하늘', '2020-01-01')")
    db.close()
    with open_store(tmp_path / "old.db") as s:
        assert [p.patient_id for p in s.search_patients("하늘")] == ["OLD-1"]
        assert [p.patient_id for p in s.search_patients("ㅈㅎㄴ")] == ["OLD-1"]
        assert s.integrity_check() == "ok"


@pytest.mark.parametrize("query", ["a\x00b", "김\x00", "\ud800", "kim\udfff", "x" * (MAX_QUERY_CHARS + 1),
                                   " ".join(["ab"] * 9)])
def test_unsearchable_text_is_refused_with_a_message(people, query):
    with pytest.raises(ValidationError) as exc:
        people.search_patients(query)
    assert len(str(exc.value)) > 20


def test_cost_is_bounded_for_long_hostile_text(people):
    worst = " ".join(["가나다라마바사아자차" * 2] * 4)[:MAX_QUERY_CHARS]
    started = time.perf_counter()
    for query in (worst, "ㄱ" * MAX_QUERY_CHARS, '"*' * 50, "a" * MAX_QUERY_CHARS):
        assert isinstance(people.search_patients(query), list)
    assert time.perf_counter() - started < 1.0
