"""Snapshots: reviewed annotations in the real store → an immutable training set the trainer reads."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from lungdx_widgets.learning.snapshots import (
    EmptySnapshot, SharedSelection, SnapshotDamaged, create_snapshot, verify_snapshot,
)
from lungdx_widgets.imaging.deid import pseudonym_for
from lungdx_widgets.model.data import read_records
from lungdx_widgets.types import Box

from .conftest import add_real_study, shared_rows


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def reviewed(store, shared_data, boxed_pneumonia):
    """Three real studies: one corrected (accepted AI box + a drawn box), one rejected, one untouched."""
    corrected = add_real_study(store, shared_data, boxed_pneumonia[0], "LRN-1")
    rejected = add_real_study(store, shared_data, boxed_pneumonia[1], "LRN-2")
    untouched = add_real_study(store, shared_data, boxed_pneumonia[2], "LRN-3")
    store.save_annotations(corrected.id, [
        Box("Pneumonia", 100, 120, 80, 90, score=0.7, source="ai", status="accepted"),
        Box("Effusion", 20, 300, 60, 40, source="human", status="edited"),
        Box("Mass", 5, 5, 10, 10, score=0.2, source="ai", status="rejected"),
    ], 0, "ana")
    store.save_annotations(rejected.id, [Box("Pneumonia", 50, 50, 40, 40, score=0.6, status="rejected")], 0, "ana")
    store.save_annotations(untouched.id, [Box("Pneumonia", 50, 50, 40, 40, score=0.6, status="proposed")], 0, "ana")
    return corrected, rejected, untouched


def test_snapshot_freezes_reviewed_labels_in_the_shared_format(store, reviewed, shared_data):
    corrected, rejected, _ = reviewed
    snap = create_snapshot(store, "ana")
    folder = Path(snap.path)
    assert snap.id == f"snap-{snap.content_hash[:12]}" and snap.created_by == "ana"
    with open(shared_data / "labels.csv", newline="") as fh:
        shared_header = next(csv.reader(fh))
    with open(folder / "labels.csv", newline="") as fh:
        assert next(csv.reader(fh)) == shared_header
    rows = {r["file"]: r for r in _rows(folder / "labels.csv")}
    assert set(rows) == {f"study-{corrected.id}.png", f"study-{rejected.id}.png"}  # untouched one left out
    first = rows[f"study-{corrected.id}.png"]
    assert (first["findings"], first["y_Pneumonia"], first["y_Effusion"], first["y_Mass"]) == (
        "Pneumonia|Effusion", "1", "1", "0")  # column order, as the research export
    assert first["y_Atelectasis"] == "" and first["patient_id"] == pseudonym_for("LRN-1") != "LRN-1"
    assert "LRN-" not in (folder / "labels.csv").read_text()  # no MRN in a training set
    assert rows[f"study-{rejected.id}.png"]["y_Pneumonia"] == "0"
    boxes = _rows(folder / "boxes.csv")
    assert [(b["label"], b["x"], b["w"]) for b in boxes] == [("Pneumonia", "100.00", "80.00"), ("Effusion", "20.00", "60.00")]
    with Image.open(folder / "images" / f"study-{corrected.id}.png") as im:  # original size: boxes stay valid
        assert im.size == (corrected.width, corrected.height)
    assert snap.counts["images"] == 2 and snap.counts["boxes"] == 2
    assert snap.counts["labels"]["Pneumonia"] == {"positive": 1, "negative": 1}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["content_hash"] == snap.content_hash and manifest["created_by"] == "ana"
    assert store.get_snapshot(snap.id) == snap
    assert store.audit_events(action="add_snapshot")[0].obj == f"snapshot:{snap.id}"
    # the trainer reads it as it reads the public data: 1 positive, 0 known negative, None unknown
    records = {r.file: r for r in read_records(folder / "labels.csv", folder / "boxes.csv")}
    assert records[f"study-{corrected.id}.png"].target("Pneumonia") == 1.0
    assert records[f"study-{rejected.id}.png"].target("Pneumonia") == 0.0
    assert records[f"study-{rejected.id}.png"].target("Effusion") is None
    assert len(records[f"study-{corrected.id}.png"].boxes) == 2


def test_snapshot_is_immutable_and_content_addressed(store, reviewed):
    corrected = reviewed[0]
    snap = create_snapshot(store, "ana")
    assert not os.access(Path(snap.path) / "labels.csv", os.W_OK) or os.geteuid() == 0
    assert create_snapshot(store, "adm").id == snap.id  # same content: same snapshot, no copy
    assert len(list(Path(snap.path).parent.iterdir())) == 1  # no staging left behind
    current = store.annotations(corrected.id)
    store.save_annotations(corrected.id, [*current.boxes, Box("Nodule", 1, 2, 3, 4, source="human")], current.version, "ana")
    newer = create_snapshot(store, "ana")
    assert newer.id != snap.id and newer.counts["labels"]["Nodule"] == {"positive": 1, "negative": 0}
    verify_snapshot(snap)  # the older one is untouched


def test_tampering_is_detected(store, reviewed):
    snap = create_snapshot(store, "ana")
    labels = Path(snap.path) / "labels.csv"
    labels.chmod(0o644)
    labels.write_text(labels.read_text().replace("Effusion|Pneumonia", "Pneumonia"))
    with pytest.raises(SnapshotDamaged, match="modified after it was frozen"):
        verify_snapshot(snap)


def test_shared_public_data_can_be_included(store, reviewed, shared_data):
    snap = create_snapshot(store, "ana", shared=SharedSelection(shared_data, limit=5))
    rows = _rows(Path(snap.path) / "labels.csv")
    assert len(rows) == 7 and rows[2:] == shared_rows(shared_data)[:5]  # copied verbatim
    for row in rows[2:]:
        assert (Path(snap.path) / "images" / row["file"]).read_bytes() == (shared_data / "images" / row["file"]).read_bytes()


def test_nothing_reviewed_means_no_snapshot(store, shared_data, boxed_pneumonia):
    add_real_study(store, shared_data, boxed_pneumonia[0], "LRN-9")
    with pytest.raises(EmptySnapshot):
        create_snapshot(store, "ana")
