"""The patient search box: Korean names found as typed; text that cannot be searched says so and clears old rows."""

from __future__ import annotations

from pathlib import Path

from lungdx_widgets.store import open_store
from lungdx_widgets.widgets.patient_search import PatientSearch


def test_korean_search_and_refused_text_in_the_widget(tmp_path: Path):
    store = open_store(tmp_path / "s.db")
    store.add_patient("K-1", "김민준")
    search = PatientSearch(store)
    search.search("ㄱㅁㅈ")
    assert search.result_ids == ["K-1"]
    for bad in ("김\x00", "\ud800", "민" * 500):
        search.search("민준")
        assert search.result_ids == ["K-1"]
        search.search(bad)
        assert search.result_ids == []
        shown = " ".join(getattr(c, "value", "") for c in search._results.children)
        assert "김민준" not in shown, "the previous query's rows must not stay on screen"
        assert "search text" in shown.lower(), shown
    store.close()
