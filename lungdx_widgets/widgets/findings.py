"""Findings panel: per-label probabilities against their operating thresholds, and triage in words.

Shows what the model says and how sure it is, never a diagnosis: labels the model was not trained
on are drawn as "not assessed" (never as 0), and the research-use notice is always on screen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ipywidgets as w
import plotly.graph_objects as go
import traitlets as t

from ..i18n import FONT_STACK, N_, translate
from ..i18n import gettext as _
from ..labels import ABNORMAL
from ..terms import finding_name, level_name
from ..types import TRIAGE_ORDER
from .theme import ACCENT, MUTED, RESEARCH_NOTICE, esc, message_html, triage_badge

#: The "any abnormality" summary (the viewer shows its heatmap first).
ANY_ABNORMALITY = ABNORMAL
_ABOVE = ACCENT
_BELOW = "#b2c5f5"


@dataclass(frozen=True)
class FindingsView:
    """What the panel draws, whether it came from a fresh analysis or a stored prediction."""

    probabilities: Mapping[str, float | None]
    thresholds: Mapping[str, float | None]
    triage_level: str | None
    triage_reasons: Sequence[str]
    model_version: str
    #: The model's guard said the film is unlike its training films: its findings may be unreliable.
    out_of_distribution: bool = False
    ood_score: float | None = None
    #: A clinician's triage override (level, reason, who) when there is one.
    override: tuple[str, str, str] | None = None

    @property
    def assessed(self) -> list[str]:
        """Assessed labels, most probable first."""
        return sorted((k for k, v in self.probabilities.items() if v is not None),
                      key=lambda k: -float(self.probabilities[k]))  # type: ignore[arg-type]

    @property
    def not_assessed(self) -> list[str]:
        return [k for k, v in self.probabilities.items() if v is None]

    def is_positive(self, label: str) -> bool:
        p, thr = self.probabilities.get(label), self.thresholds.get(label)
        return p is not None and thr is not None and p >= thr

    def likelihood(self, label: str) -> str:
        """The finding in words against its own operating point (see :func:`likelihood`); on a film the guard
        flagged, no word at all: the AI abstains (its probability stays on hover and in the chart)."""
        word = likelihood(self.probabilities.get(label), self.thresholds.get(label))
        return UNRELIABLE if self.out_of_distribution and word != NOT_ASSESSED else word


#: Words for a finding, judged against that label's own operating point (thresholds differ per label).
LIKELY, POSSIBLE, UNLIKELY, NOT_ASSESSED = N_("likely"), N_("possible"), N_("unlikely"), N_("not assessed")
#: What an assessed finding reads on a film the out-of-distribution guard flagged (the AI abstains).
UNRELIABLE = N_("not judged on this film")
OOD_SUMMARY = N_("The AI does not call findings on this film: it differs from the films the model learned from.")
#: "possible" from this fraction of the operating point up to it.
POSSIBLE_FROM = 0.5
OOD_WARNING = N_("This film differs from the films the model learned from; AI findings may be unreliable — "
               "read it yourself.")
LIKELIHOOD_HINT = N_("likely: at or above the label's operating point · possible: at least half of it · "
                   "unlikely: below that. Hover a finding for the model's probability.")


def likelihood(p: float | None, threshold: float | None) -> str:
    """likely (p ≥ operating point), possible (≥ half of it), unlikely, or not assessed."""
    if p is None or threshold is None:
        return NOT_ASSESSED
    if p >= threshold:
        return LIKELY
    return POSSIBLE if p >= POSSIBLE_FROM * threshold else UNLIKELY


def finding_tip(view: FindingsView, label: str) -> str:
    """What hovering a finding says: the model's probability and that finding's operating point."""
    p, thr = view.probabilities.get(label), view.thresholds.get(label)
    if p is None:
        return _("the model was not trained on this finding")
    if thr is None:
        return _("probability {p}").format(p=f"{p:.2f}")
    return _("probability {p} · operating point {t}").format(p=f"{p:.2f}", t=f"{thr:.2f}")


def not_assessed_html(view: FindingsView) -> str:
    missing = view.not_assessed
    if not missing:
        return ""
    tip, text = _("the model was not trained on these findings"), _("Not assessed: {labels}")
    return (f"<div class='lx-muted lx-findings-not-assessed' title='{esc(tip)}'>"
            f"{esc(text.format(labels=', '.join(map(finding_name, missing))))}</div>")


def view_from_findings(findings, triage) -> FindingsView:
    """From a fresh ``Findings`` + ``Triage``."""
    return FindingsView(
        probabilities=findings.probabilities(),
        thresholds={k: r.threshold for k, r in findings.results.items()},
        triage_level=triage.level if triage else None,
        triage_reasons=tuple(triage.reasons) if triage else (),
        model_version=findings.model_version,
        out_of_distribution=bool(getattr(findings, "out_of_distribution", False)),
        ood_score=getattr(findings, "ood_score", None),
    )


def view_from_prediction(prediction, thresholds: Mapping[str, float | None] | None = None) -> FindingsView:
    """From a stored ``Prediction`` record (thresholds are stored with it when the store keeps them)."""
    stored = getattr(prediction, "thresholds", None) or {}
    return FindingsView(
        probabilities=dict(prediction.probabilities),
        thresholds={**(thresholds or {}), **stored},
        triage_level=prediction.triage_level,
        triage_reasons=tuple(getattr(prediction, "triage_reasons", ()) or ()),
        model_version=prediction.model_version,
        out_of_distribution=bool(getattr(prediction, "out_of_distribution", False)),
        ood_score=getattr(prediction, "ood_score", None),
        override=((prediction.override_level, prediction.override_reason, prediction.override_by)
                  if getattr(prediction, "override_level", None) else None),
    )


def preload_chart_code() -> None:
    """Import plotly's widget machinery (seconds on a busy CPU); safe to call from a background thread."""
    import plotly.graph_objs._figurewidget  # noqa: F401


def bar_chart() -> go.FigureWidget:
    """An empty horizontal bar chart sized for the right column; traces are filled by ``draw``."""
    fig = go.FigureWidget(
        data=[go.Bar(orientation="h", name="probability", hovertemplate="%{y}: %{x:.2f}<extra></extra>"),
              go.Scatter(mode="markers", name="threshold", marker=dict(symbol="line-ns", size=16,
                         line=dict(width=2, color="#101828")), hovertemplate="threshold %{x:.2f}<extra></extra>"),
              go.Bar(orientation="h", name="not assessed", marker=dict(color="rgba(0,0,0,0)"),
                     hoverinfo="skip", textposition="inside", insidetextanchor="start",
                     textfont=dict(color=MUTED, size=11))],
        layout=go.Layout(height=330, width=370, margin=dict(l=120, r=12, t=8, b=30), barmode="overlay",
                         showlegend=False, plot_bgcolor="#ffffff", paper_bgcolor="#ffffff",
                         xaxis=dict(range=[0, 1], tickformat=".1f", gridcolor="#eaecf0", title=None, fixedrange=True),
                         yaxis=dict(autorange="reversed", tickfont=dict(size=11), fixedrange=True),
                         font=dict(family=FONT_STACK, size=11, color="#344054")),
    )
    fig._config = {"displayModeBar": False}  # no camera/zoom toolbar: this chart is read, not explored
    return fig


def draw(fig: go.FigureWidget, view: FindingsView) -> None:
    """Fill the chart in one batch (one message to the browser)."""
    labels = view.assessed
    probs = [float(view.probabilities[k]) for k in labels]  # type: ignore[arg-type]
    colours = [_ABOVE if view.is_positive(k) else _BELOW for k in labels]
    thr = [(k, view.thresholds.get(k)) for k in labels if view.thresholds.get(k) is not None]
    missing = view.not_assessed
    with fig.batch_update():
        # the axis shows each finding in the reader's language; customdata keeps the label for clicks
        fig.data[0].update(x=probs, y=[finding_name(k) for k in labels], customdata=labels, marker=dict(color=colours))
        fig.data[1].update(x=[v for _k, v in thr], y=[finding_name(k) for k, _v in thr],
                           hovertemplate=_("operating point") + " %{x:.2f}<extra></extra>")
        fig.data[2].update(x=[1.0] * len(missing), y=[finding_name(k) for k in missing],
                           text=[_(NOT_ASSESSED)] * len(missing))
        fig.layout.height = max(160, 40 + 19 * (len(labels) + len(missing)))


class FindingsPanel(w.VBox):
    """Chart + triage + model version + notice; ``selected_label`` drives the viewer's heatmap."""

    selected_label = t.Unicode(ANY_ABNORMALITY, help="Finding whose heatmap the viewer shows.")

    def __init__(self) -> None:
        self.view: FindingsView | None = None
        self.chart: go.FigureWidget | None = None  # built on first result: plotly's import is slow
        self._triage = w.HTML()
        self._triage.add_class("lx-triage")
        self._message = w.HTML(f"<div class='lx-empty'>{esc(_('Open a study or upload a radiograph to see AI findings.'))}</div>")
        self._message.add_class("lx-findings-message")
        self._meta = w.HTML()
        self._meta.add_class("lx-model-version")
        self.ood_banner = w.HTML(layout=w.Layout(display="none"))
        self.ood_banner.add_class("lx-ood-banner")
        #: One button per assessed finding, in words (probability on hover); a click shows its heatmap.
        self.words = w.Box()
        self.words.add_class("lx-findings-list")
        self.not_assessed = w.HTML()
        self._chart_slot = w.Box()
        self.triage_form = TriageOverrideForm()
        self._body = w.VBox([self.ood_banner, self._triage, self.triage_form, self.words, self.not_assessed,
                             self._chart_slot, self._meta],
                            layout=w.Layout(display="none"))
        notice = w.HTML(f"<div class='lx-notice-box'>{esc(_(RESEARCH_NOTICE))}</div>")
        super().__init__([self._message, self._body, notice])
        self.add_class("lx-findings")

    def show(self, view: FindingsView) -> None:
        """Draw a result; keeps the selected label when the new result has it."""
        self.view = view
        draw(self._ensure_chart(), view)
        reasons = "; ".join(translate(r) for r in view.triage_reasons) or _("no rule fired")
        if view.override:
            level, why, who = view.override
            ai_triage = (_("AI triage was {level}").format(level=level_name(view.triage_level)) if view.triage_level
                         else _("The AI gave no triage level"))
            self._triage.value = (f"<div class='lx-triage-line'>{esc(_('Triage'))} {triage_badge(level)} "
                                  f"<span class='lx-triage-reason'>{esc(_('set by {who}: {why}').format(who=who, why=why))}</span></div>"
                                  f"<div class='lx-muted lx-triage-ai'>{esc(ai_triage)}: {esc(reasons)}</div>")
        else:
            self._triage.value = (f"<div class='lx-triage-line'>{esc(_('Triage'))} {triage_badge(view.triage_level)} "
                                  f"<span class='lx-triage-reason'>{esc(reasons)}</span></div>")
        self.ood_banner.value = message_html(_(OOD_WARNING), "warn") if view.out_of_distribution else ""
        self.ood_banner.layout.display = None if view.out_of_distribution else "none"
        self.words.children = tuple(self._finding_button(view, label) for label in view.assessed)
        self.not_assessed.value = not_assessed_html(view)
        positives = [k for k in view.assessed if view.is_positive(k)]
        summary = (_(OOD_SUMMARY) if view.out_of_distribution else
                   _("Likely: {findings}").format(findings=", ".join(map(finding_name, positives))) if positives
                   else _("No finding is likely."))
        chart_help = _("Model {version}: bars are the model's probability per finding, tick = that finding's "
                       "operating point · {count} finding(s) not assessed · click a bar to see its heatmap")
        self._meta.value = (f"<div>{esc(summary)}</div><div class='lx-muted'>{esc(_(LIKELIHOOD_HINT))}</div>"
                            f"<div class='lx-muted'>{esc(chart_help.format(version=view.model_version, count=len(view.not_assessed)))}</div>")
        if self.selected_label not in view.assessed:
            self.selected_label = ANY_ABNORMALITY
        self._message.value = ""
        self._body.layout.display = None

    def _finding_button(self, view: FindingsView, label: str) -> w.Button:
        word = view.likelihood(label)
        # abstaining: the name alone (the banner and the summary say why; the probability stays on hover)
        text = finding_name(label) if word == UNRELIABLE else f"{finding_name(label)}: {_(word)}"
        button = w.Button(description=text, tooltip=finding_tip(view, label), layout=w.Layout(width="auto"))
        button.add_class("lx-finding")
        button.add_class(f"lx-finding-{word.replace(' ', '-')}")
        button.on_click(lambda _b: self.select(label))
        return button

    def _ensure_chart(self) -> go.FigureWidget:
        if self.chart is None:
            self.chart = bar_chart()
            self.chart.add_class("lx-findings-chart")
            self.chart.data[0].on_click(self._on_bar_click)
            self._chart_slot.children = (self.chart,)
        return self.chart

    def show_message(self, text: str, kind: str = "info") -> None:
        """Replace the chart by a message (e.g. weights missing); the rest of the dashboard keeps working."""
        self.view = None
        self._body.layout.display = "none"
        self._message.value = message_html(text, kind)

    def select(self, label: str) -> None:
        """Make ``label`` the selected finding (a bar click does the same); unknown labels are ignored."""
        if label == ANY_ABNORMALITY or (self.view is not None and label in self.view.assessed):
            self.selected_label = label

    def _on_bar_click(self, trace, points, _state) -> None:
        if points.point_inds:
            labels = trace.customdata if trace.customdata is not None else trace.y
            self.select(labels[points.point_inds[0]])


MSG_CHOOSE_LEVEL = N_("Choose the triage level first.")
MSG_OVERRIDDEN = N_("Triage changed; the worklist shows it as overridden.")


class TriageOverrideForm(w.VBox):
    """Level + reason + "Change triage" (the store audits it; the worklist shows it as overridden)."""

    def __init__(self) -> None:
        self.level = w.Dropdown(options=[(_("Level…"), "")] + [(level_name(lvl), lvl) for lvl in TRIAGE_ORDER], value="",
                                layout=w.Layout(width="96px", min_width="96px"))
        self.level.add_class("lx-override-level")
        self.reason = w.Text(placeholder=_("Reason (required)"), layout=w.Layout(flex="1 1 auto", min_width="0"))
        self.reason.add_class("lx-override-reason")
        self.apply = w.Button(description=_("Set triage"), tooltip=_("Change the triage level (audited, with the reason)"),
                              layout=w.Layout(width="84px", min_width="84px"))
        self.apply.add_class("lx-override-apply")
        self.message = w.HTML()
        self._handler = None
        self.apply.on_click(lambda _b: self.submit())
        row = w.HBox([self.level, self.reason, self.apply], layout=w.Layout(width="100%"))
        super().__init__([row, self.message], layout=w.Layout(width="100%", display="none"))
        self.add_class("lx-override")

    def on_submit(self, handler) -> None:
        """``handler(level, reason) -> error message or None``."""
        self._handler = handler
        self.layout.display = None

    def submit(self) -> None:
        if self._handler is None:
            return
        if not self.level.value:
            self.message.value = message_html(_(MSG_CHOOSE_LEVEL), "warn")
            return
        error = self._handler(self.level.value, self.reason.value.strip())
        if error:
            self.message.value = message_html(error, "error")
        else:
            self.reset()
            self.message.value = message_html(_(MSG_OVERRIDDEN), "ok")

    def reset(self) -> None:
        self.level.value, self.reason.value, self.message.value = "", "", ""
