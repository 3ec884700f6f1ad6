"""Re-analyse a stored archive with one model version on Dask (``lungdx analyze --archive --dask``).

Research and quality work re-runs tens of thousands of stored studies whenever a model version
changes, which one process cannot do in useful time. Decoding and inference run as dask.distributed
tasks (a :class:`~distributed.LocalCluster` on this machine, or any scheduler's workers: the same
code), one task per batch of studies; results come back in completion order and only this process
writes the database, one transaction per batch, through the store's own methods. Which studies
remain is asked of the store at every start (studies lacking a result from *this* model version),
so a run that was stopped resumes where it was and nothing is analysed twice. Workers read the
images from the image store's paths, so on a real cluster they must see that folder at the same
path (a shared mount). Nothing here imports a widget library.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import LungDxError
from .services import Analysed, ModelService, analyze_files, file_predictions

if TYPE_CHECKING:
    from distributed import Client

    from .store.db import Store
    from .store.records import PatientRecord, Study

#: Studies per Dask task and per write transaction (the single-process path's batch size).
BATCH_SIZE = 8
#: Tasks kept in flight per worker thread: enough that no worker waits, few enough to hold little memory.
IN_FLIGHT_PER_THREAD = 2

#: Dask's default ``MALLOC_TRIM_THRESHOLD_=65536`` for worker processes also turns off glibc's adaptive
#: mmap threshold, so every image-sized temporary is a fresh mmap: measured 6x slower per film here.
#: Workers of a real cluster want the same setting in their Dask configuration.
WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}

Progress = Callable[[int, int], None]  # (studies handled so far, studies selected)


class ArchiveError(LungDxError):
    """The archive run stopped (a task failed, or a worker has another checkpoint); what was written stays."""


@dataclass
class ArchiveReport:
    """What one run did: ``done`` stored, ``failed`` unreadable, ``skipped`` already there from this version."""

    model_version: str
    selected: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    dashboard: str | None = None
    errors: list[str] = field(default_factory=list)


# ---- worker side --------------------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def _worker_model(checkpoint: str) -> ModelService:
    """One loaded model per worker process and checkpoint (each task would otherwise reload it)."""
    import torch

    service = ModelService(checkpoint)
    service.get()
    torch.set_num_threads(1)  # Dask parallelises across workers; threads inside one only contend
    return service


def analyze_task(checkpoint: str, paths: list[str]) -> list[Analysed | str]:
    """A Dask task: decode and analyse one batch of films; an unreadable film becomes its message.

    Maps and lung masks are dropped before the result travels back: the store keeps neither.
    """
    results = analyze_files(_worker_model(checkpoint).get(), paths)
    return [str(r) if isinstance(r, LungDxError)
            else dataclasses.replace(r, findings=dataclasses.replace(r.findings, heatmaps={}, lung_mask=None))
            for r in results]


# ---- client side --------------------------------------------------------------------------

@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator["Client"]:
    """A client of ``scheduler`` (``tcp://host:8786``), else of a new local cluster of ``workers``
    one-thread worker processes (default: one per CPU core), closed afterwards."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with dask.config.set(WORKER_CONFIG), \
            LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        yield client


def select_studies(store: "Store", model_version: str, since: str | None = None) -> "list[Study]":
    """The studies this run still has to analyse (see :meth:`Store.studies_lacking_prediction`)."""
    return store.studies_lacking_prediction(model_version, since)


def write_batch(store: "Store", batch: "list[Study]", results: list[Analysed | str], model_version: str,
                actor: str, records: "dict[str, PatientRecord]", report: ArchiveReport) -> None:
    """Store one task's results in one transaction; studies this version already has are skipped
    (a task Dask ran twice after losing a worker, or a second run working on the same archive)."""
    for result in results:
        if isinstance(result, Analysed) and result.findings.model_version != model_version:
            raise ArchiveError(f"A worker analysed with model {result.findings.model_version}, not {model_version}: "
                               "every worker must see the same checkpoint file.")
    with store.transaction():
        already = store.predicted_studies(model_version, [s.id for s in batch])
        fresh = [(s, r) for s, r in zip(batch, results) if isinstance(r, Analysed) and s.id not in already]
        report.done += file_predictions(store, fresh, actor, records)
    report.skipped += sum(1 for s, r in zip(batch, results) if isinstance(r, Analysed) and s.id in already)
    for study, result in zip(batch, results):
        if isinstance(result, str):
            report.failed += 1
            report.errors.append(f"study {study.id}: {result}")


def run_archive(store: "Store", checkpoint: Path, actor: str, client: "Client", *, since: str | None = None,
                batch_size: int = BATCH_SIZE, progress: Progress = lambda _d, _n: None) -> ArchiveReport:
    """Analyse every study lacking a result from ``checkpoint``'s version on ``client``'s workers.

    Raises :class:`ArchiveError` when a task fails for good (after Dask's own retries on lost
    workers); the batches written before it stay, and the next run does only the rest.
    """
    from distributed import as_completed

    from .model.weights import checkpoint_version

    t0 = time.perf_counter()
    version = checkpoint_version(Path(checkpoint))
    studies = select_studies(store, version, since)
    report = ArchiveReport(model_version=version, selected=len(studies), dashboard=client.dashboard_link)
    batches = [studies[i:i + batch_size] for i in range(0, len(studies), batch_size)]
    todo = iter(enumerate(batches))
    in_flight = max(2, IN_FLIGHT_PER_THREAD * sum(client.nthreads().values()))
    by_key: dict[Hashable, tuple[object, list[Study]]] = {}  # in flight: dask key -> (future, its studies)
    pending = as_completed()

    def submit_next() -> None:
        for i, batch in todo:
            future = client.submit(analyze_task, str(checkpoint), [str(store.study_image_path(s)) for s in batch],
                                   key=f"lungdx-analyze-{version}-{i}-{os.getpid()}-{time.time_ns()}", pure=False)
            by_key[future.key] = (future, batch)
            pending.add(future)
            return

    for _ in range(in_flight):
        submit_next()
    records: dict[str, PatientRecord] = {}
    handled = 0
    progress(0, len(studies))
    for future in pending:
        _, batch = by_key.pop(future.key)
        try:
            results = future.result()
        except Exception as exc:  # noqa: BLE001 - any task failure stops the run; the rest resumes later
            client.cancel([f for f, _ in by_key.values()])
            raise ArchiveError(f"Archive analysis stopped after {report.done} studies: {type(exc).__name__}: {exc}. "
                               "Run it again to analyse the rest.") from exc
        submit_next()
        write_batch(store, batch, results, version, actor, records, report)
        handled += len(batch)
        progress(handled, len(studies))
    report.seconds = time.perf_counter() - t0
    return report
