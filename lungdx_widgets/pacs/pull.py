"""``lungdx pacs pull``: new chest instances from the PACS → the one ingest path → analysed, on the worklist.

QIDO-RS finds the instances, WADO-RS retrieves each whole (a cut-off answer is retried, then
refused), and :func:`lungdx_widgets.services.ingest` files it. The SOP Instance UID is the key:
it is linked to the study in the study's own transaction, so pulling twice files nothing twice and a
failure leaves nothing half-filed. Patients are matched by PatientID when the header's
IssuerOfPatientID is empty or this hospital's (``PacsSettings.issuer``); anyone else becomes a stub
patient flagged for review, never merged into a local patient. Every instance and every pull
leaves an audit row (who, what, outcome).
"""

from __future__ import annotations

import io
import logging
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pydicom

from ..errors import LungDxError
from ..services import AnalyzerLike, analyze_pending, ingest
from ..types import Radiograph
from .client import InstanceRef, PacsClient, PacsError
from .settings import PacsSettings

if TYPE_CHECKING:
    from ..store.db import Store

log = logging.getLogger(__name__)

#: Instances retrieved ahead of the one being filed.
PREFETCH = 2

#: Image storage SOP classes a chest radiograph comes as (CR, DX for presentation/processing, Secondary Capture).
IMAGE_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1",      # CR Image Storage
    "1.2.840.10008.5.1.4.1.1.1.1",    # Digital X-Ray Image Storage - For Presentation
    "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray Image Storage - For Processing
    "1.2.840.10008.5.1.4.1.1.7",      # Secondary Capture Image Storage
}


@dataclass
class PullReport:
    """What one pull did; ``refused`` holds (SOP Instance UID, message) for each instance not filed."""

    found: int = 0
    already: int = 0
    filed: int = 0
    analysed: int = 0
    stubs: int = 0
    left_for_next_pull: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    model_errors: list[str] = field(default_factory=list)
    #: Per filed instance: (SOP Instance UID, seconds waited for its retrieval, seconds to ingest incl. analysis,
    #: wall-clock time.time() when it was on the worklist).
    timings: list[tuple[str, float, float, float]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.found} instances found", f"{self.filed} filed", f"{self.analysed} analysed",
                 f"{self.already} already on file"]
        if self.stubs:
            parts.append(f"{self.stubs} new patients to review")
        if self.refused:
            parts.append(f"{len(self.refused)} refused")
        if self.left_for_next_pull:
            parts.append(f"{self.left_for_next_pull} left for the next pull")
        return ", ".join(parts)


@dataclass(frozen=True)
class Header:
    """The identity fields of a retrieved instance."""

    patient_id: str
    issuer: str
    name: str
    sex: str
    birth_date: str
    sop_class_uid: str


def read_header(data: bytes) -> Header:
    ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
    birth = str(getattr(ds, "PatientBirthDate", "") or "")
    return Header(patient_id=str(getattr(ds, "PatientID", "") or "").strip(),
                  issuer=str(getattr(ds, "IssuerOfPatientID", "") or "").strip(),
                  name=str(getattr(ds, "PatientName", "") or "").replace("^", " ").strip(),
                  sex=str(getattr(ds, "PatientSex", "") or "").strip().upper()[:1],
                  birth_date=f"{birth[:4]}-{birth[4:6]}-{birth[6:8]}" if len(birth) == 8 and birth.isdigit() else "",
                  sop_class_uid=str(getattr(ds, "SOPClassUID", "") or ""))


def local_patient_id(header: Header, local_issuer: str) -> str:
    """This hospital's MRN for the header; another issuer's IDs are kept apart (``ID^ISSUER``)."""
    if not header.issuer or header.issuer == local_issuer:
        return header.patient_id
    return f"{header.patient_id}^{header.issuer}"


def _file_instance(store: "Store", client: PacsClient, ref: InstanceRef, data: bytes, actor: str,
                   analyzer: AnalyzerLike | None, report: PullReport) -> None:
    """Validate and file one retrieved instance (raises LungDxError with the reason it is refused)."""
    from ..imaging import load_image

    header = read_header(data)
    if header.sop_class_uid and header.sop_class_uid not in IMAGE_SOP_CLASSES:
        raise LungDxError(f"Instance {ref.sop_uid} is not a radiograph (SOP class {header.sop_class_uid}); not filed.")
    if not header.patient_id:
        raise LungDxError(f"Instance {ref.sop_uid} has no PatientID; it cannot be matched to a patient.")
    radiograph: Radiograph = load_image(data, filename=f"{ref.sop_uid}.dcm")
    settings = client.settings
    patient_id = local_patient_id(header, settings.issuer)
    new_patient = not store.has_patient(patient_id)

    def create_stub(_radiograph: Radiograph) -> None:
        if new_patient:
            store.add_stub_patient(patient_id, header.name or f"Unknown patient {header.patient_id}", actor,
                                   source_patient_id=header.patient_id, issuer=header.issuer,
                                   sex=header.sex if header.sex in ("M", "F", "O") else "",
                                   birth_date=header.birth_date)

    def link(study, _radiograph: Radiograph) -> None:
        store.record_pacs_instance(ref.sop_uid, study.id, actor, study_instance_uid=ref.study_uid,
                                   series_instance_uid=ref.series_uid, sop_class_uid=header.sop_class_uid,
                                   issuer=header.issuer)

    result = ingest(store, patient_id, data, actor, filename=f"{ref.sop_uid}.dcm", source="pacs",
                    analyzer=analyzer, radiograph=radiograph,
                    confirm_identity_mismatch=patient_id != header.patient_id,  # ID^ISSUER: same person, qualified
                    before_filing=create_stub, on_filed=link)
    report.filed += 1
    report.stubs += new_patient
    if result.prediction is not None and not result.duplicate:
        report.analysed += 1
    if result.model_error:
        report.model_errors.append(result.model_error)
    elif settings.send_on_analysis and result.prediction is not None and not result.duplicate:
        from .push import push_results  # the AI result, marked preliminary, next to the film at once

        try:
            push_results(store, client, result.study.id, actor, preliminary=True)
        except LungDxError as exc:  # the study is filed; the send is retried by `lungdx pacs push`
            report.model_errors.append(f"preliminary result not sent: {exc}")
    store.audit(actor, "pacs_pull", f"study:{result.study.id}",
                detail=f"sop={ref.sop_uid}; patient={patient_id}" + ("; new stub patient" if new_patient else ""))


def pull(store: "Store", client: PacsClient, actor: str, *, analyzer: AnalyzerLike | None,
         since: str | None = None, modalities: list[str] | None = None) -> PullReport:
    """One pull; raises :class:`PacsError` when the PACS cannot be searched (audited, nothing filed)."""
    settings = client.settings
    report = PullReport()
    try:
        refs = client.find_instances(since=since, modalities=modalities)
    except PacsError as exc:
        store.audit(actor, "pacs_pull", f"pacs:{settings.url}", outcome="error", detail=str(exc))
        raise
    report.found = len(refs)
    known = store.pulled_uids(r.sop_uid for r in refs)
    new = [r for r in refs if r.sop_uid not in known]
    report.already = len(refs) - len(new)
    report.left_for_next_pull = max(0, len(new) - settings.max_instances)
    with ThreadPoolExecutor(max_workers=PREFETCH, thread_name_prefix="lungdx-wado") as pool:
        # retrieve the next instances while this one is analysed (the PACS is another process)
        queue = iter(new[:settings.max_instances])
        pending: deque[tuple[InstanceRef, Future[bytes]]] = deque()

        def fetch_next() -> None:
            ref = next(queue, None)
            if ref is not None:
                pending.append((ref, pool.submit(client.retrieve, ref)))
        for _ in range(PREFETCH):
            fetch_next()
        while pending:
            ref, future = pending.popleft()
            fetch_next()
            t0 = time.perf_counter()
            try:
                data = future.result()
                t1 = time.perf_counter()
                _file_instance(store, client, ref, data, actor, analyzer, report)
                report.timings.append((ref.sop_uid, t1 - t0, time.perf_counter() - t1, time.time()))
            except LungDxError as exc:  # PacsError included: this instance is refused, the others go on
                report.refused.append((ref.sop_uid, str(exc)))
                store.audit(actor, "pacs_pull", f"sop:{ref.sop_uid}", outcome="error", detail=str(exc))
    if analyzer is not None:  # pulled earlier while the model was unavailable: analyse now
        unanalysed = [s for s in store.unanalysed_studies() if store.pacs_instance_for_study(s.id) is not None]
        if unanalysed:
            try:
                report.analysed += analyze_pending(store, analyzer, actor, studies=unanalysed)[0]
            except LungDxError as exc:
                report.model_errors.append(str(exc))
    store.audit(actor, "pacs_pull", f"pacs:{settings.url}", outcome="error" if report.refused else "ok",
                detail=report.summary())
    return report


class PacsPoller:
    """One poll = one pull, then the sign-offs not yet sent back (``lungdx pacs poll``, ``serve --pacs-poll``)."""

    def __init__(self, db: Path, settings: PacsSettings, analyzer: AnalyzerLike, actor: str = "pacs-poller") -> None:
        self._db, self._settings, self._analyzer, self._actor = db, settings, analyzer, actor
        self.last: PullReport | str | None = None

    def poll_once(self) -> PullReport | str:
        """A PACS failure is logged and returned as its message (the next poll tries again)."""
        from ..store import open_store
        from .push import push_pending

        try:
            with open_store(self._db) as store:
                client = PacsClient(self._settings)
                self.last = pull(store, client, self._actor, analyzer=self._analyzer)
                log.info("PACS pull: %s", self.last.summary())
                for result in push_pending(store, client, self._actor):
                    log.info("PACS push: %s", result if isinstance(result, str) else result.message)
        except LungDxError as exc:
            self.last = str(exc)
            log.warning("PACS pull failed: %s", exc)
        return self.last
