"""Freeze reviewed annotations into an immutable, versioned training set.

Why: a model is only reproducible if it can name exactly what it learned from. A snapshot is a
folder ``<Settings.snapshots>/<id>/`` with ``labels.csv`` + ``boxes.csv`` in the shared public
format, the images as PNGs at original size (box coordinates stay valid), and ``manifest.json``.
Its id is derived from the content hash, so freezing the same content twice yields the same
snapshot; files are made read-only and the folder appears only once complete (atomic rename).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..config import get_settings
from ..csvfiles import csv_rows, write_rows
from ..errors import LungDxError
from ..ground_truth import signoff_verdicts
from ..imaging import load_image
from ..imaging.deid import pseudonym_for
from ..imaging.render import to_png_bytes
from ..model.weights import sha256_of
from ..store.errors import NotFound
from ..store.records import Snapshot
from ..labels import BOX_COLUMNS, labels_header
from .labelsets import ReviewedImage, box_rows, label_row

MANIFEST = "manifest.json"


class EmptySnapshot(LungDxError):
    """Nothing reviewed yet: a snapshot of nothing would train nothing."""


class SnapshotDamaged(LungDxError):
    """A frozen training set no longer matches its recorded content hash."""


@dataclass(frozen=True)
class SharedSelection:
    """Which rows of the shared public data to add (``limit`` keeps tests and demos small)."""

    root: Path
    limit: int | None = None


def reviewed_images(store) -> Iterator[tuple[ReviewedImage, Path]]:
    """Every study whose latest saved annotation set says something, with its stored image.

    The MRN is replaced by its keyed pseudonym (the de-identification key): training needs
    patients only to keep them whole across splits, and checkpoints record training patients.
    """
    for study_id in store.annotated_study_ids():
        annotation = store.annotations(study_id)
        study = store.get_study(study_id)
        patient = store.get_patient(study.patient_id)
        verdicts = signoff_verdicts(store.latest_signoff(study_id), store.latest_prediction(study_id))
        image = ReviewedImage(
            file=f"study-{study.id}.png", patient_id=pseudonym_for(study.patient_id), sex=patient.sex, view=study.view,
            width=study.width, height=study.height, boxes=annotation.boxes,
            provenance=f"study {study.id}; annotation v{annotation.version} by {annotation.author}",
            verdicts=verdicts,
        )
        if image.informative:
            yield image, store.study_image_path(study)



def _shared_rows(selection: SharedSelection) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    with csv_rows(selection.root / "labels.csv") as reader:
        labels = list(reader)[: selection.limit]
        chosen = {row["file"] for row in labels}
    with csv_rows(selection.root / "boxes.csv") as reader:
        boxes = [row for row in reader if row["file"] in chosen]
    return labels, boxes


def content_hash(folder: Path) -> str:
    """SHA-256 over every file's relative path and SHA-256 (manifest excluded), order-independent."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        digest.update(f"{path.relative_to(folder).as_posix()}\0{sha256_of(path)}\n".encode())
    return digest.hexdigest()


def label_counts(labels_csv: Path) -> dict[str, dict[str, int]]:
    """``{label: {"positive": n, "negative": n}}`` from the ``y_`` columns, plus ``images``/``boxes``."""
    counts: dict[str, Counter] = {}
    with csv_rows(labels_csv) as reader:
        rows = list(reader)
    for row in rows:
        for column, value in row.items():
            if column.startswith("y_") and value in ("0", "1"):
                counts.setdefault(column[2:], Counter())["positive" if value == "1" else "negative"] += 1
    with csv_rows(labels_csv.with_name("boxes.csv")) as reader:
        n_boxes = sum(1 for _ in reader)
    out: dict = {label: {"positive": c["positive"], "negative": c["negative"]} for label, c in sorted(counts.items())}
    summary: dict = {"images": len(rows), "boxes": n_boxes, "labels": out}
    return summary


def _freeze(folder: Path) -> None:
    for path in folder.rglob("*"):
        path.chmod(0o555 if path.is_dir() else 0o444)
    folder.chmod(0o555)


def _build(store, staging: Path, shared: SharedSelection | None) -> None:
    """Write CSVs and images of the reviewed studies (and the shared selection) into ``staging``."""
    images = staging / "images"
    images.mkdir()
    label_rows: list[dict[str, str]] = []
    boxes: list[dict[str, str]] = []
    for image, source in reviewed_images(store):
        (images / image.file).write_bytes(to_png_bytes(load_image(source).pixels))
        label_rows.append(label_row(image))
        boxes.extend(box_rows(image))
    if shared is not None:
        shared_labels, shared_boxes = _shared_rows(shared)
        for row in shared_labels:
            shutil.copyfile(shared.root / "images" / row["file"], images / row["file"])
        label_rows += shared_labels
        boxes += shared_boxes
    if not label_rows:
        raise EmptySnapshot("No reviewed annotations to freeze yet: accept, edit or draw boxes first.")
    seen = {column[2:] for row in label_rows for column in row if column.startswith("y_")}
    write_rows(staging / "labels.csv", labels_header(seen), label_rows)
    write_rows(staging / "boxes.csv", BOX_COLUMNS, boxes)


def create_snapshot(store, actor: str, *, shared: SharedSelection | None = None, note: str = "") -> Snapshot:
    """Freeze the current reviewed annotations (+ optional shared data); returns the stored record.

    Identical content returns the existing snapshot instead of a copy.
    """
    root = get_settings().snapshots
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        _build(store, staging, shared)
        digest = content_hash(staging)
        snapshot_id = f"snap-{digest[:12]}"
        counts = label_counts(staging / "labels.csv")
        try:
            return store.get_snapshot(snapshot_id)
        except NotFound:
            pass
        manifest = {"id": snapshot_id, "content_hash": digest, "counts": counts, "created_by": actor,
                    "note": note, "shared_data": None if shared is None else
                    {"root": str(shared.root), "limit": shared.limit}}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        final = root / snapshot_id
        if final.exists() and content_hash(final) != digest:  # left by a crash, then altered
            raise SnapshotDamaged(f"{final} exists with other content; move it away and try again.")
        if not final.exists():
            _freeze(staging)
            os.replace(staging, final)
        return store.add_snapshot(snapshot_id, digest, counts, str(final), actor)
    finally:
        if staging.exists():
            _unfreeze_and_remove(staging)


def _unfreeze_and_remove(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(folder)


def verify_snapshot(snapshot: Snapshot) -> None:
    """Refuse to train on a snapshot whose files changed since it was frozen."""
    folder = Path(snapshot.path)
    if not (folder / "labels.csv").is_file():
        raise SnapshotDamaged(f"Training snapshot {snapshot.id} is missing its files at {folder}.")
    if content_hash(folder) != snapshot.content_hash:
        raise SnapshotDamaged(f"Training snapshot {snapshot.id} was modified after it was frozen; "
                              "create a new snapshot instead of editing one.")
