"""De-identified research dataset of clinician-reviewed studies, in the trainer's own format.

Writes ``images/*.png``, ``labels.csv`` and ``boxes.csv`` (the columns of the shared
``labels.csv``/``boxes.csv`` that ``lungdx train`` reads) and ``annotations.coco.json``.
Only *signed* studies with clinician labels go in: the per-finding verdicts on the AI call and
the boxes the clinician accepted, edited or drew. A sign-off without either (e.g. a past report
filed without review in the workbench) teaches a model nothing and is left out.

De-identification: patients become the imaging layer's keyed pseudonym
(:func:`~lungdx_widgets.imaging.deid.pseudonym_for`), file names are ``<pseudonym>_<n>.png``,
images are re-encoded from pixels (no DICOM header, no PNG text chunks), no dates or study UIDs
are written and ages above 89 become 90 (HIPAA Safe Harbor). Text burned into the pixels is
not removed; the README written with the data says so.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ..csvfiles import write_rows
from ..ground_truth import ground_truth
from ..imaging.deid import pseudonym_for
from ..imaging.render import to_png_bytes
from ..labels import BOX_COLUMNS, LABEL_COLUMNS, NO_FINDING, labels_header, positives, y_values
from .context import StudyContext

SOURCE_DATASET = "LungDx Workbench research export"
LICENSE = "Research use only (institutional data-use agreement)"
MAX_AGE = 90
README = """\
LungDx Workbench research export (de-identified)

images/      PNG radiographs, re-encoded from pixels (no metadata)
labels.csv   one row per image; y_<label>: 1 clinician-confirmed positive, 0 confirmed negative,
             empty = not reviewed (do not read as 0); findings '|'-separated or 'No Finding'
boxes.csv    file,label,x,y,w,h in the PNG's pixels (top-left x,y), boxes a clinician accepted/drew
annotations.coco.json  the same boxes as COCO (bbox = [x, y, w, h])

patient_id is a keyed pseudonym (same patient -> same pseudonym within one key). No names, IDs,
dates or UIDs are written; ages above 89 are given as 90. Text burned into the pixels is NOT
removed: review images before sharing outside the data-use agreement.
"""


@dataclass(frozen=True)
class ResearchSummary:
    images: int
    boxes: int
    patients: int
    left_out: int  # unsigned, or signed without any per-finding verdict or reviewed box
    out_dir: Path
    files: tuple[Path, ...] = ()
    study_ids: tuple[int, ...] = ()  # the studies exported (for the audit log)

    def __str__(self) -> str:
        return (f"{self.images} images of {self.patients} patients with {self.boxes} boxes written to "
                f"{self.out_dir} ({self.left_out} studies left out: unsigned or without clinician labels)")


def confirmed_labels(ctx: StudyContext) -> dict[str, int]:
    """The study's ground truth per label by the one rule in :mod:`lungdx_widgets.ground_truth`."""
    return ground_truth(ctx.verdicts, ctx.annotations.boxes)


def _age(ctx: StudyContext) -> str:
    try:
        on = date.fromisoformat(ctx.study.acquired[:10])
    except ValueError:
        on = None
    age = ctx.patient.age(on)
    return "" if age is None else str(min(age, MAX_AGE))


def _label_row(ctx: StudyContext, file: str, labels: dict[str, int]) -> dict[str, str]:
    found = positives(labels)
    rows, cols = ctx.pixels.shape[:2]
    row = dict.fromkeys(LABEL_COLUMNS, "")
    row.update({
        "file": file, "source_dataset": SOURCE_DATASET, "license": LICENSE,
        "findings": "|".join(found) or (NO_FINDING if labels.get(NO_FINDING) == 1 else ""),
        "label_source": "clinician sign-off of AI findings", "patient_id": pseudonym_for(ctx.patient.patient_id),
        "age": _age(ctx), "sex": ctx.patient.sex if ctx.patient.sex in ("M", "F") else "",
        "view": ctx.study.view or "", "orig_width": str(cols), "orig_height": str(rows),
        "width": str(cols), "height": str(rows), "has_box": str(int(bool(ctx.reviewed_boxes))),
    })
    row.update(y_values(labels))
    return row


def _coco(images: list[dict], boxes: list[dict], categories: list[str]) -> dict:
    cat_id = {name: i for i, name in enumerate(categories, start=1)}
    return {
        "info": {"description": SOURCE_DATASET, "version": "1", "contributor": "LungDx Workbench"},
        "licenses": [{"id": 1, "name": LICENSE, "url": ""}],
        "categories": [{"id": i, "name": n, "supercategory": "finding"} for n, i in cat_id.items()],
        "images": images,
        "annotations": [{"id": n, "image_id": b["image_id"], "category_id": cat_id[b["label"]],
                         "bbox": [b["x"], b["y"], b["w"], b["h"]], "area": b["w"] * b["h"], "iscrowd": 0}
                        for n, b in enumerate(boxes, start=1)],
    }


def export_research(contexts: Iterable[StudyContext], out_dir: Path) -> ResearchSummary:
    """Write the dataset for the signed studies among ``contexts`` into ``out_dir``."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    contexts = list(contexts)
    labelled = [(c, labels) for c in contexts if c.signed and (labels := confirmed_labels(c))]
    labelled.sort(key=lambda cl: (pseudonym_for(cl[0].patient.patient_id), cl[0].study.acquired, cl[0].study.id))
    confirmed = [labels for _, labels in labelled]
    per_patient: dict[str, int] = defaultdict(int)
    label_rows: list[dict[str, str]] = []
    box_rows: list[dict[str, Any]] = []
    coco_images: list[dict[str, Any]] = []
    coco_boxes: list[dict[str, Any]] = []
    written: list[Path] = []
    for image_id, (ctx, labels) in enumerate(labelled, start=1):
        pseudo = pseudonym_for(ctx.patient.patient_id)
        per_patient[pseudo] += 1
        file = f"{pseudo}_{per_patient[pseudo]}.png"
        written.append(out_dir / "images" / file)
        written[-1].write_bytes(to_png_bytes(ctx.pixels))
        row = _label_row(ctx, file, labels)
        label_rows.append(row)
        coco_images.append({"id": image_id, "file_name": file, "width": int(row["width"]),
                            "height": int(row["height"]), "findings": row["findings"]})
        for b in ctx.reviewed_boxes:
            box = {"file": file, "label": b.label, "x": round(b.x, 2), "y": round(b.y, 2),
                   "w": round(b.w, 2), "h": round(b.h, 2), "source": f"clinician ({b.status})"}
            box_rows.append(box)
            coco_boxes.append({**box, "image_id": image_id})
    write_rows(out_dir / "labels.csv", labels_header(lab for labels in confirmed for lab in labels), label_rows)
    write_rows(out_dir / "boxes.csv", list(BOX_COLUMNS), box_rows)
    categories = sorted({b["label"] for b in box_rows} | {lab for r in confirmed for lab, v in r.items() if v})
    (out_dir / "annotations.coco.json").write_text(json.dumps(_coco(coco_images, coco_boxes, categories), indent=1))
    (out_dir / "README.txt").write_text(README)
    written += [out_dir / n for n in ("labels.csv", "boxes.csv", "annotations.coco.json", "README.txt")]
    return ResearchSummary(len(label_rows), len(box_rows), len(per_patient), len(contexts) - len(labelled),
                           out_dir, tuple(written), tuple(c.study.id for c, _ in labelled))

