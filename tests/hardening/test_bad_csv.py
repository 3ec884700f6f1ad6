"""Malformed labels/boxes CSVs in the demo set-up and snapshots: one clear error naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lungdx_widgets.csvfiles import LabelsFileError
from lungdx_widgets.learning.snapshots import label_counts
from lungdx_widgets.store.demo import source_patients


def _shared_like(root: Path, labels: str, boxes: str = "file,label,x,y,w,h\n") -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels.csv").write_text(labels, encoding="utf-8")
    (root / "boxes.csv").write_text(boxes, encoding="utf-8")
    return root


def test_demo_source_list_names_the_missing_column(tmp_path):
    root = _shared_like(tmp_path, "file,findings,age,sex,view,source_dataset\na.png,No Finding,40,F,PA,NIH\n")
    (root / "images" / "a.png").write_bytes(b"not read here")
    with pytest.raises(LabelsFileError, match=r"labels\.csv, line 2: missing column 'patient_id'"):
        source_patients(root)


def test_demo_source_list_names_a_bad_age(tmp_path):
    root = _shared_like(tmp_path, "file,patient_id,findings,age,sex,view,source_dataset\n"
                                  "a.png,p1,No Finding,forty,F,PA,NIH\n")
    (root / "images" / "a.png").write_bytes(b"not read here")
    with pytest.raises(LabelsFileError, match=r"labels\.csv, line 2: .*forty"):
        source_patients(root)


def test_snapshot_counts_name_an_unreadable_boxes_file(tmp_path):
    root = _shared_like(tmp_path, "file,y_Pneumonia\na.png,1\n")
    (root / "boxes.csv").unlink()
    with pytest.raises(LabelsFileError, match=r"Cannot read .*boxes\.csv"):
        label_counts(root / "labels.csv")
    (root / "boxes.csv").write_text("file,label\na.png,Pneumonia\n", encoding="utf-8")
    assert label_counts(root / "labels.csv")["labels"]["Pneumonia"] == {"positive": 1, "negative": 0}
