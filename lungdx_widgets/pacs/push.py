"""Results back to the PACS with STOW-RS: a DICOM SR (TID 1500) and a Secondary Capture with the boxes.

The SR is :func:`lungdx_widgets.reports.sr.build_sr`'s, referencing the study's own source
instance. The Secondary Capture shows the same boxes burned into the film, so a plain PACS viewer
shows them without SR support (AI proposals yellow, a person's boxes cyan). UIDs are deterministic
per study and signed annotation version, so a retry after a cut-off STOW cannot create copies; a
re-send after an addendum is a new SR whose PredecessorDocumentsSequence names the previous one —
never an overwrite. The export is written down only after the PACS accepted both instances.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import highdicom as hd
import numpy as np
from PIL import Image, ImageDraw
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

from ..errors import LungDxError
from ..types import Box
from .client import PacsClient, PacsError

if TYPE_CHECKING:
    from ..store.db import Store
    from ..store.pacs import PacsExport

AI_COLOUR = (255, 210, 0)
HUMAN_COLOUR = (0, 220, 255)
COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"  # the SR class reports/sr.py builds


@dataclass(frozen=True)
class PushResult:
    export: "PacsExport"
    sent: bool  # False: this version had already been sent (nothing sent again)
    message: str


def burned_in(pixels: np.ndarray, boxes: tuple[Box, ...]) -> np.ndarray:
    """RGB uint8 copy of the film with each box drawn (line width ~0.3% of the film, at least 2 px)."""
    gray = np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)
    image = Image.fromarray(gray, mode="L").convert("RGB")
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(gray.shape) * 0.003))
    for box in boxes:
        colour = AI_COLOUR if box.source == "ai" and box.status in ("proposed", "accepted") else HUMAN_COLOUR
        draw.rectangle([box.x, box.y, box.x + box.w, box.y + box.h], outline=colour, width=width)
        draw.text((box.x + width + 2, max(0.0, box.y - 12 - width)), box.label, fill=colour)
    return np.asarray(image)


def _predecessor(previous: "PacsExport") -> DicomSequence:
    sop = Dataset()
    sop.ReferencedSOPClassUID = COMPREHENSIVE_3D_SR
    sop.ReferencedSOPInstanceUID = previous.sr_sop_instance_uid
    series = Dataset()
    series.SeriesInstanceUID = previous.sr_series_uid
    series.ReferencedSOPSequence = DicomSequence([sop])
    study = Dataset()
    study.StudyInstanceUID = previous.study_instance_uid
    study.ReferencedSeriesSequence = DicomSequence([series])
    return DicomSequence([study])


def build_results(store: "Store", study_id: int, actor: str, *, preliminary: bool = False
                  ) -> tuple[Dataset, Dataset, "PacsExport | None"]:
    """(SR, Secondary Capture, the previous export it supersedes) for the study's newest sign-off."""
    from ..reports.context import study_context
    from ..reports.sr import MANUFACTURER, build_sr

    ctx = study_context(store, study_id, actor)
    if ctx.study.source_format != "dicom":
        raise LungDxError(f"Study {study_id} did not come as DICOM; the PACS has no image to attach results to.")
    if ctx.signoff is None and not preliminary:
        raise LungDxError(f"Study {study_id} is not signed off; results go to the PACS on sign-off.")
    export = build_sr(ctx)
    sr, source = export.sr, export.source
    exports = store.pacs_exports(study_id)
    previous = exports[-1] if exports else None
    if previous is not None and previous.sr_sop_instance_uid != sr.SOPInstanceUID:
        sr.PredecessorDocumentsSequence = _predecessor(previous)
    if ctx.signoff is None:
        sr.SeriesDescription = "LungDx AI findings, PRELIMINARY, not signed (research use only)"
    sc_uid = generate_uid(entropy_srcs=[sr.SOPInstanceUID, "burned-in boxes"])
    with warnings.catch_warnings():  # highdicom re-checks the source file's PatientName, which is not ours to fix
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name")
        sc = _boxes_image(store, ctx, source, sc_uid, MANUFACTURER)
    return sr, sc, previous


def _boxes_image(store: "Store", ctx, source: Dataset, sc_uid: str, manufacturer: str) -> Dataset:
    return hd.sc.SCImage.from_ref_dataset(
        ref_dataset=source, pixel_array=burned_in(ctx.pixels, ctx.boxes), photometric_interpretation="RGB",
        bits_allocated=8, coordinate_system="PATIENT", series_instance_uid=generate_uid(
            entropy_srcs=[ctx.study.study_uid, "burned-in boxes series"]),
        series_number=92, sop_instance_uid=sc_uid, instance_number=1 + len(store.pacs_exports(ctx.study.id)),
        manufacturer=manufacturer, patient_orientation=("L", "F"),
        series_description="LungDx boxes burned in (research use only)")


def push_results(store: "Store", client: PacsClient, study_id: int, actor: str, *,
                 preliminary: bool = False) -> PushResult:
    """STOW-RS the SR and the boxes image of the study's newest sign-off; audited whatever happens."""
    try:
        sr, sc, previous = build_results(store, study_id, actor, preliminary=preliminary)
        done = next((e for e in store.pacs_exports(study_id) if e.sr_sop_instance_uid == sr.SOPInstanceUID), None)
        if done is not None:
            return PushResult(done, False, f"Study {study_id}: this version is already in the PACS "
                                           f"(SR {done.sr_sop_instance_uid}).")
        client.store([sr, sc], study_uid=sr.StudyInstanceUID)
    except LungDxError as exc:
        store.audit(actor, "pacs_push", f"study:{study_id}", outcome="error", detail=str(exc))
        raise
    signoff = store.latest_signoff(study_id)
    export = store.record_pacs_export(
        study_id, actor, signoff_id=signoff.id if signoff else None, study_instance_uid=sr.StudyInstanceUID,
        sr_series_uid=sr.SeriesInstanceUID, sr_sop_instance_uid=sr.SOPInstanceUID,
        sc_series_uid=sc.SeriesInstanceUID, sc_sop_instance_uid=sc.SOPInstanceUID,
        previous_sr_uid=previous.sr_sop_instance_uid if previous else "")
    note = f", superseding {previous.sr_sop_instance_uid}" if previous else ""
    return PushResult(export, True, f"Study {study_id}: SR and boxes image sent to the PACS{note}.")


def push_pending(store: "Store", client: PacsClient, actor: str) -> list[PushResult | str]:
    """Send every pulled study whose newest sign-off is not in the PACS yet (what the poller does after sign-off)."""
    results: list[PushResult | str] = []
    for study_id in store.pacs_unsent_signed_studies():
        try:
            results.append(push_results(store, client, study_id, actor))
        except PacsError as exc:  # the PACS is down: the rest would fail the same way
            results.append(f"Study {study_id}: {exc}")
            break
        except LungDxError as exc:
            results.append(f"Study {study_id}: {exc}")
    return results
