"""Reading the CSV files of the shared data's format: every malformed file becomes one clear error.

Training, evaluation, the demo set-up and training-set snapshots all read ``labels.csv`` /
``boxes.csv``; a missing column, bad number or bad encoding names the file and line instead of
surfacing as a bare ``KeyError`` from deep inside.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
