"""One model per server: the real inference process, the kernel-side client, and the supervisor.

The process is started as the server starts it (:class:`ModelProcess`, real subprocess, real Unix
socket in a 0700 folder, real shipped checkpoint and lung segmenter) and its findings are compared
with the in-process analyzer on real films from the shared data.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lungdx_widgets.errors import LungDxError
from lungdx_widgets.imaging import load_image
from lungdx_widgets.inference import ADDRESS_ENV, TOKEN_ENV
from lungdx_widgets.inference.client import ModelServiceError, ModelServiceUnavailable, RemoteModelService
from lungdx_widgets.inference.wire import MAP_MAX_SIDE, bounded
from lungdx_widgets.server.model_process import ModelProcess
from lungdx_widgets.services import ingest

PATIENT = "Covid0000"  # the PatientID inside the shared NIH DICOM
log = logging.getLogger("test-inference")


def wait_healthy(client: RemoteModelService, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while not client.healthy():
        assert time.monotonic() < deadline, "the inference process never answered"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def model_process():
    process = ModelProcess(log)
    process.start()
    client = RemoteModelService(process.socket, process.token, timeout=300)
    wait_healthy(client)
    yield process, client
    process.stop()
    assert not process.folder.exists(), "stopping removes the private folder and its socket"


def test_the_socket_lives_in_a_private_folder_and_needs_the_token(model_process):
    process, client = model_process
    assert stat.S_IMODE(process.folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(os.stat(process.socket).st_mode) & 0o077 == 0
    with pytest.raises(ModelServiceError):
        RemoteModelService(process.socket, "not-the-token").get()


def test_findings_through_the_process_equal_the_in_process_analyzer(model_process, shared_dicoms, shared_data):
    from lungdx_widgets.model import Analyzer

    _, client = model_process
    local = Analyzer.load()
    remote = client.get()
    assert remote.version == local.version and remote.labels == local.labels
    films = [load_image(p) for p in shared_dicoms[:2]] + [load_image(sorted((shared_data / "images").glob("*.png"))[0])]
    for radiograph in films:
        mine, theirs = local.analyze(radiograph), remote.analyze(radiograph)
        assert theirs.model_version == mine.model_version
        for label, p in mine.probabilities().items():
            q = theirs.probabilities()[label]
            assert (p is None) == (q is None), label
            if p is not None:
                assert abs(p - q) < 1e-5, (label, p, q)
        assert [b.as_dict() for b in theirs.boxes] == [b.as_dict() for b in mine.boxes]
        assert theirs.out_of_distribution == mine.out_of_distribution and theirs.warnings == mine.warnings
        assert theirs.ood_score == pytest.approx(mine.ood_score, rel=1e-5)
        assert mine.lung_mask is not None and np.array_equal(theirs.lung_mask, mine.lung_mask)
        assert set(theirs.heatmaps) == set(mine.heatmaps)
        assert theirs.image_size == mine.image_size == radiograph.size
        rows, cols = radiograph.size
        for label, heat in theirs.heatmaps.items():
            assert max(heat.shape) == min(MAP_MAX_SIDE, max(rows, cols))  # bounded, the film's aspect kept
            assert abs(heat.shape[1] / heat.shape[0] - cols / rows) < 0.01 * cols / rows + 1 / min(heat.shape)
            assert np.abs(heat - bounded(mine.heatmaps[label])).max() < 2e-3, label  # float16 on the wire


def test_a_kernel_side_client_gets_findings_without_importing_torch(model_process, tmp_path, shared_dicoms):
    """What a dashboard kernel of ``lungdx serve`` does (ingest, the dashboard reopening the study): torch never loaded."""
    process, _ = model_process
    nih = next(p for p in shared_dicoms if p.name.startswith("nih_"))
    script = f"""
import json, sys
from lungdx_widgets.services import ingest, shared_model_service
from lungdx_widgets.store import open_store
service = shared_model_service()
with open_store({str(tmp_path / 'kernel.db')!r}) as store:
    store.add_patient({PATIENT!r}, "Test Patient", actor="test")
    service.warm_up()
    result = ingest(store, {PATIENT!r}, open({str(nih)!r}, "rb").read(), "doc", filename="a.dcm", analyzer=service)
    stored = store.latest_prediction(result.study.id)
    store.add_user("doc", "doc-password-123", "clinician")
    from lungdx_widgets.app import Dashboard  # the dashboard as Voila builds it, then the study reopened
    dashboard = Dashboard(store, "doc")
    dashboard.open_study(result.study.id)  # recomputes its heatmaps through the service
    reopened = sorted(dashboard.viewer.heatmaps)
print(json.dumps({{"service": type(service).__name__, "error": result.model_error, "version": stored.model_version,
                  "reopened": reopened,
                  "heatmaps": sorted(result.findings.heatmaps), "lung_mask": result.findings.lung_mask is not None,
                  "level": result.triage.level,
                  "torch": sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))}}))
"""
    env = dict(os.environ, **{ADDRESS_ENV: process.socket, TOKEN_ENV: process.token})
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["service"] == "RemoteModelService" and doc["error"] is None
    assert doc["torch"] == [], "the kernel imported torch although the server serves the model"
    assert doc["version"].startswith("lungdx-demo") and "abnormal" in doc["heatmaps"] and doc["lung_mask"]
    assert doc["reopened"] == doc["heatmaps"], "the reopened study's maps came from the shared model too"


def test_a_killed_process_is_restarted_and_meanwhile_analyses_fail_with_a_message(tmp_path, store, shared_dicoms):
    process = ModelProcess(log)
    process.start()
    client = RemoteModelService(process.socket, process.token, timeout=3)
    try:
        wait_healthy(client)
        first = process.proc.pid
        os.kill(first, signal.SIGKILL)
        process.proc.wait(timeout=10)
        started = time.monotonic()
        with pytest.raises(ModelServiceUnavailable, match="not running"):
            client.get()
        assert time.monotonic() - started < 2, "a dead process is reported at once"
        store.add_patient(PATIENT, "Test Patient", actor="test")
        nih = next(p for p in shared_dicoms if p.name.startswith("nih_")).read_bytes()
        result = ingest(store, PATIENT, nih, "doc", analyzer=client)
        assert result.prediction is None and "AI analysis unavailable" in result.message
        assert "model service is not running" in result.model_error, "the dashboard shows words, not a traceback"
        deadline = time.monotonic() + 20
        while process.proc.pid == first:
            assert time.monotonic() < deadline, "the supervisor never restarted the process"
            process.check()
            time.sleep(0.1)
        assert process.restarts == 1
        wait_healthy(client)
    finally:
        process.stop()


def test_a_stuck_process_gives_a_timeout_not_a_hang(model_process, shared_dicoms):
    process, _ = model_process
    client = RemoteModelService(process.socket, process.token, timeout=2)
    os.kill(process.proc.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(ModelServiceUnavailable, match="did not answer within 2 s"):
            client.analyze(load_image(shared_dicoms[0]))
        assert time.monotonic() - started < 10
    finally:
        os.kill(process.proc.pid, signal.SIGCONT)
    assert isinstance(ModelServiceUnavailable("x"), LungDxError)  # so ingest files the study and says why


def test_without_the_variable_the_model_stays_in_process(monkeypatch):
    from lungdx_widgets import services

    monkeypatch.delenv(ADDRESS_ENV, raising=False)
    monkeypatch.setattr(services, "_shared", None)
    assert type(services.shared_model_service()) is services.ModelService
    monkeypatch.setattr(services, "_shared", None)
    monkeypatch.setenv(ADDRESS_ENV, str(Path("/nonexistent/model.sock")))
    assert type(services.shared_model_service()).__name__ == "RemoteModelService"
    monkeypatch.setattr(services, "_shared", None)
