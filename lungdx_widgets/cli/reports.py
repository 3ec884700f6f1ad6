"""``lungdx report``, ``lungdx export`` and ``lungdx triage override``: thin wrappers over reports/ and the store."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import actor as acting_user, add_db_argument, db_path


def _report(args: argparse.Namespace) -> int:
    from ..reports.context import study_context
    from ..config import get_settings
    from ..reports.export import save_report
    from ..reports.heatmap import recompute_heatmap
    from ..store import open_store

    actor = acting_user(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open_store(db_path(args)) as store:
        ctx = study_context(store, args.study_id, actor)
        heatmap, note = recompute_heatmap(ctx) if args.heatmap else (None, "heatmap not requested")
        save_report(ctx, out, actor, heatmap, note, pdf_timeout_s=get_settings().pdf_timeout_seconds)
        store.audit(actor, "export_report", f"study:{ctx.study.id}", detail=out.name)
    print(f"report for study {args.study_id} written to {out} ({note})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..reports.export import export_studies
    from ..store import open_store

    with open_store(db_path(args)) as store:
        result = export_studies(store, args.format, Path(args.out), acting_user(args),
                                study_ids=args.study or None)
    print(result)
    return 0


def _override(args: argparse.Namespace) -> int:
    from ..store import open_store

    with open_store(db_path(args)) as store:
        pred = store.override_triage(args.study_id, args.level, args.reason, acting_user(args))
    print(f"study {args.study_id}: triage {pred.triage_level} -> {pred.level} ({pred.override_reason})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands."""
    from ..reports import EXPORT_FORMATS
    from ..types import TRIAGE_ORDER

    p = sub.add_parser("report", help="write the report of one study as HTML or PDF (research use only)")
    p.add_argument("study_id", type=int, metavar="STUDY_ID")
    p.add_argument("--out", required=True, type=Path, metavar="FILE",
                   help="file to write: .html, or .pdf (printed by headless Chromium)")
    p.add_argument("--no-heatmap", dest="heatmap", action="store_false",
                   help="do not load the model to draw the heatmap")
    add_db_argument(p)
    p.set_defaults(func=_report)

    p = sub.add_parser("export", help="export studies as FHIR, DICOM SR, HTML or a de-identified research set")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    p.add_argument("--study", type=int, action="append", metavar="ID",
                   help="study to export (repeatable; default: all studies)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR")
    add_db_argument(p)
    p.set_defaults(func=_export)

    p = sub.add_parser("triage", help="clinician actions on a study's triage level")
    tsub = p.add_subparsers(dest="triage_command", metavar="ACTION", required=True)
    o = tsub.add_parser("override", help="set the triage level of a study's latest AI result, with a reason")
    o.add_argument("study_id", type=int, metavar="STUDY")
    o.add_argument("--level", required=True, choices=TRIAGE_ORDER)
    o.add_argument("--reason", required=True)
    add_db_argument(o)
    o.set_defaults(func=_override)
