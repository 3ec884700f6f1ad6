"""A second process doing real store work, like another clinician's Voila kernel.

Durability tests kill it with SIGKILL mid-work; concurrency tests make it edit the same study.
``python -m tests.hardening.store_worker MODE DB ARG`` prints ``CONFIRMED <what>`` only after
the store call returned, i.e. after COMMIT: exactly what the clinician would have seen confirmed.
The image store and weights come from the ``LUNGDX_*`` environment, like a kernel's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lungdx_widgets.store import open_store
from lungdx_widgets.types import Box

PATIENT = "HARD-0001"


def confirm(what: str) -> None:
    print(f"CONFIRMED {what}", flush=True)


def uploads(store, image_dir: str) -> None:
    """File every PNG of ``image_dir`` under one patient, one transaction each."""
    from lungdx_widgets.imaging import load_image

    for path in sorted(Path(image_dir).glob("*.png")):
        data = path.read_bytes()
        study = store.add_study(PATIENT, load_image(data, filename=path.name), data, "kernel", filename=path.name)
        confirm(f"study {study.id} {study.sha256}")


def annotations(store, study_id: str) -> None:
    """Save version after version of a growing box list (each save a new version)."""
    current = store.annotations(int(study_id))
    while True:
        boxes = list(current.boxes) + [Box("Nodule", len(current.boxes), 10.0, 20.0, 30.0, source="human")]
        current = store.save_annotations(int(study_id), boxes, current.version, "kernel")
        confirm(f"version {current.version} {len(current.boxes)}")


def export(store, out_dir: str) -> None:
    from lungdx_widgets.reports.export import export_studies

    print("STARTED", flush=True)
    result = export_studies(store, "html", Path(out_dir), "kernel")
    confirm(f"export {result.studies}")


def edit(store, study_id: str) -> None:
    """Open the study's annotations, wait for ``GO`` on stdin, then save one box based on what was read."""
    from lungdx_widgets.store import Conflict

    opened = store.annotations(int(study_id))
    print(f"READ {opened.version}", flush=True)
    sys.stdin.readline()
    boxes = list(opened.boxes) + [Box("Mass", float(os.getpid() % 1000), 5.0, 50.0, 60.0, source="human")]
    try:
        saved = store.save_annotations(int(study_id), boxes, opened.version, f"clinician-{os.getpid()}")
    except Conflict as exc:
        print(f"CONFLICT {exc}", flush=True)
        return
    confirm(f"version {saved.version} {os.getpid()}")


MODES = {"uploads": uploads, "annotations": annotations, "export": export, "edit": edit}

if __name__ == "__main__":
    mode, db, arg = sys.argv[1:4]
    with open_store(db) as opened:
        MODES[mode](opened, arg)
