"""Reading the CSV files of the shared data's format: every malformed file becomes one clear error.

Training, evaluation, the demo set-up and training-set snapshots all read ``labels.csv`` /
``boxes.csv``; a missing column, bad number or bad encoding names the file and line instead of
surfacing as a bare ``KeyError`` from deep inside.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import LungDxError


class LabelsFileError(LungDxError):
    """A labels/boxes CSV that does not follow the shared data's format (names the file and line)."""


@contextmanager
def csv_rows(path: Path) -> Iterator[csv.DictReader]:
    """A DictReader over ``path``; a missing column, bad number or bad encoding becomes :class:`LabelsFileError`."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            try:
                yield reader
            except KeyError as exc:
                raise LabelsFileError(f"{path.name}, line {reader.line_num}: missing column {exc.args[0]!r}.") from exc
            except (ValueError, TypeError, csv.Error) as exc:
                raise LabelsFileError(f"{path.name}, line {reader.line_num}: {exc}.") from exc
    except OSError as exc:
        raise LabelsFileError(f"Cannot read {path}: {exc.strerror or exc}.") from exc


def merge_datasets(images_dirs: list[Path], labels_csvs: list[Path], boxes_csvs: list[Path | None],
                   out_dir: Path) -> tuple[Path, Path]:
    """Several ``images/ + labels.csv + boxes.csv`` folders as one pair of CSVs whose ``file`` column
    holds absolute paths (so ``images_dir / file`` still finds every image); returns (labels, boxes).

    Training on ``cxr`` and ``cxr2`` together needs this; each row keeps its own source columns.
    """
    if not (len(images_dirs) == len(labels_csvs) and len(boxes_csvs) in (0, len(labels_csvs))):
        raise LabelsFileError("give one --labels (and one --boxes, if any) per --images folder")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    label_rows, box_rows, label_cols = [], [], []
    for i, (images, labels) in enumerate(zip(images_dirs, labels_csvs)):
        root = Path(images).resolve()
        with csv_rows(labels) as reader:
            for c in reader.fieldnames or []:
                if c not in label_cols:
                    label_cols.append(c)
            label_rows += [dict(r, file=str(root / r["file"])) for r in reader]
        boxes = boxes_csvs[i] if boxes_csvs else None
        if boxes is not None and Path(boxes).is_file():
            with csv_rows(boxes) as reader:
                box_rows += [dict(r, file=str(root / r["file"])) for r in reader]
    labels_out, boxes_out = out_dir / "labels.csv", out_dir / "boxes.csv"
    for path, cols, rows in ((labels_out, label_cols, label_rows),
                             (boxes_out, ["file", "label", "x", "y", "w", "h", "source"], box_rows)):
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    return labels_out, boxes_out


def write_rows(path: Path, columns: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Write ``rows`` under ``columns`` (UTF-8; cells a row lacks stay empty): every CSV writer of the shared format."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
