"""HTML study report and its picture, rendered from real demo studies."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from lungdx_widgets.reports.html import RESEARCH_NOTICE, finding_rows, render_html
from lungdx_widgets.reports.overlay import AI_COLOUR, HUMAN_COLOUR, overlay_png
from lungdx_widgets.types import Box

from .conftest import MODEL_VERSION, NOT_ASSESSED


def _inline_image(html: str) -> Image.Image:
    data = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
    return Image.open(io.BytesIO(base64.b64decode(data)))


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_signed_report_has_every_section(scenario):
    ctx = scenario.context(scenario.reviewed[0])
    html = render_html(ctx, generated_by="pytest")
    text = _text(html)
    assert RESEARCH_NOTICE in text
    assert ctx.patient.name in text and ctx.patient.patient_id in text and ctx.patient.birth_date in text
    assert "(final: annotation version 1 as signed)" in text
    assert "Signed by Demo clinician" in text and "Right lower lobe pneumonia." in text
    assert "Allergies" in text
    for reason in ctx.triage.reasons:
        assert reason in html
    assert f"Version {MODEL_VERSION}" in text
    assert 'href="file://' in html and "MODEL_CARD.md" in html
    assert "clinician-reviewed annotations v1" in text


def test_findings_table_says_calls_verdicts_and_not_assessed(scenario):
    ctx = scenario.context(scenario.reviewed[0])
    rows = {r.label: r for r in finding_rows(ctx)}
    assert len(rows) == len(ctx.prediction.probabilities)
    # agree/disagree with the AI call, as the old sign-off stored it, read as present/absent
    assert (rows["Pneumonia"].call, rows["Pneumonia"].clinician) == ("positive", "present")
    assert (rows["Atelectasis"].call, rows["Atelectasis"].clinician) == ("positive", "absent")
    assert (rows["Effusion"].call, rows["Effusion"].clinician) == ("negative", "present")
    for label in NOT_ASSESSED:
        assert (rows[label].probability, rows[label].call) == ("—", "not assessed")


def test_unsigned_report_is_preliminary(scenario):
    unsigned = scenario.unsigned[0]
    text = _text(render_html(scenario.context(unsigned)))
    assert "(preliminary, not signed)" in text and "Not signed." in text
    assert "proposed by the model, not yet reviewed" in text


def test_unanalysed_study_still_reports_patient_and_image(scenario):
    html = render_html(scenario.context(scenario.unanalysed[0]))
    assert "Not analysed." in html and "No model findings." in html
    assert _inline_image(html).size[0] > 0


def test_inline_picture_shows_heatmap_and_boxes_at_their_place(scenario):
    ctx = scenario.context(scenario.reviewed[0])
    rows, cols = ctx.pixels.shape
    heat = np.zeros((rows, cols), np.float32)
    heat[: rows // 4, : cols // 4] = 1.0
    image = np.asarray(_inline_image(render_html(ctx, heatmap=heat)).convert("RGB")).astype(int)
    assert image.shape[:2] == (rows, cols)
    hot = image[5: rows // 4 - 5, 5: cols // 4 - 5]
    cold = image[int(rows * 0.85): int(rows * 0.95), 5: int(cols * 0.15)]  # no heat, no box
    assert (hot[..., 0] - hot[..., 2]).mean() > 60, "full heat tints its area red (turbo's hot end)"
    assert np.abs(cold[..., 0] - cold[..., 2]).mean() < 3, "zero heat leaves the film grey"
    box = ctx.boxes[0]
    edge = image[int(box.y) + 1, int(box.x) + 10: int(box.x + box.w) - 10]
    assert np.all(np.abs(edge - HUMAN_COLOUR).sum(axis=1) < 30), "the reviewed box is drawn on its top edge"


def test_overlay_scales_boxes_with_large_images():
    pixels = np.full((2000, 1000), 0.5, np.float32)
    png = overlay_png(pixels, boxes=[Box("Pneumonia", 200, 400, 400, 800)], max_side=1000)
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert image.shape[:2] == (1000, 500)
    assert np.abs(image[200, 150] - AI_COLOUR).sum() < 30  # box top edge at y=400/2, x in 100..300
    assert np.abs(image[500, 250] - 128).sum() < 10       # inside the box the film is untouched


def test_a_bounded_heatmap_is_stretched_over_the_whole_film():
    """Heatmaps are small (≤ 512 px a side) and cover the film: hot in the map's lower-right quarter is
    hot in the picture's lower-right quarter; a map of another aspect is refused, not misplaced."""
    pixels = np.full((3000, 2000), 0.5, np.float32)
    heat = np.zeros((512, 341), np.float32)
    heat[256:, 171:] = 1.0
    image = np.asarray(Image.open(io.BytesIO(overlay_png(pixels, heat, max_side=600))).convert("RGB")).astype(int)
    assert image.shape[:2] == (600, 400)
    assert np.abs(image[450, 300] - 128).sum() > 60   # coloured where the map is hot
    assert np.abs(image[150, 100] - 128).sum() < 10   # untouched where it is cold
    with pytest.raises(ValueError, match="does not cover"):
        overlay_png(pixels, np.zeros((512, 512), np.float32))


def test_patient_text_is_escaped(scenario):
    ctx = scenario.context(scenario.analysed[0])
    ctx = replace(ctx, record=replace(ctx.record, patient=replace(ctx.patient, name="<script>alert(1)</script>")))
    html = render_html(ctx)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_report_shows_the_signed_version_marks_addenda_and_lists_allergies(scenario, tmp_path):
    from lungdx_widgets.reports.context import study_context
    from lungdx_widgets.store import open_store

    db = tmp_path / "copy.db"
    with open_store(scenario.db) as source:
        source.backup(db)
    sid = scenario.reviewed[0]
    with open_store(db) as store:
        signer = store.first_signoff(sid).signed_by
        signed_boxes = store.annotations(sid).boxes
        store.add_allergy(store.get_study(sid).patient_id, signer, "Iodinated contrast", "drug", "anaphylaxis", "severe")
        store.save_annotations(sid, list(signed_boxes[:1]), 1, signer)  # after signing: not signed yet
        ctx = study_context(store, sid, "pytest")
        text = _text(render_html(ctx))
        assert ctx.annotations.version == 1 and ctx.boxes == tuple(b for b in signed_boxes if b.status != "rejected")
        assert "later changes (version 2) are not signed" in text and "Iodinated contrast" in text
        store.sign_study(sid, signer, verdicts={"Pneumonia": "present"}, impression="Smaller box.", addendum=True)
        text = _text(render_html(study_context(store, sid, "pytest")))
        assert "annotation version 2 as signed, with 1 addendum(s)" in text
        assert "Addendum signed by" in text and "Smaller box." in text and "not signed" not in text.split("Chest")[1]
