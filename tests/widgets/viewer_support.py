"""A stored study with real AI-style box proposals, shared by the viewer/editor tests and the browser test."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING

from lungdx_widgets.imaging import load_image
from lungdx_widgets.types import Box, Findings, LabelResult, Triage

if TYPE_CHECKING:
    import numpy as np

#: A real TBX11K radiograph with two separate radiologist-drawn boxes in boxes.csv.
REVIEW_IMAGE = "tbx11k_tb0007.png"
REVIEW_CLASSES = ["Pneumonia", "Tuberculosis", "Effusion", "Nodule", "Mass"]
PATIENT = "MRN-2001"


def proposals(shared_data: Path, file: str = REVIEW_IMAGE) -> list[Box]:
    """The shared data's boxes for ``file``, presented as AI proposals with descending scores."""
    with open(shared_data / "boxes.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["file"] == file]
    return [Box(r["label"], float(r["x"]), float(r["y"]), float(r["w"]), float(r["h"]),
                score=round(0.9 - 0.3 * i, 2), source="ai", status="proposed") for i, r in enumerate(rows)]


def seed_review_study(store, shared_data: Path, actor: str = "system") -> int:
    """One patient, one real radiograph, one AI result proposing the shared boxes; returns the study id."""
    png = shared_data / "images" / REVIEW_IMAGE
    data = png.read_bytes()
    if store.search_patients(PATIENT, limit=1) == []:
        store.add_patient(PATIENT, "Iris Review", sex="F", birth_date="1961-03-14", actor=actor)
    study = store.add_study(PATIENT, load_image(data, filename=png.name), data, actor, filename=png.name)
    findings = Findings(results={c: LabelResult(c, 0.7 if c == "Tuberculosis" else 0.1, 0.5) for c in REVIEW_CLASSES},
                        boxes=proposals(shared_data), model_version="fixture-proposals")
    store.add_prediction(study.id, findings, Triage("urgent", ("Tuberculosis 0.70 ≥ 0.50",)), actor)
    return study.id


def box_heatmap(boxes: list[Box], rows: int, cols: int) -> "np.ndarray":
    """A smooth map in [0,1] peaking inside each box (score-weighted): a stand-in for model attention
    whose hot spots are known, so a test can check they are drawn where the boxes are."""
    import numpy as np

    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    out = np.zeros((rows, cols), np.float32)
    for b in boxes:
        cx, cy = b.x + b.w / 2, b.y + b.h / 2
        blob = np.exp(-(((xx - cx) / (b.w / 2)) ** 2 + ((yy - cy) / (b.h / 2)) ** 2))
        out = np.maximum(out, blob * (b.score or 1.0))
    return out


def review_viewer(title: str, shared_data: Path | None = None, lung_mask: bool = False, **options):
    """The review image in a viewer with its proposals and two heatmaps (``abnormal``, ``Tuberculosis``),
    optionally a lung outline (two ellipses where the lung fields are); ``options`` go to ImageViewer."""
    import numpy as np

    from lungdx_widgets.config import get_settings
    from lungdx_widgets.widgets.viewer import ImageViewer

    shared_data = shared_data or get_settings().shared_data
    radiograph = load_image(shared_data / "images" / REVIEW_IMAGE)
    rows, cols = radiograph.size
    boxes = proposals(shared_data)
    lungs = None
    if lung_mask:
        yy, xx = np.mgrid[0:rows, 0:cols]
        lungs = np.zeros((rows, cols), bool)
        for cx in (0.3 * cols, 0.7 * cols):
            lungs |= ((xx - cx) / (0.17 * cols)) ** 2 + ((yy - 0.5 * rows) / (0.33 * rows)) ** 2 <= 1
    viewer = ImageViewer(height=560, **options)
    viewer.set_study(radiograph, boxes=boxes, classes=REVIEW_CLASSES, title=title, lung_mask=lungs,
                     heatmaps={"abnormal": box_heatmap(boxes, rows, cols),
                               "Tuberculosis": box_heatmap(boxes[:1], rows, cols)})
    return viewer


def echo(viewer, name: str, css_class: str, show):
    """A line showing ``show(value)`` of the viewer's trait ``name`` as the kernel holds it."""
    import ipywidgets as w

    line = w.HTML()
    line.add_class(css_class)
    viewer.observe(lambda ch: setattr(line, "value", show(ch["new"])), names=name)
    return line


def heatmap_viewer(shared_data: Path | None = None):
    """The viewer with the review image, its proposals and two heatmaps, plus lines echoing the
    kernel's ``opacity`` and ``boxes`` (so a browser test sees what reached Python).
    Used by tests/e2e/viewer_heatmap.ipynb."""
    import ipywidgets as w

    viewer = review_viewer("Heatmap check · " + REVIEW_IMAGE, shared_data)
    return w.VBox([viewer, echo(viewer, "opacity", "kernel-opacity", lambda v: f"kernel opacity {v:.2f}"),
                   echo(viewer, "boxes", "kernel-boxes", json.dumps)])


def language_viewer(lang: str = "ko", shared_data: Path | None = None):
    """The review viewer shown in ``lang``, with a lung outline, a language switch that works as the
    dashboard's does (``theme.retranslate``) and lines echoing the kernel's ``boxes`` and ``dirty``.
    Used by tests/e2e/viewer_language.ipynb."""
    import ipywidgets as w

    from lungdx_widgets.widgets.theme import retranslate

    viewer = review_viewer("흉부 정면 · 2026-11-28", shared_data, lung_mask=True, language=lang)
    switch = w.Dropdown(options=[("English", "en"), ("한국어", "ko")], value=lang)
    switch.add_class("lang-switch")
    page = w.VBox([switch, viewer, echo(viewer, "boxes", "kernel-boxes", json.dumps),
                   echo(viewer, "dirty", "kernel-dirty", lambda v: f"kernel dirty {v}")])
    switch.observe(lambda ch: retranslate(page, ch["old"], ch["new"]), names="value")
    return page
