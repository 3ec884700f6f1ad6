"""Annotations: versions never overwritten, stale saves refused, addenda after sign-off."""

from __future__ import annotations

import pytest

from lungdx_widgets.store import Conflict, open_store
from lungdx_widgets.types import Box

from .conftest import load

BOX_A = Box("Pneumonia", 10, 20, 100, 80, score=0.9, source="ai", status="accepted")
BOX_B = Box("Effusion", 200, 300, 50, 60, source="human", status="edited")


@pytest.fixture
def study(store, png_files):
    store.add_patient("P1", "Ada Quillfeather")
    return store.add_study("P1", *load(png_files[0]), "dr-a")


def test_versions_are_kept_and_stale_saves_refused(store, study, integrity_error):
    empty = store.annotations(study.id)
    assert (empty.version, empty.boxes) == (0, ())
    v1 = store.save_annotations(study.id, [BOX_A], based_on_version=0, actor="dr-a")
    v2 = store.save_annotations(study.id, [BOX_A, BOX_B], based_on_version=1, actor="dr-b")
    assert (v1.version, v2.version, v2.based_on, v2.boxes) == (1, 2, 1, (BOX_A, BOX_B))
    with pytest.raises(Conflict, match=r"changed by dr-b .*version 2.*version 1"):
        store.save_annotations(study.id, [], based_on_version=1, actor="dr-a")
    history = store.annotation_history(study.id)
    assert [(h.version, h.author, h.boxes) for h in history] == [(1, "dr-a", (BOX_A,)), (2, "dr-b", (BOX_A, BOX_B))]
    assert store.annotations(study.id) == v2
    with pytest.raises(integrity_error, match="never overwritten"):
        store.conn.execute("UPDATE annotations SET x = 0")
    with pytest.raises(integrity_error, match="never overwritten"):
        store.conn.execute("DELETE FROM annotation_sets")


def test_two_users_on_two_connections(store, study, store_target):
    other = open_store(store_target)
    try:
        seen_by_a = store.annotations(study.id).version
        seen_by_b = other.annotations(study.id).version
        store.save_annotations(study.id, [BOX_A], seen_by_a, "dr-a")
        with pytest.raises(Conflict):
            other.save_annotations(study.id, [BOX_B], seen_by_b, "dr-b")
        assert other.annotations(study.id).boxes == (BOX_A,)
    finally:
        other.close()


def test_saves_after_sign_off_are_addenda(store, study):
    store.save_annotations(study.id, [BOX_A], 0, "dr-a")
    assert store.first_signoff(study.id) is None
    signed = store.sign_study(study.id, "dr-a", {"Pneumonia": True, "Effusion": False}, comment="agree")
    assert (signed.annotation_version, signed.agreement["Effusion"]) == (1, False)
    assert "disagree: Effusion" in store.audit_events(1, action="sign_study")[0].detail
    v2 = store.save_annotations(study.id, [BOX_A, BOX_B], 1, "dr-c")
    assert v2.addendum and not store.annotation_history(study.id)[0].addendum
    assert store.worklist(date_of(study))[0].signed


def date_of(study):
    from datetime import date

    return date.fromisoformat(study.acquired[:10])
