"""``lungdx import FILE... --patient ID [--analyze]``: validate each file, then file it under the patient.

Each file goes through the one ingest path (:func:`lungdx_widgets.services.ingest`): decoded
*before* the store is touched, so a refused file writes nothing; the store writes the image and its
study row in one transaction; with ``--analyze`` the model and triage run as for an upload. One line
per file; the exit code is non-zero when any file was refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import LungDxError
from .common import actor, add_db_argument, db_path


def register(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands."""
    p = sub.add_parser("import", help="validate chest radiographs (DICOM/PNG/JPEG) and file them under a patient")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--patient", required=True, metavar="ID", help="patient ID (MRN) to file the images under")
    p.add_argument("--confirm-identity-mismatch", action="store_true",
                   help="file DICOMs whose PatientID differs from --patient anyway (recorded in the audit log)")
    p.add_argument("--analyze", action="store_true",
                   help="also run the model and triage (the registry's active version) and store the result")
    add_db_argument(p)
    p.set_defaults(func=_import)


def _import(args: argparse.Namespace) -> int:
    from ..imaging.load import read_file
    from ..services import ModelService, ingest, registry_resolver
    from ..store import open_store

    db = db_path(args)
    analyzer = ModelService(resolver=registry_resolver(db)) if args.analyze else None
    refused = 0
    with open_store(db) as store:
        store.get_patient(args.patient)  # an unknown patient stops the whole command, before any file
        for path in args.files:
            try:
                # messages say "The file ..."; the line names the path
                result = ingest(store, args.patient, read_file(path), actor(args), filename=path.name, source="cli",
                                analyzer=analyzer, confirm_identity_mismatch=args.confirm_identity_mismatch)
            except LungDxError as exc:
                refused += 1
                print(f"lungdx: error: {path}: {exc}", file=sys.stderr)
                continue
            warnings = result.radiograph.warnings
            extra = f" (warning: {' '.join(warnings)})" if warnings else ""
            level = f" [{result.triage.level}]" if result.triage else ""
            note = f" ({result.model_error})" if result.model_error else ""
            print(f"{path}: study {result.study.id} for patient {args.patient}{level}{note}{extra}")
    return 1 if refused else 0
