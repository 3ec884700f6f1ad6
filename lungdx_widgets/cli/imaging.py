"""``lungdx import FILE... --patient ID``: validate each file, then file it under the patient.

Each file is decoded by :func:`~lungdx_widgets.imaging.load_image` *before* the store is touched,
so a refused file writes nothing; the store writes the image and its study row in one
transaction. One line per file; the exit code is non-zero when any file was refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import LungDxError
from .common import add_db_argument, db_path
from .store import _actor as cli_actor


def register(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands."""
    p = sub.add_parser("import", help="validate chest radiographs (DICOM/PNG/JPEG) and file them under a patient")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--patient", required=True, metavar="ID", help="patient ID (MRN) to file the images under")
    p.add_argument("--confirm-identity-mismatch", action="store_true",
                   help="file DICOMs whose PatientID differs from --patient anyway (recorded in the audit log)")
    add_db_argument(p)
    p.set_defaults(func=_import)


def _import(args: argparse.Namespace) -> int:
    from ..imaging import load_image
    from ..imaging.load import read_file
    from ..store import open_store

    refused = 0
    with open_store(db_path(args)) as store:
        store.get_patient(args.patient)  # an unknown patient stops the whole command, before any file
        for path in args.files:
            try:
                data = read_file(path)
                radiograph = load_image(data)  # messages say "The file ..."; the line names the path
                study = store.add_study(args.patient, radiograph, data, cli_actor(), filename=path.name,
                                        confirm_identity_mismatch=args.confirm_identity_mismatch)
            except LungDxError as exc:
                refused += 1
                print(f"lungdx: error: {path}: {exc}", file=sys.stderr)
                continue
            extra = f" (warning: {' '.join(radiograph.warnings)})" if radiograph.warnings else ""
            print(f"{path}: study {study.id} for patient {args.patient}{extra}")
    return 1 if refused else 0

