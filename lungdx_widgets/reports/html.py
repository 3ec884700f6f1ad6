"""Stand-alone HTML study report (one file, image inlined as PNG) from a :class:`StudyContext`.

The page is print-styled; :mod:`lungdx_widgets.reports.pdf` prints it to PDF with Chromium.
It is written in the reader's language (``lang``, default the acting user's: ``i18n``), with
``<html lang>`` set and a Korean-capable font first (Noto Sans CJK, installed by ``make setup``;
Chromium embeds the glyphs it uses into the PDF).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape

from .. import vocabulary
from ..display import RESEARCH_NOTICE
from ..i18n import FONT_STACK, format_datetime, gettext, language, translate, use_language
from ..terms import SEXES, finding_name, level_name
from .context import StudyContext, model_card_uri
from .overlay import overlay_png



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
        return gettext("preliminary, not signed")
    status = gettext("final: annotation version {version} as signed").format(version=ctx.annotations.version)
    if len(ctx.signoffs) > 1:
        status += gettext(", with {count} addendum(s)").format(count=len(ctx.signoffs) - 1)
    if ctx.unsigned_changes:
        status += gettext("; later changes (version {version}) are not signed").format(version=ctx.latest_version)
    return status


@lru_cache(maxsize=1)
def _template():
    env = Environment(loader=PackageLoader("lungdx_widgets.reports", "templates"),
                      autoescape=select_autoescape(["html", "jinja2"]))
    return env.get_template("study_report.html.jinja2")


def _(message: str, **fields: object) -> str:
    """The template's ``_()``: translate, then fill ``{fields}``."""
    return gettext(message).format(**fields) if fields else gettext(message)


def render_html(ctx: StudyContext, heatmap: np.ndarray | None = None, heatmap_note: str = "",
                generated_by: str = "", lang: str | None = None) -> str:
    """The report as one HTML string in ``lang``. ``heatmap`` (image-sized, [0,1]) is overlaid when given."""
    with use_language(lang or language()) as lang_used:
        return _render(ctx, heatmap, heatmap_note, generated_by, lang_used)


def _render(ctx: StudyContext, heatmap: np.ndarray | None, heatmap_note: str, generated_by: str,
            lang: str) -> str:
    boxes = ctx.boxes
    if ctx.annotations.version > 0:
        box_caption = _("{count} box(es) from clinician-reviewed annotations v{version}",
                        count=len(boxes), version=ctx.annotations.version)
        if ctx.signed:
            box_caption += _(" (the signed version)")
    else:
        box_caption = _("{count} box(es) proposed by the model, not yet reviewed", count=len(boxes))
    heatmap_caption = translate(heatmap_note) if heatmap_note else (
        _("AI heatmap overlaid (blue→red = more attention)") if heatmap is not None else _("no heatmap"))
    png = overlay_png(ctx.pixels, heatmap, boxes, label_text=finding_name)
    return _template().render(
        _=_, lang=lang, fonts=FONT_STACK, translate=translate, finding_name=finding_name, level_name=level_name,
        term=lambda code, text: vocabulary.term(code, text, lang), when=lambda t: format_datetime(t) if t else "",
        sex=_(SEXES.get(ctx.patient.sex, "unknown")),
        notice=_(RESEARCH_NOTICE), status=report_status(ctx), signoffs=ctx.signoffs,
        unsigned_changes=ctx.latest_version if ctx.unsigned_changes else 0, allergies=ctx.record.allergies,
        patient=ctx.patient, age=ctx.patient.age(), study=ctx.study, triage=ctx.triage,
        rows=finding_rows(ctx), boxes=boxes, box_caption=box_caption, heatmap_caption=heatmap_caption,
        image_b64=base64.b64encode(png).decode("ascii"),
        model_version=ctx.prediction.model_version if ctx.prediction else "none",
        model_card=model_card_uri(), signoff=ctx.signoff, signer=ctx.signer_name,
        generated=format_datetime(datetime.now().astimezone()), generated_by=generated_by,
    )
