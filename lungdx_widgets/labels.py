"""The finding labels and the training-CSV schema: one place, so adding a label is one edit here.

Why one module: the label universe, "No Finding", the "abnormal" map key and the ``labels.csv`` /
``boxes.csv`` columns used to be written out in the model, the research export, training
snapshots, triage and widgets, and drifted (the export appended unknown labels, snapshots dropped
them silently). The ground-truth rule itself is :mod:`lungdx_widgets.ground_truth`; this module
names what it is applied to. Display words live in :mod:`lungdx_widgets.terms` (translations).

Unknown labels (a box or verdict for a label not in :data:`FINDING_LABELS`, e.g. from an older
model): one decision for every CSV writer: they are *kept* as extra ``y_`` columns after the
known ones, sorted by name (:func:`y_labels`), because a clinician's confirmed finding is data and
``lungdx train`` reads every ``y_`` column.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Every label the product can report, named as torchxrayvision names them. A checkpoint
#: assesses a subset; the rest are reported as "not assessed". Add a new finding here.
FINDING_LABELS: tuple[str, ...] = (
    "Pneumonia", "Lung Opacity", "Consolidation", "Infiltration", "Atelectasis", "Effusion", "Edema",
    "Pneumothorax", "Cardiomegaly", "Nodule", "Mass", "Emphysema", "Fibrosis", "Pleural_Thickening",
    "Hernia", "Tuberculosis",
)
#: The "nothing abnormal" label of the public data (``y_No Finding``; ``findings`` = "No Finding").
NO_FINDING = "No Finding"
#: Labels that mean "normal film" in any source (triage and priors treat them as no finding).
NORMAL_LABELS: frozenset[str] = frozenset({NO_FINDING, "Normal"})
#: Key of the "any abnormality" score and heatmap next to the per-label ones.
ABNORMAL = "abnormal"
#: Labels the shared data carries that the product does not report (kept in CSVs, not shown).
DATA_ONLY_LABELS: tuple[str, ...] = ("COVID-19",)

#: The shared ``labels.csv`` columns before the ``y_*`` labels (provenance columns may stay empty).
LABEL_COLUMNS: tuple[str, ...] = (
    "file", "source_dataset", "source_repo", "source_commit", "source_path", "license", "findings",
    "label_source", "patient_id", "age", "sex", "view", "orig_width", "orig_height", "width", "height",
    "has_box", "notes",
)
#: ``y_*`` labels in the shared data's column order (its header, column for column).
_SHARED_Y_ORDER: tuple[str, ...] = (
    NO_FINDING, "Pneumonia", "COVID-19", "Lung Opacity", "Consolidation", "Infiltration", "Atelectasis",
    "Effusion", "Cardiomegaly", "Pneumothorax", "Nodule", "Mass", "Edema", "Emphysema", "Fibrosis",
    "Pleural_Thickening", "Hernia", "Tuberculosis",
)
#: The known ``y_`` labels: the shared order, then any label added to FINDING_LABELS since.
Y_LABELS: tuple[str, ...] = _SHARED_Y_ORDER + tuple(
    lab for lab in (*FINDING_LABELS, *DATA_ONLY_LABELS) if lab not in _SHARED_Y_ORDER)
#: ``boxes.csv`` columns (x, y top-left; pixels of the written image).
BOX_COLUMNS: tuple[str, ...] = ("file", "label", "x", "y", "w", "h", "source")


def y_column(label: str) -> str:
    """The CSV column of a label (``y_Pneumonia``)."""
    return f"y_{label}"


def y_labels(seen: Iterable[str] = ()) -> list[str]:
    """The ``y_`` labels to write: the known ones, then unknown labels seen in the data, sorted."""
    return list(Y_LABELS) + sorted(set(seen) - set(Y_LABELS))


def labels_header(seen: Iterable[str] = ()) -> list[str]:
    """The full ``labels.csv`` header for rows mentioning the labels ``seen``."""
    return list(LABEL_COLUMNS) + [y_column(lab) for lab in y_labels(seen)]


def y_values(truth: dict[str, int]) -> dict[str, str]:
    """The ``y_`` cells of one row from a study's ground truth (:func:`ground_truth.ground_truth`).

    Known labels get "1"/"0", others stay empty (not reviewed is not a 0). "No Finding" is "0" as soon
    as any finding is positive; otherwise it is what the rule says about it (usually unknown: one
    absent finding does not make a film normal).
    """
    cells = {y_column(lab): str(v) for lab, v in truth.items()}
    if any(v == 1 for lab, v in truth.items() if lab != NO_FINDING):
        cells[y_column(NO_FINDING)] = "0"
    return cells


def positives(truth: dict[str, int]) -> list[str]:
    """The positive findings of a ground truth in column order (the ``findings`` cell, '|'-joined)."""
    return [lab for lab in y_labels(truth) if truth.get(lab) == 1 and lab != NO_FINDING]
