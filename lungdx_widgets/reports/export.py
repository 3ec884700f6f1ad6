"""Write reports/exports of stored studies to a folder, one audit row per study written.

Formats: ``html`` (study report), ``fhir`` (R4 DiagnosticReport bundle), ``sr`` (DICOM SR, plus
the generated Secondary Capture it references for non-DICOM studies) and ``coco`` (the
de-identified research dataset of signed studies). HTML, FHIR and SR are *identified* clinical
documents; only ``coco`` is de-identified.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import EXPORT_FORMATS as FORMATS
from .context import StudyContext, study_context
from .errors import ReportError
_PAGE = 200


@dataclass
class ExportResult:
    fmt: str
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    studies: int = 0
    skipped: list[str] = field(default_factory=list)  # "study N: why"
    note: str = ""

    def __str__(self) -> str:
        text = self.note or f"{self.studies} studies exported as {self.fmt} ({len(self.files)} files) to {self.out_dir}"
        return text + (f"; {len(self.skipped)} skipped ({self.skipped[0]}{', …' if len(self.skipped) > 1 else ''})"
                       if self.skipped else "")


def all_study_ids(store) -> list[int]:
    """Every study id, patient by patient (the store lists patients a page at a time)."""
    ids: list[int] = []
    offset = 0
    while page := store.search_patients("", limit=_PAGE, offset=offset):
        for patient in page:
            ids += [s.id for s in store.studies_for_patient(patient.patient_id)]
        offset += _PAGE
    return sorted(ids)


def save_report(ctx: StudyContext, path: Path, actor: str, heatmap: np.ndarray | None = None,
                heatmap_note: str = "", *, pdf_timeout_s: int = 60) -> Path:
    """The study report as HTML, or as PDF when ``path`` ends in ``.pdf`` (printed by Chromium)."""
    from .html import render_html
    from .pdf import html_to_pdf

    html = render_html(ctx, heatmap, heatmap_note, generated_by=actor)
    if path.suffix.lower() == ".pdf":
        return html_to_pdf(html, path, timeout_s=pdf_timeout_s)
    path.write_text(html, encoding="utf-8")
    return path


def write_html(ctx: StudyContext, out_dir: Path, actor: str) -> list[Path]:
    return [save_report(ctx, out_dir / f"study-{ctx.study.id}.html", actor)]


def write_fhir(ctx: StudyContext, out_dir: Path, actor: str) -> list[Path]:
    from .fhir import diagnostic_report_bundle, validate

    bundle = diagnostic_report_bundle(ctx)
    validate(bundle)
    path = out_dir / f"study-{ctx.study.id}.fhir.json"
    path.write_text(json.dumps(bundle, indent=1, ensure_ascii=False), encoding="utf-8")
    return [path]


def write_sr(ctx: StudyContext, out_dir: Path, actor: str) -> list[Path]:
    from .sr import build_sr

    result = build_sr(ctx)
    paths = [out_dir / f"study-{ctx.study.id}-sr.dcm"]
    result.sr.save_as(paths[0], enforce_file_format=True)
    if result.source_is_generated:
        paths.append(out_dir / f"study-{ctx.study.id}-source-sc.dcm")
        result.source.save_as(paths[1], enforce_file_format=True)
    return paths


def write_deidentified_dicom(ctx: StudyContext, out_dir: Path, actor: str) -> list[Path]:
    """The study's original DICOM, de-identified (PS3.15 Annex E, :mod:`..imaging.deid`) for research sets:
    pixels untouched, names and IDs pseudonymised, dates shifted per patient, UIDs remapped consistently."""
    import pydicom

    from ..imaging.deid import deidentify

    if ctx.study.source_format != "dicom":
        raise ReportError(f"study {ctx.study.id} was filed from a {ctx.study.source_format.upper()} file, not DICOM "
                          "(export it with coco).")
    try:
        dataset = deidentify(pydicom.dcmread(ctx.image_path))
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise ReportError(f"study {ctx.study.id}: its stored DICOM cannot be read ({exc}).") from exc
    path = out_dir / f"{dataset.SOPInstanceUID}.dcm"  # a remapped UID: the name carries nothing identifying
    dataset.save_as(path, enforce_file_format=True)
    return [path]


WRITERS: dict[str, Callable[[StudyContext, Path, str], list[Path]]] = {
    "html": write_html, "fhir": write_fhir, "sr": write_sr, "dicom-deid": write_deidentified_dicom,
}


def _contexts(store, ids: list[int], actor: str, skipped: list[str], strict: bool) -> Iterator[StudyContext]:
    for study_id in ids:
        try:
            yield study_context(store, study_id, actor)
        except ReportError as exc:
            if strict:
                raise
            skipped.append(f"study {study_id}: {exc}")


def export_studies(store, fmt: str, out_dir: Path, actor: str, study_ids: list[int] | None = None) -> ExportResult:
    """Export ``study_ids`` (default: all). A named study that cannot be exported is an error;
    in a bulk export it is skipped and listed."""
    if fmt not in FORMATS:
        raise ReportError(f"Unknown export format '{fmt}'; choose one of {', '.join(FORMATS)}.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    strict = study_ids is not None
    ids = list(study_ids) if study_ids is not None else all_study_ids(store)
    result = ExportResult(fmt, out_dir)
    if fmt == "coco":
        return _export_research(store, ids, out_dir, actor, result, strict)
    for ctx in _contexts(store, ids, actor, result.skipped, strict):
        try:
            files = WRITERS[fmt](ctx, out_dir, actor)
        except ReportError as exc:
            if strict:
                raise
            result.skipped.append(f"study {ctx.study.id}: {exc}")
            continue
        result.files += files
        result.studies += 1
        store.audit(actor, f"export_{fmt}", f"study:{ctx.study.id}", detail=", ".join(p.name for p in files))
    return result


def _export_research(store, ids: list[int], out_dir: Path, actor: str, result: ExportResult,
                     strict: bool) -> ExportResult:
    from .research import export_research

    contexts = list(_contexts(store, ids, actor, result.skipped, strict))
    summary = export_research(contexts, out_dir)
    for study_id in summary.study_ids:
        store.audit(actor, "export_research", f"study:{study_id}", detail=f"de-identified to {out_dir}")
    result.files = list(summary.files)
    result.note = str(summary)
    return result
