"""Training/evaluation data from ``labels.csv`` + ``boxes.csv`` (the shared data's format).

Labels come from ``y_<label>`` columns when present (1 positive, 0 known negative, empty =
unknown and masked out of the loss), otherwise from the ``|``-separated ``findings`` column.
Splits keep patients whole and are stratified by source, view and pneumonia status, because
those are the confounders of this data.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..csvfiles import csv_rows
from ..imaging.raster import decode_pixels
from ..imaging.transform import Geometry, equalize
from ..labels import NO_FINDING
from .network import NetConfig
from .preprocess import prepare_films
from .segment import LungSegmenter
from ..types import Box



@dataclass(frozen=True)
class Record:
    """One labelled image."""

    file: str
    patient_id: str
    view: str
    source: str
    labels: dict[str, float | None]   # label -> 1/0, None = unknown
    abnormal: float | None             # 1 any finding, 0 "No Finding", None unknown
    boxes: tuple[Box, ...] = ()
    #: Value of a label the row does not mention: None with ``y_*`` columns (not labelled by the
    #: source), 0.0 for findings-only CSVs (NIH convention: unlisted = absent).
    unlisted: float | None = None

    def target(self, label: str) -> float | None:
        return self.labels.get(label, self.unlisted)


def _parse_float(value: str | None) -> float | None:
    if value is None or value.strip() == "":
        return None
    return _finite(value)


def _finite(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _required(row: dict[str, str | None], column: str) -> str:
    value = row[column]
    if value is None or not value.strip():
        raise ValueError(f"empty {column!r}")
    return value


def read_boxes(boxes_csv: Path | None) -> dict[str, list[Box]]:
    """``file -> [Box]`` in the image file's pixels (``source="human"``: these are references)."""
    out: dict[str, list[Box]] = defaultdict(list)
    if boxes_csv is None or not Path(boxes_csv).is_file():
        return out
    with csv_rows(boxes_csv) as reader:
        for row in reader:
            file, label = _required(row, "file"), _required(row, "label")
            x, y, w, h = (_finite(row[c]) for c in "xywh")
            out[file].append(Box(label, x, y, w, h, source="human", status="accepted"))
    return out


def read_records(labels_csv: Path, boxes_csv: Path | None = None) -> list[Record]:
    """All rows of ``labels_csv`` as :class:`Record` (boxes attached by file name)."""
    boxes = read_boxes(boxes_csv)
    records: list[Record] = []
    with csv_rows(labels_csv) as reader:
        y_cols = [c for c in (reader.fieldnames or []) if c.startswith("y_") and c != f"y_{NO_FINDING}"]
        for row in reader:
            findings = [f.strip() for f in (row.get("findings") or "").split("|") if f.strip()]
            positive = [f for f in findings if f != NO_FINDING]
            if y_cols:
                labels, unlisted = {c[2:]: _parse_float(row[c]) for c in y_cols}, None
            else:
                labels, unlisted = {f: 1.0 for f in positive}, 0.0
            normal = NO_FINDING in findings or _parse_float(row.get(f"y_{NO_FINDING}")) == 1.0
            abnormal = 1.0 if positive else (0.0 if normal else None)
            if normal and not positive:  # a film read as normal is a known negative for every finding
                labels = {k: (0.0 if v is None else v) for k, v in labels.items()}
            records.append(Record(
                file=_required(row, "file"), patient_id=row.get("patient_id") or row["file"],
                view=(row.get("view") or "unknown").strip() or "unknown",
                source=(row.get("source_dataset") or "unknown").strip() or "unknown",
                labels=labels, abnormal=abnormal, boxes=tuple(boxes.get(row["file"], ())), unlisted=unlisted))
    return records


def supported_labels(records: list[Record], candidates: tuple[str, ...], min_positives: int = 20,
                     min_negatives: int = 20) -> tuple[str, ...]:
    """Labels with enough positives and known negatives to train on (others: not assessed)."""
    out = []
    for label in candidates:
        values = [r.target(label) for r in records]
        if sum(v == 1.0 for v in values) >= min_positives and sum(v == 0.0 for v in values) >= min_negatives:
            out.append(label)
    return tuple(out)


def stratum(record: Record, key_label: str = "Pneumonia") -> tuple[str, str, str]:
    return record.source, record.view, str(record.target(key_label))


def patient_folds(records: list[Record], n_folds: int = 5, seed: int = 0) -> dict[str, int]:
    """Patient → fold, dealt round-robin within (source, view, pneumonia) strata after a seeded shuffle."""
    by_stratum: dict[tuple, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for r in records:
        if r.patient_id not in seen:
            seen.add(r.patient_id)
            by_stratum[stratum(r)].append(r.patient_id)
    rng = random.Random(seed)
    fold_of: dict[str, int] = {}
    offset = 0
    for key in sorted(by_stratum):
        patients = sorted(by_stratum[key])
        rng.shuffle(patients)
        for i, p in enumerate(patients):
            fold_of[p] = (i + offset) % n_folds
        offset += len(patients)  # small strata do not all start in fold 0
    return fold_of


def split_records(records: list[Record], fold: int, n_folds: int, seed: int) -> tuple[list[Record], list[Record]]:
    """(train, validation) with whole patients on one side only."""
    folds = patient_folds(records, n_folds, seed)
    train = [r for r in records if folds[r.patient_id] != fold]
    val = [r for r in records if folds[r.patient_id] == fold]
    return train, val


def balanced_weights(records: list[Record], key_label: str = "Pneumonia", source_power: float = 1.0) -> list[float]:
    """Sampling weights that make view × label balanced *within* each source; each source is drawn
    in proportion to (its size) ** ``source_power`` (1 keeps source sizes, 0 draws sources equally).

    In this data AP/PA and source correlate with the label; equalising the (view, label) groups
    inside a source removes the view shortcut without inventing images the source lacks.
    """
    groups = Counter((r.source, r.view, str(r.target(key_label))) for r in records)
    per_source = Counter(r.source for r in records)
    groups_in_source = Counter(src for src, _, _ in groups)
    return [per_source[r.source] ** source_power
            / (groups_in_source[r.source] * groups[(r.source, r.view, str(r.target(key_label)))])
            for r in records]


def read_grayscale(path: Path) -> np.ndarray:
    """An 8/16-bit PNG/JPEG as float32 [0,1], decoded exactly as serving decodes an upload (no train/serve skew)."""
    with Image.open(path) as im:
        return decode_pixels(im)[0]


@dataclass
class Prepared:
    """Images at model resolution (uint8, to save memory) with targets and box masks."""

    images: torch.Tensor        # (N, 1, S, S) uint8, crop of [0,1] pixels * 255
    targets: torch.Tensor       # (N, C) float, NaN = unknown
    abnormal: torch.Tensor      # (N,) float, NaN = unknown
    box_masks: torch.Tensor     # (N, C, S, S) uint8 (1 inside a reference box)
    has_box: torch.Tensor       # (N, C) bool
    geometries: list[Geometry] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    #: (N, S, S) uint8 lung masks on the model grid (lung-crop checkpoints), else None.
    lung_grids: torch.Tensor | None = None
    #: The crops are histogram-equalised on the way into the network (:func:`to_network_units`).
    standardize: bool = False


def box_mask(boxes: list[Box], geometry: Geometry) -> np.ndarray:
    """Union of boxes (original pixels) rasterised on the model input grid."""
    s = geometry.size
    m = np.zeros((s, s), dtype=np.uint8)
    for b in boxes:
        x, y, w, h = geometry.to_model(b.x, b.y, b.w, b.h)
        x0, y0 = max(int(math.floor(x)), 0), max(int(math.floor(y)), 0)
        x1, y1 = min(int(math.ceil(x + w)), s), min(int(math.ceil(y + h)), s)
        if x1 > x0 and y1 > y0:
            m[y0:y1, x0:x1] = 1
    return m


def prepare(records: list[Record], images_dir: Path, labels: tuple[str, ...], size: int,
            config: NetConfig | None = None, segmenter: LungSegmenter | None = None) -> Prepared:
    """Decode, crop and resize every image once (training then only augments tensors).

    The crop is the one serving uses (:func:`~lungdx_widgets.model.preprocess.prepare_films`); the
    crops are kept *before* histogram equalisation so that training can jitter the acquisition first.
    """
    config = config or NetConfig(labels=labels, input_size=size)
    n, c = len(records), len(labels)
    images = torch.zeros(n, 1, size, size, dtype=torch.uint8)
    masks = torch.zeros(n, c, size, size, dtype=torch.uint8)
    grids = torch.zeros(n, size, size, dtype=torch.uint8) if config.lung_crop else None
    has_box = torch.zeros(n, c, dtype=torch.bool)
    geometries = []
    for start in range(0, n, 32):
        chunk = records[start:start + 32]
        films = [read_grayscale(Path(images_dir) / r.file) for r in chunk]
        for i, (r, film) in enumerate(zip(chunk, prepare_films(films, config, segmenter, standardize=False)),
                                      start=start):
            images[i, 0] = torch.from_numpy(np.clip((film.input[0] + 1024.0) / 2048.0 * 255.0 + 0.5, 0, 255)
                                            .astype(np.uint8))
            if grids is not None and film.lung_grid is not None:
                grids[i] = torch.from_numpy(film.lung_grid.astype(np.uint8))
            geo = film.geometry
            geometries.append(geo)
            for j, label in enumerate(labels):
                boxes = [b for b in r.boxes if b.label == label]
                if boxes:
                    masks[i, j] = torch.from_numpy(box_mask(boxes, geo))
                    has_box[i, j] = True
    targets = torch.tensor([[np.nan if r.target(lab) is None else r.target(lab) for lab in labels] for r in records],
                           dtype=torch.float32).reshape(n, c)
    abnormal = torch.tensor([np.nan if r.abnormal is None else r.abnormal for r in records], dtype=torch.float32)
    return Prepared(images, targets, abnormal, masks, has_box, geometries, list(records), grids, config.lung_crop)


def to_network_units(images_u8: torch.Tensor, standardize: bool = False) -> torch.Tensor:
    """uint8 crops (or [0,1] floats) → torchxrayvision's [-1024, 1024], equalised when ``standardize``."""
    images = images_u8.float() / 255.0 if images_u8.dtype == torch.uint8 else images_u8
    if standardize:
        images = equalize(images)
    return images * 2048.0 - 1024.0


#: Films of each class a source must hold before it teaches (or is scored on) a label's contrast.
MIN_PER_CLASS_IN_SOURCE = 5


def two_class_rows(values: np.ndarray | torch.Tensor, sources: list[str], min_each: int = MIN_PER_CLASS_IN_SOURCE) -> np.ndarray:
    """(N,) bool: the films with a known value whose source holds at least ``min_each`` of both classes."""
    y = np.asarray(values, dtype=np.float64)
    src = np.array(sources)
    rows = np.zeros(len(y), dtype=bool)
    for source in set(sources):
        m = (src == source) & ~np.isnan(y)
        if (y[m] == 1).sum() >= min_each and (y[m] == 0).sum() >= min_each:
            rows |= m
    return rows


def within_source_targets(data: Prepared, min_each: int = MIN_PER_CLASS_IN_SOURCE
                          ) -> tuple[torch.Tensor, torch.Tensor, dict[str, list[str]]]:
    """Label and abnormality targets with NaN where a film's source lacks one of the two classes.

    A source with only positives (a COVID archive, TBX11K) would teach "this archive = disease":
    its films then teach a label only through their boxes and the maps, never through the
    image-level loss. Returns (targets, abnormal, {label: sources that teach it}).
    """
    sources = [r.source for r in data.records]
    columns = {f"label:{j}": data.targets[:, j] for j in range(data.targets.shape[1])}
    columns["abnormal"] = data.abnormal
    taught: dict[str, list[str]] = {}
    masked = {}
    for key, values in columns.items():
        rows = two_class_rows(values.numpy(), sources, min_each)
        out = values.clone()
        out[torch.from_numpy(~rows)] = float("nan")
        masked[key] = out
        taught[key] = sorted({s for s, keep in zip(sources, rows) if keep})
    targets = torch.stack([masked[f"label:{j}"] for j in range(data.targets.shape[1])], 1).reshape(data.targets.shape)
    return targets, masked["abnormal"], taught


def acquisition_jitter(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """What differs between hospitals' films besides contrast: blur, down-up resampling, noise, and
    burned-in markers; on (B, 1, S, S) [0, 1] images."""
    b, s = images.shape[0], images.shape[-1]
    rnd = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    images = images.clone()
    for i in range(b):
        kind = rnd(1).item()
        if kind < 0.25:
            images[i] = F.avg_pool2d(images[i:i + 1], 3, 1, 1)[0]
        elif kind < 0.5:
            f = int(s * (0.35 + 0.4 * rnd(1).item()))
            images[i] = F.interpolate(F.interpolate(images[i:i + 1], size=(f, f), mode="area"), size=(s, s),
                                      mode="bilinear", align_corners=False)[0]
        if rnd(1).item() < 0.3:
            h, w = int(s * 0.05 + s * 0.08 * rnd(1).item()), int(s * 0.05 + s * 0.15 * rnd(1).item())
            y, x = int(rnd(1).item() * (s - h)), int(rnd(1).item() * (s - w))
            images[i, :, y:y + h, x:x + w] = 1.0
    return (images + torch.randn(images.shape, generator=generator) * 0.03 * rnd(b, 1, 1, 1)).clamp(0, 1)


def augment(images: torch.Tensor, masks: torch.Tensor, generator: torch.Generator,
            hflip: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Random affine (same for image and box masks), gamma/contrast jitter and cut-outs.

    ``images`` are in [0, 1]. Cut-outs cover random rectangles so no single corner marker or
    collimation edge can carry the decision. ``hflip`` mirrors half the batch (masks too): lesions
    occur in either lung, and a model that may not rely on the side cannot put every heatmap peak
    in the same place (seen without it: 60 of 78 pneumonia peaks in the image's right third).
    """
    b = images.shape[0]
    rnd = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    if hflip:
        flip = rnd(b) < 0.5
        images, masks = images.clone(), masks.clone()
        images[flip], masks[flip] = images[flip].flip(-1), masks[flip].flip(-1)
    angle = (rnd(b) - 0.5) * 2 * math.radians(8)
    scale = 1.0 + (rnd(b) - 0.5) * 0.2
    tx, ty = (rnd(b) - 0.5) * 0.12, (rnd(b) - 0.5) * 0.12
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    both = torch.cat([images, masks], 1)
    warped = F.grid_sample(both, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    images, masks = warped[:, :1], warped[:, 1:]
    gamma = torch.exp((rnd(b, 1, 1, 1) - 0.5) * 0.6)
    images = images.clamp(0, 1) ** gamma
    images = ((images - 0.5) * (1.0 + (rnd(b, 1, 1, 1) - 0.5) * 0.4) + 0.5 + (rnd(b, 1, 1, 1) - 0.5) * 0.1).clamp(0, 1)
    size = images.shape[-1]
    for i in range(b):
        if rnd(1).item() < 0.5:
            h, w = (int(size * (0.1 + 0.15 * rnd(1).item())) for _ in range(2))
            y, x = int(rnd(1).item() * (size - h)), int(rnd(1).item() * (size - w))
            images[i, :, y:y + h, x:x + w] = rnd(1).item()
    return images, masks
