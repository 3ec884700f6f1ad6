"""An analysis never blocks the kernel: the upload runs on a worker thread with its own store connection.

Issue 16: while one film was analysed (seconds for a large one) every click of the dashboard waited.
These tests run the panel on a real asyncio loop standing in for the kernel's, with a model that is held
until the test releases it, and check the loop (where every widget message is handled) stays free.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lungdx_widgets.errors import LungDxError
from lungdx_widgets.store import open_store
from lungdx_widgets.widgets import upload as upload_module
from lungdx_widgets.widgets.upload import UploadPanel

CLINICIAN = "dr_ada"


class HeldModel:
    """A model that answers only once released (then says it cannot run: the study stays filed)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.threads: list[str] = []

    def analyze(self, radiograph):
        self.threads.append(threading.current_thread().name)
        self.started.set()
        assert self.release.wait(30), "the test never released the model"
        raise LungDxError("held model released")


@pytest.fixture()
def clinic(tmp_path: Path):
    s = open_store(tmp_path / "clinic.db")
    s.add_user(CLINICIAN, "pw-clinician-1", "clinician")
    s.add_patient("MRN-1", "Harriet Quill", sex="F", birth_date="1950-04-02")
    s.add_patient("MRN-2", "Harold Quimby", sex="M", birth_date="1971-09-30")
    yield s
    s.close()


async def _until(condition, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


def _run_in_a_kernel_loop(monkeypatch, scenario):
    """``scenario`` on a fresh loop in a thread of its own (this thread may already run a browser driver's loop)."""
    monkeypatch.setattr(upload_module, "kernel_loop", asyncio.get_running_loop)  # the scenario's loop is the kernel's
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kernel") as kernel:
        kernel.submit(asyncio.run, scenario()).result(timeout=120)


def test_the_loop_keeps_answering_while_a_film_is_analysed(clinic, shared_data, monkeypatch):
    png = sorted((shared_data / "images").glob("*.png"))[0]
    model = HeldModel()
    panel = UploadPanel(clinic, CLINICIAN, analyzer=model)
    panel.patient_id = "MRN-1"
    outcomes = []
    panel.on_done(outcomes.append)

    async def scenario():
        assert panel.handle(png.read_bytes(), png.name) is None, "handle returns before the analysis"
        assert panel.busy
        await _until(model.started.is_set)
        ticks = 0
        for _ in range(10):  # the loop (every widget message) runs while the model is held
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 10 and panel.busy and not outcomes
        assert [p.patient_id for p in clinic.search_patients("Quimby")] == ["MRN-2"], "the store still answers"
        assert "lx-muted" in panel.status.value, "the progress step reached the page from the worker"
        model.release.set()
        await _until(lambda: not panel.busy)

    _run_in_a_kernel_loop(monkeypatch, scenario)
    assert model.threads and model.threads[0].startswith("lungdx-upload"), "analysed off the kernel's thread"
    [outcome] = outcomes
    assert outcome.model_error == "held model released" and "AI analysis unavailable" in panel.status.value
    assert [s.id for s in clinic.studies_for_patient("MRN-1")] == [outcome.study.id], "filed through its own connection"


def test_a_patient_switch_during_analysis_says_where_the_film_went(clinic, shared_data, monkeypatch):
    png = sorted((shared_data / "images").glob("*.png"))[1]
    model = HeldModel()
    panel = UploadPanel(clinic, CLINICIAN, analyzer=model)
    panel.patient_id = "MRN-1"

    async def scenario():
        panel.handle(png.read_bytes(), png.name)
        await _until(model.started.is_set)
        panel.patient_id = "MRN-2"  # the reader opens someone else meanwhile
        model.release.set()
        await _until(lambda: not panel.busy)

    _run_in_a_kernel_loop(monkeypatch, scenario)
    assert "was filed for patient MRN-1" in panel.status.value
    assert len(clinic.studies_for_patient("MRN-1")) == 1 and clinic.studies_for_patient("MRN-2") == []
