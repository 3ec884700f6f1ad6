"""A fixed evaluation set and the per-image outputs of model versions on it.

Why per-image outputs: the evaluator summarises one model; comparing two needs both models'
scores on exactly the same images (a paired comparison). Images of patients that *either*
version trained on are left out for both, so neither is scored on what it memorised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import get_settings
from ..model.analyze import Analyzer
from ..model.data import Record, prepare, read_records
from ..model.evaluate import infer
from ..model.localize import inside, peak, upsample
from ..model.weights import read_sidecar, sha256_of


@dataclass(frozen=True)
class EvalPredictions:
    """What one model version said about each image of an evaluation set.

    ``truth`` and ``probs`` are (images, labels): truth 1/0 or NaN (unlabelled), probs NaN where
    the model does not assess a label. ``hits`` has one entry per ground-truth box (same order
    for every version of one set): 1.0 when the heatmap peak falls inside it, 0.0 when not, NaN
    when the model does not assess the box's label.
    """

    version: str
    files: tuple[str, ...]
    labels: tuple[str, ...]
    truth: np.ndarray
    probs: np.ndarray
    hits: np.ndarray


@dataclass(frozen=True)
class EvalSet:
    """A fixed evaluation set; its fingerprint goes into the metrics so only like is compared."""

    images_dir: Path
    labels_csv: Path
    boxes_csv: Path | None = None

    def fingerprint(self) -> str:
        parts = [sha256_of(self.labels_csv)] + ([sha256_of(self.boxes_csv)] if self.boxes_csv else [])
        return hashlib.sha256("".join(parts).encode()).hexdigest()[:16]

    @classmethod
    def shared(cls) -> "EvalSet":
        """The public images in ``Settings.shared_data`` (the default when nothing else is named)."""
        root = get_settings().shared_data
        return cls(root / "images", root / "labels.csv", root / "boxes.csv")


def training_patients(checkpoint: Path) -> set[str]:
    """Patients a checkpoint was trained on (recorded by the trainer in its sidecar)."""
    return set(read_sidecar(checkpoint).get("split", {}).get("train_patients", []))


def _hits(analyzer: Analyzer, records: Sequence[Record], class_maps: np.ndarray, geometries) -> np.ndarray:
    """Pointing game per reference box (records order): 1 hit, 0 miss, NaN label not assessed."""
    out = []
    for i, record in enumerate(records):
        for box in record.boxes:
            if box.label not in analyzer.labels:
                out.append(np.nan)
                continue
            heat = upsample(class_maps[i, analyzer.labels.index(box.label)], analyzer.input_size)
            out.append(float(inside(peak(heat), geometries[i].to_model(box.x, box.y, box.w, box.h))))
    return np.array(out, dtype=float)


def predictions_on(eval_set: EvalSet, checkpoints: Sequence[Path], limit: int | None = None) -> list[EvalPredictions]:
    """Outputs of each checkpoint on the same images of ``eval_set`` (``limit``: every k-th image)."""
    excluded = set().union(*(training_patients(Path(c)) for c in checkpoints))
    records = sorted((r for r in read_records(eval_set.labels_csv, eval_set.boxes_csv) if r.patient_id not in excluded),
                     key=lambda r: r.file)
    if limit:
        records = records[::max(1, len(records) // limit)][:limit]
    out = []
    for checkpoint in checkpoints:
        analyzer = Analyzer.load(checkpoint)
        data = prepare(records, eval_set.images_dir, analyzer.labels, analyzer.input_size)
        raw = infer(analyzer, data)
        out.append(EvalPredictions(
            version=analyzer.version, files=tuple(r.file for r in records), labels=analyzer.labels,
            truth=data.targets.numpy().astype(float), probs=raw.probabilities.astype(float),
            hits=_hits(analyzer, records, raw.class_maps, data.geometries)))
    return out
