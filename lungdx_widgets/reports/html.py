"""Stand-alone HTML study report (one file, image inlined as PNG) from a :class:`StudyContext`.

The page is print-styled; :mod:`lungdx_widgets.reports.pdf` prints it to PDF with Chromium.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape

from .context import StudyContext, model_card_uri
from .overlay import overlay_png

RESEARCH_NOTICE = ("Research use only. Not a medical device and not for clinical decisions: "
                   "AI output is decision support that a clinician must confirm.")


@dataclass(frozen=True)
class FindingRow:
    label: str
    probability: str
    threshold: str
    call: str
    clinician: str
    css: str


def finding_rows(ctx: StudyContext) -> list[FindingRow]:
    """One row per model label: probability, threshold, AI call, the clinician's verdict if signed."""
    if ctx.prediction is None:
        return []
    verdicts = ctx.verdicts
    rows = []
    for label, p in ctx.prediction.probabilities.items():
        t = ctx.prediction.thresholds.get(label)
        if p is None:
            call, css = "not assessed", "not-assessed"
        elif t is None:
            call, css = "no threshold", ""
        else:
            call, css = ("positive", "positive") if p >= t else ("negative", "")
        verdict = verdicts.get(label, "—")
        rows.append(FindingRow(label, "—" if p is None else f"{p:.2f}", "—" if t is None else f"{t:.2f}",
                               call, verdict, css))
    return rows


def report_status(ctx: StudyContext) -> str:
    """Which signed version the report shows, in one phrase (the title says it)."""
    if not ctx.signed:
        return "preliminary, not signed"
    status = f"final: annotation version {ctx.annotations.version} as signed"
    if len(ctx.signoffs) > 1:
        status += f", with {len(ctx.signoffs) - 1} addendum(s)"
    if ctx.unsigned_changes:
        status += f"; later changes (version {ctx.latest_version}) are not signed"
    return status


@lru_cache(maxsize=1)
def _template():
    env = Environment(loader=PackageLoader("lungdx_widgets.reports", "templates"),
                      autoescape=select_autoescape(["html", "jinja2"]))
    return env.get_template("study_report.html.jinja2")


def render_html(ctx: StudyContext, heatmap: np.ndarray | None = None, heatmap_note: str = "",
                generated_by: str = "") -> str:
    """The report as one HTML string. ``heatmap`` (image-sized, [0,1]) is overlaid when given."""
    boxes = ctx.boxes
    if ctx.annotations.version > 0:
        box_caption = f"{len(boxes)} box(es) from clinician-reviewed annotations v{ctx.annotations.version}"
        if ctx.signed:
            box_caption += " (the signed version)"
    else:
        box_caption = f"{len(boxes)} box(es) proposed by the model, not yet reviewed"
    heatmap_caption = heatmap_note or ("AI heatmap overlaid (blue→red = more attention)"
                                       if heatmap is not None else "no heatmap")
    png = overlay_png(ctx.pixels, heatmap, boxes)
    return _template().render(
        notice=RESEARCH_NOTICE, status=report_status(ctx), signoffs=ctx.signoffs,
        unsigned_changes=ctx.latest_version if ctx.unsigned_changes else 0, allergies=ctx.record.allergies,
        patient=ctx.patient, age=ctx.patient.age(), study=ctx.study, triage=ctx.triage,
        rows=finding_rows(ctx), boxes=boxes, box_caption=box_caption, heatmap_caption=heatmap_caption,
        image_b64=base64.b64encode(png).decode("ascii"),
        model_version=ctx.prediction.model_version if ctx.prediction else "none",
        model_card=model_card_uri(), signoff=ctx.signoff, signer=ctx.signer_name,
        generated=datetime.now().astimezone().isoformat(timespec="seconds"), generated_by=generated_by,
    )
