"""Turn reviewed annotations into training rows in the shared CSV format.

The rule that decides the ground truth is not here: it is :func:`lungdx_widgets.ground_truth.ground_truth`
(sign-off verdicts first, then kept/rejected boxes), shared with the research export. A label the
rule says nothing about stays unlabelled (empty ``y_`` column), because an unreviewed label is not a 0.
Rows use the header of ``shared/data/cxr/labels.csv`` / ``boxes.csv`` (:mod:`lungdx_widgets.labels`,
shared with the research export) so the trainer reads snapshots and the public data alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..ground_truth import ground_truth, truth_boxes
from ..labels import labels_header, positives, y_values
from ..types import Box


def is_reviewed(boxes: Iterable[Box]) -> bool:
    """A person looked at it: some box was accepted, rejected, edited or drawn (not only AI proposals)."""
    return any(b.status != "proposed" or b.source == "human" for b in boxes)


@dataclass(frozen=True)
class ReviewedImage:
    """One reviewed study, ready to be written as a training image."""

    file: str
    patient_id: str
    sex: str
    view: str
    width: int
    height: int
    boxes: tuple[Box, ...]
    provenance: str  # e.g. "study 12, annotation v3 by alice"
    #: The signer's present/absent/uncertain per finding (empty when the study is not signed).
    verdicts: Mapping[str, str] = field(default_factory=dict)

    @property
    def truth(self) -> dict[str, int]:
        return ground_truth(self.verdicts, self.boxes)

    @property
    def truth_boxes(self) -> tuple[Box, ...]:
        return truth_boxes(self.verdicts, self.boxes)

    @property
    def positives(self) -> list[str]:
        return sorted(k for k, v in self.truth.items() if v == 1)

    @property
    def known_negatives(self) -> list[str]:
        return sorted(k for k, v in self.truth.items() if v == 0)

    @property
    def informative(self) -> bool:
        """Worth training on: it says something positive or negative about at least one label."""
        return bool(self.positives or self.known_negatives)


def label_row(image: ReviewedImage) -> dict[str, str]:
    """The ``labels.csv`` row of one reviewed image."""
    row = dict.fromkeys(labels_header(image.truth), "")
    kept_boxes = image.truth_boxes
    row.update({
        "file": image.file, "source_dataset": "LungDx Workbench annotations", "license": "local; research use only",
        "findings": "|".join(positives(image.truth)), "label_source": "clinician/analyst review in LungDx",
        "patient_id": image.patient_id, "sex": image.sex, "view": image.view,
        "orig_width": str(image.width), "orig_height": str(image.height),
        "width": str(image.width), "height": str(image.height),
        "has_box": "1" if kept_boxes else "0", "notes": image.provenance,
    })
    row.update(y_values(image.truth))  # unknown labels too: the writer adds their columns (labels.y_labels)
    return row


def box_rows(image: ReviewedImage) -> Iterable[dict[str, str]]:
    """``boxes.csv`` rows: the ground-truth boxes, in original pixels (the PNG keeps that size)."""
    for b in image.truth_boxes:
        yield {"file": image.file, "label": b.label, "x": f"{b.x:.2f}", "y": f"{b.y:.2f}",
               "w": f"{b.w:.2f}", "h": f"{b.h:.2f}", "source": f"LungDx {b.source} box, {b.status}"}
