"""Two clinicians on the same study from two kernels (two processes, two store connections).

The later save, based on a version that is no longer current, gets ``Conflict`` (and the editor
shows the conflict message); nothing either of them confirmed is lost; once reloaded the second
clinician's edit goes in on top.
"""

from __future__ import annotations

import pytest

from lungdx_widgets.imaging import load_image
from lungdx_widgets.store import open_store
from lungdx_widgets.types import Box
from lungdx_widgets.widgets.editor import AnnotationEditor

from ..store.conftest import BACKENDS
from .conftest import PATIENT
from .processes import Worker

RACES = 2


@pytest.fixture(params=BACKENDS)
def hardening_target(request: pytest.FixtureRequest, tmp_path):
    """Both engines: the processes race on one SQLite file, or on one PostgreSQL database."""
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else tmp_path / "hardening.db"


@pytest.fixture
def shared_study(patient_store, png_bytes):
    study = patient_store.add_study(PATIENT, load_image(png_bytes), png_bytes, "doc")
    patient_store.save_annotations(study.id, [Box("Nodule", 1, 2, 3, 4, source="human")], 0, "doc")
    return study


def outcome(worker: Worker) -> str:
    lines = worker.finish()
    return next(line.split(" ", 1)[0] for line in lines if line.startswith(("CONFIRMED", "CONFLICT")))


def test_second_save_from_another_process_gets_conflict_and_nothing_is_lost(patient_store, shared_study, worker_env):
    first = Worker("edit", patient_store.target, str(shared_study.id), worker_env)
    second = Worker("edit", patient_store.target, str(shared_study.id), worker_env)
    first.wait_for("READ")
    second.wait_for("READ")  # both opened version 1
    first.send("GO")
    assert outcome(first) == "CONFIRMED"
    second.send("GO")
    assert outcome(second) == "CONFLICT"
    conflict = next(line for line in second.seen if line.startswith("CONFLICT"))
    assert "Reload" in conflict and "version 2" in conflict

    history = patient_store.annotation_history(shared_study.id)
    assert [h.version for h in history] == [1, 2]
    assert [b.label for b in history[-1].boxes] == ["Nodule", "Mass"]  # the first clinician's save is whole
    refused = patient_store.conn.execute("SELECT count(*) FROM audit_log WHERE action = 'save_annotations'").fetchone()
    assert refused[0] == 2  # a refused save writes nothing


def test_simultaneous_saves_exactly_one_wins_each_time(patient_store, shared_study, worker_env):
    for race in range(RACES):
        workers = [Worker("edit", patient_store.target, str(shared_study.id), worker_env) for _ in range(2)]
        for worker in workers:
            worker.wait_for("READ")
        for worker in workers:
            worker.send("GO")
        assert sorted(outcome(w) for w in workers) == ["CONFIRMED", "CONFLICT"]
        versions = [h.version for h in patient_store.annotation_history(shared_study.id)]
        assert versions == list(range(1, race + 3))
    assert patient_store.integrity_check() == "ok"


def test_two_dashboard_editors_on_two_connections(patient_store, shared_study):
    """The widget path: the refused editor says so, keeps the draft, and shows the winner's version."""
    with open_store(patient_store.target) as other_kernel:
        alice = AnnotationEditor(patient_store, "alice")
        bob = AnnotationEditor(other_kernel, "bob")
        alice.open_study(shared_study.id)
        bob.open_study(shared_study.id)
        assert alice.save([Box("Nodule", 1, 2, 3, 4, source="human"), Box("Mass", 9, 9, 9, 9, source="human")])
        bob_draft = [Box("Effusion", 5, 5, 20, 20, source="human")]
        assert bob.save(bob_draft) is None
        assert bob.refused_draft == bob_draft  # kept, not silently dropped
        assert "alice" in bob.viewer.message and bob.viewer.version == 2
        assert bob.save(list(bob.viewer.box_values()) + bob_draft) is not None  # reapplied on top
    newest = patient_store.annotations(shared_study.id)
    assert newest.version == 3 and {b.label for b in newest.boxes} == {"Nodule", "Mass", "Effusion"}
