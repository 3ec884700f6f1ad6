"""Archive re-analysis on a real Dask LocalCluster, real store files and the shared films.

The single-process path (``lungdx analyze --archive`` without ``--dask``) is the reference: the Dask
path must store the same results, survive a worker killed mid-run, resume after a crash, report progress.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lungdx_widgets.archive import ArchiveError, ArchiveReport, analyze_task, dask_client, run_archive, write_batch
from lungdx_widgets.model.weights import checkpoint_version
from lungdx_widgets.store import open_store
from lungdx_widgets.store.demo import create_demo_database

from .learning.conftest import tiny_checkpoint

ACTOR = "archive-test"
#: What a result is (its id, time, author and timings differ between runs by design).
COMPARED = ("study_id", "model_version", "probabilities_json", "thresholds_json", "boxes_json", "triage_level",
            "triage_reasons_json", "out_of_distribution", "ood_score")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("archive-model") / "tiny.pt")


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """A small demo archive: the demo patients' films filed, none analysed."""
    path = tmp_path_factory.mktemp("archive") / "demo.db"
    create_demo_database(path, n_patients=6, analyze=False)
    return path


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2) as c:
        yield c


@pytest.fixture
def copy(archive, tmp_path):
    def make(name: str) -> Path:
        return Path(shutil.copy(archive, tmp_path / f"{name}.db"))
    return make


@pytest.fixture(scope="module")
def reference(archive, checkpoint, tmp_path_factory) -> list[tuple]:
    """The single-process CLI's results on the archive (the path ``lungdx init --demo`` also takes)."""
    db = Path(shutil.copy(archive, tmp_path_factory.mktemp("reference") / "single.db"))
    out = _cli("--db", str(db), "--model", str(checkpoint))
    assert out["done"] == out["selected"] == _count(db, "studies") > 10
    return _results(db)


def _cli(*args: str) -> dict:
    run = subprocess.run([sys.executable, "-m", "lungdx_widgets.cli", "analyze", "--archive", "--json", *args],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def _count(db: Path, table: str) -> int:
    with open_store(db) as store:
        return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _results(db: Path) -> list[tuple]:
    with open_store(db) as store:
        return store.conn.execute(f"SELECT {', '.join(COMPARED)} FROM predictions ORDER BY study_id").fetchall()


def test_dask_path_stores_what_the_single_process_path_stores_and_reports_progress(client, copy, checkpoint, reference):
    db = copy("dask")
    seen: list[tuple[int, int]] = []
    with open_store(db) as store:
        report = run_archive(store, checkpoint, ACTOR, client, progress=lambda d, n: seen.append((d, n)))
    assert (report.done, report.failed, report.skipped) == (len(reference), 0, 0)
    assert report.model_version == checkpoint_version(checkpoint) == reference[0][1]
    assert report.dashboard and report.dashboard.startswith("http")
    assert _results(db) == reference  # same batches, same network: the same numbers, bit for bit
    assert seen[0] == (0, len(reference)) and seen[-1] == (len(reference), len(reference))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 2
    with open_store(db) as store:  # every written result is on the audit trail, by the client process
        audited = store.conn.execute("SELECT count(*) FROM audit_log WHERE action = 'add_prediction' AND actor = ?",
                                     (ACTOR,)).fetchone()[0]
        assert audited == len(reference)
        again = run_archive(store, checkpoint, ACTOR, client)
    assert (again.selected, again.done) == (0, 0)  # resumes: nothing left for this model version


def test_cli_on_a_scheduler_address_and_since_and_another_version(client, copy, checkpoint, tmp_path, reference):
    db = copy("cli")
    with open_store(db) as store:
        dates = sorted(s.acquired for s in store.studies_lacking_prediction("none"))
    since = dates[len(dates) // 2][:10]  # a plain date, as typed
    later = sum(d >= since for d in dates)
    out = _cli("--db", str(db), "--model", str(checkpoint), "--since", since, "--dask", client.cluster.scheduler_address)
    assert (out["selected"], out["done"]) == (later, later) and 0 < later < len(reference)
    assert out["dashboard"].startswith("http")
    other = tiny_checkpoint(tmp_path / "other.pt", seed=1)  # a new version re-analyses everything
    with open_store(db) as store:
        assert len(store.studies_lacking_prediction(checkpoint_version(other))) == len(reference)
        assert len(store.studies_lacking_prediction(checkpoint_version(checkpoint))) == len(reference) - later


class _Crash(Exception):
    pass


def test_a_crashed_run_resumes_and_does_only_the_rest(client, copy, checkpoint, reference):
    db = copy("crash")

    def crash_after_first_batch(done: int, _total: int) -> None:
        if done:
            raise _Crash

    with open_store(db) as store, pytest.raises(_Crash):
        run_archive(store, checkpoint, ACTOR, client, batch_size=4, progress=crash_after_first_batch)
    assert _count(db, "predictions") == 4
    with open_store(db) as store:
        report = run_archive(store, checkpoint, ACTOR, client, batch_size=4)
    assert (report.selected, report.done) == (len(reference) - 4, len(reference) - 4)
    assert [r[0] for r in _results(db)] == [r[0] for r in reference]  # each study once


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(client, copy, checkpoint, reference):
    db = copy("killed")
    before = client.run(os.getpid)
    killed: list[int] = []

    def kill_a_worker(done: int, _total: int) -> None:
        if done and not killed:
            pid = sorted(before.values())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    with open_store(db) as store:
        report = run_archive(store, checkpoint, ACTOR, client, batch_size=2, progress=kill_a_worker)
    assert killed and killed[0] not in client.run(os.getpid).values()
    assert (report.done, report.failed) == (len(reference), 0)
    got = _results(db)
    assert [r[0] for r in got] == [r[0] for r in reference]  # every study, each exactly once
    for mine, ref in zip(got, reference):  # batches of 2, not 8: equal up to float rounding
        probs, ref_probs = json.loads(mine[2]), json.loads(ref[2])
        assert probs.keys() == ref_probs.keys()
        assert all((p is None) == (q is None) and (p is None or abs(p - q) < 1e-5)
                   for p, q in ((probs[k], ref_probs[k]) for k in probs))


def test_a_worker_with_another_checkpoint_file_stops_the_run(client, copy, checkpoint, tmp_path):
    moved = tmp_path / "tiny.pt"  # same file name, different weights on the workers' side of the path
    tiny_checkpoint(moved, seed=3)
    db = copy("mismatch")
    with open_store(db) as store:
        version = checkpoint_version(checkpoint)
        batch = store.studies_lacking_prediction(version)[:2]
        results = analyze_task(str(moved), [str(store.study_image_path(s)) for s in batch])
        with pytest.raises(ArchiveError, match="same checkpoint"):
            write_batch(store, batch, results, version, ACTOR, {}, ArchiveReport(version, 2))
    assert _count(db, "predictions") == 0


def test_archive_flags_without_archive_are_refused(checkpoint, tmp_path, capsys):
    from lungdx_widgets.cli import main

    db = str(tmp_path / "empty.db")
    assert main(["analyze", "--db", db, "--model", str(checkpoint), "--since", "2025-01-01", "film.png"]) == 2
    assert "go with --archive" in capsys.readouterr().err
    assert main(["analyze", "--db", db, "--model", str(checkpoint)]) == 2
    assert "needs FILE" in capsys.readouterr().err


def test_local_workers_keep_glibcs_adaptive_malloc(client):
    # Dask's default MALLOC_TRIM_THRESHOLD_ made each film 6x slower to analyse (bench_archive.py)
    assert set(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()) == {None}
    assert set(client.run(lambda: os.environ.get("OMP_NUM_THREADS")).values()) == {"1"}
