"""The main use case as core services: one ingest path and one model service for every entry point.

The dashboard's upload panel, ``lungdx import``/``lungdx analyze --patient``, the demo set-up and the
PACS pull all file images through :func:`ingest`, so a rule of the path (refuse before writing,
duplicates keep their stored result, triage sees the patient record) holds for all of them.
Nothing here imports a widget library, and nothing happens at import time: the model registry is
consulted only through the resolver a :class:`ModelService` was given (MONAI Label's infer tasks are
the model: the UI, CLI and REST layers only call them).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .config import is_postgres_url
from .errors import LungDxError
from .i18n import N_, format_datetime, gettext  # messages in the reader's language
from .imaging import load_image
from .triage import assess
from .types import Findings, Radiograph, Triage

if TYPE_CHECKING:  # the store and model are only needed when called (torch is slow to import)
    from .model.analyze import Analyzer
    from .store.db import Store
    from .inference.client import RemoteModelService
    from .store.records import PatientRecord, Prediction, Signoff, Study

#: Gives the checkpoint to use now, or None for "no opinion" (then the shipped default is used).
Resolver = Callable[[], Path | None]
Progress = Callable[[str, float], None]


def registry_resolver(db: Path | str | None = None) -> Resolver:
    """A resolver for the model registry's active version in ``db`` (default: ``Settings.db``).

    Read on every call, so an analyst's activation or rollback reaches open dashboards without a restart.
    """
    def resolve() -> Path | None:
        from .learning.activation import active_model_for_configured_db, active_model_path

        if db is None:
            return active_model_for_configured_db()
        if not is_postgres_url(db) and not Path(db).is_file():
            return None
        from .store import open_store

        with open_store(db) as store:
            return active_model_path(store)
    return resolve


class ModelService:
    """One cached :class:`~lungdx_widgets.model.Analyzer` per process or dashboard; thread-safe.

    ``path`` pins a checkpoint. Without it, ``resolver`` (default: :func:`registry_resolver`) is asked
    before each analysis and the analyzer is reloaded when its answer changes; the choice stays
    inside this object (no global registration), so creating one changes nothing else.
    """

    def __init__(self, path: Path | str | None = None, *, resolver: Resolver | None = None) -> None:
        self._path = Path(path) if path is not None else None
        self._resolver = resolver if resolver is not None else registry_resolver()
        self._lock = threading.Lock()
        self._analyzer: Analyzer | None = None

    def checkpoint(self) -> Path:
        """The checkpoint the next analysis uses: the pinned path, else the resolver's, else the shipped default."""
        if self._path is not None:
            return self._path
        from .model.weights import default_model_path

        return self._resolver() or default_model_path()

    def get(self) -> "Analyzer":
        """The loaded analyzer; raises its ``LungDxError`` (e.g. ``WeightsMissing``) every time it cannot load."""
        from .model.analyze import Analyzer  # torch import is slow: only when needed

        with self._lock:
            wanted = self.checkpoint()
            if self._analyzer is None or Path(self._analyzer.checkpoint.path) != wanted:
                self._analyzer = Analyzer.load(wanted)
            return self._analyzer

    def warm_up(self, before: Callable[[], None] = lambda: None) -> None:
        """Load in a background thread so the first upload does not pay for it (``before`` runs first)."""
        warm_up_in_background(self.get, before)


def warm_up_in_background(load: Callable[[], object], before: Callable[[], None] = lambda: None) -> None:
    """Run ``before`` then ``load`` in a daemon thread; errors wait for the first real use to be shown."""
    def _load() -> None:
        try:
            before()
            load()
        except Exception:  # noqa: BLE001 - reported to the clinician on first real use
            pass
    threading.Thread(target=_load, name="lungdx-model-warmup", daemon=True).start()


_shared: "ModelService | RemoteModelService | None" = None
_shared_lock = threading.Lock()


def shared_model_service() -> "ModelService | RemoteModelService":
    """The process-wide service (created on first call).

    In a kernel of ``lungdx serve`` (the server sets :data:`~lungdx_widgets.inference.ADDRESS_ENV`)
    it is the server's inference process, and this process never imports torch; elsewhere the model
    is loaded here, following the configured registry.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            from .inference.client import RemoteModelService

            _shared = RemoteModelService.from_environment() or ModelService()
        return _shared


class _Analyzes(Protocol):
    def analyze(self, radiograph: Radiograph) -> Findings: ...


class _VersionedAnalyzer(_Analyzes, Protocol):
    """What a service's ``get()`` gives: an analyser that names its model version (the dashboard compares it)."""

    @property
    def version(self) -> str: ...


@runtime_checkable
class ProvidesAnalyzer(Protocol):
    """A model service: local (:class:`ModelService`) or the server's (``inference.client.RemoteModelService``)."""

    def get(self) -> _VersionedAnalyzer: ...

    def warm_up(self, before: Callable[[], None] = ...) -> None: ...


AnalyzerLike = ProvidesAnalyzer | _Analyzes


@dataclass(frozen=True)
class IngestResult:
    """What filing one image produced.

    ``prediction``/``findings``/``triage`` are None when no analysis ran (none asked for, or the
    model failed: ``model_error`` says why). ``duplicate``: the same bytes were already on file for
    this patient; the stored study and result are returned and nothing is re-analysed.
    """

    study: "Study"
    radiograph: Radiograph
    prediction: "Prediction | None" = None
    findings: Findings | None = None
    triage: Triage | None = None
    duplicate: bool = False
    message: str = ""
    model_error: str | None = None
    signoff: "Signoff | None" = None
    source: str = "upload"
    timings: dict[str, float] = field(default_factory=dict)


def duplicate_message(signoff: "Signoff | None") -> str:
    """What a person reads when a film is filed twice (its stored result stays as it is)."""
    if signoff is not None:
        return gettext(N_("Already on file, signed by {who} at {when}: the signed study is opened; its result is not "
                          "changed.")).format(who=signoff.signed_by, when=format_datetime(signoff.signed_at))
    return gettext(N_("Already on file: the stored study and its AI result are opened (not analysed again)."))


def _get_analyzer(analyzer: AnalyzerLike) -> _Analyzes:
    return analyzer.get() if isinstance(analyzer, ProvidesAnalyzer) else analyzer


def ingest(store: "Store", patient_id: str, data: bytes, actor: str, *, filename: str | None = None,
           source: str = "upload", analyzer: AnalyzerLike | None = None, confirm_identity_mismatch: bool = False,
           record: "PatientRecord | None" = None, acquired: str | None = None, radiograph: Radiograph | None = None,
           before_filing: Callable[[Radiograph], None] | None = None,
           on_filed: Callable[["Study", Radiograph], None] | None = None,
           progress: Progress = lambda _s, _f: None) -> IngestResult:
    """load → ``store.add_study`` → analyse → ``triage.assess(findings, record)`` → ``store.add_prediction``.

    Raises the imaging layer's ``LungDxError`` (or ``IdentityMismatch``) before anything is written.
    ``analyzer`` None files the image without analysis (``lungdx import``). A model that cannot run
    leaves the study filed, unanalysed, with ``model_error`` set. ``before_filing`` and ``on_filed``
    run inside the study's transaction (the PACS pull creates a stub patient before and records the
    SOP Instance UID after, so all or none are written). ``record`` defaults to the patient's record,
    read (and audited) as ``actor``.
    ``radiograph``: these bytes already decoded by the caller (who read the DICOM header to match
    the patient, or completed the view), so they are not decoded twice.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    progress(N_("Reading image"), 0.1)
    if radiograph is None:
        radiograph = load_image(data, filename=filename)
    timings["load"] = time.perf_counter() - t0
    progress(N_("Saving study"), 0.3)
    sha = hashlib.sha256(data).hexdigest()
    already = any(s.sha256 == sha for s in store.studies_for_patient(patient_id))
    with store.transaction():
        if before_filing is not None:
            before_filing(radiograph)
        study = store.add_study(patient_id, radiograph, data, actor, filename=filename,
                                confirm_identity_mismatch=confirm_identity_mismatch, acquired=acquired)
        if on_filed is not None:
            on_filed(study, radiograph)
    timings["store"] = time.perf_counter() - t0 - timings["load"]
    base = IngestResult(study=study, radiograph=radiograph, source=source, timings=timings, duplicate=already)
    if already:  # the same film again: what is on file is opened; a stored (maybe signed) result is never redone
        signoff, prediction = store.latest_signoff(study.id), store.latest_prediction(study.id)
        if signoff is not None or prediction is not None or analyzer is None:
            return replace(base, prediction=prediction, signoff=signoff, message=duplicate_message(signoff))
    if analyzer is None:
        return replace(base, message=f"study {study.id} filed for patient {patient_id} (not analysed)")
    progress(N_("Analysing"), 0.5)
    t1 = time.perf_counter()
    try:
        findings = _get_analyzer(analyzer).analyze(radiograph)
    except LungDxError as exc:
        return replace(base, model_error=str(exc), message=f"Study saved. AI analysis unavailable: {exc}")
    timings["analyze"] = time.perf_counter() - t1
    progress(N_("Triage"), 0.9)
    if record is None:
        record = store.patient_record(patient_id, actor)
    triage = assess(findings, record, image_size=radiograph.size)
    prediction = store.add_prediction(study.id, findings, triage, actor)
    timings["total"] = time.perf_counter() - t0
    return replace(base, prediction=prediction, findings=findings, triage=triage,
                   message=f"analysed in {timings['total']:.1f} s ({triage.level})")


@dataclass(frozen=True)
class Analysed:
    """One film's model output and its size (triage measures box extent against it); small enough to
    send back from a Dask worker, since the maps are not computed."""

    findings: Findings
    image_size: tuple[int, int]


def analyze_files(analyzer: AnalyzerLike, paths: "Sequence[Path | str]") -> "list[Analysed | LungDxError]":
    """Decode each file and analyse the readable ones in one forward pass; one entry per path, in order.

    No heatmaps: batch analysis stores probabilities, boxes and triage, never maps. Shared by
    :func:`analyze_pending` and the archive's Dask workers, so both give the same result for a film.
    """
    model = _get_analyzer(analyzer)
    batch = getattr(model, "analyze_batch", None)
    loaded: list[Radiograph | LungDxError] = []
    for path in paths:
        try:
            loaded.append(load_image(path))
        except LungDxError as exc:
            loaded.append(exc)
    good = [r for r in loaded if isinstance(r, Radiograph)]
    findings = iter(batch(good, heatmaps=False) if batch else [model.analyze(r) for r in good])
    return [r if isinstance(r, LungDxError) else Analysed(next(findings), r.size) for r in loaded]


def file_predictions(store: "Store", results: "list[tuple[Study, Analysed]]", actor: str,
                     records: "dict[str, PatientRecord] | None" = None) -> int:
    """Triage each result with its patient's record and store it, all in one transaction; returns how many.

    ``records`` caches patient records across calls (one audited read per patient per run).
    """
    records = {} if records is None else records
    with store.transaction():
        for study, result in results:
            if study.patient_id not in records:
                records[study.patient_id] = store.patient_record(study.patient_id, actor)
            triage = assess(result.findings, records[study.patient_id], image_size=result.image_size)
            store.add_prediction(study.id, result.findings, triage, actor)
    return len(results)


def analyze_pending(store: "Store", analyzer: AnalyzerLike, actor: str, *, batch_size: int = 8,
                    studies: "list[Study] | None" = None) -> tuple[int, int]:
    """Analyse filed studies without a result (default: all of them), a batch at a time; returns (done, failed).

    Batched because the network is several times faster on CPU per image in a batch (demo set-up,
    a PACS pull that filed studies while the model was unavailable). Triage sees each patient's record.
    """
    model = _get_analyzer(analyzer)  # resolved once: one model version for the whole run
    pending = store.unanalysed_studies() if studies is None else studies
    done = failed = 0
    records: dict[str, PatientRecord] = {}
    for start in range(0, len(pending), batch_size):
        chunk = pending[start:start + batch_size]
        results = analyze_files(model, [store.study_image_path(s) for s in chunk])
        good = [(s, r) for s, r in zip(chunk, results) if isinstance(r, Analysed)]
        failed += len(chunk) - len(good)
        done += file_predictions(store, good, actor, records)
    return done, failed
