"""Prior studies: the current radiograph beside the previous one, and a trend of key findings.

Rendered only when the Priors tab is opened (decoding earlier images is the slow part), so that
switching patients stays fast.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import ipywidgets as w
import numpy as np
import plotly.graph_objects as go

from ..errors import LungDxError
from ..imaging import load_image
from .theme import esc, message_html
from .viewer_data import pixels_to_png

THUMB_SIDE = 200
KEY_FINDINGS = 4


def thumbnail(pixels: np.ndarray, side: int = THUMB_SIDE) -> bytes:
    """A small PNG of a radiograph (stride subsampling: fast, and enough for a side-by-side glance)."""
    step = max(1, int(np.ceil(max(pixels.shape[:2]) / side)))
    return pixels_to_png(np.ascontiguousarray(pixels[::step, ::step]))


def study_day(study) -> str:
    return str(getattr(study, "acquired", None) or getattr(study, "uploaded_at", "") or "")[:10]


def key_labels(series: dict[int, dict[str, float | None]], n: int = KEY_FINDINGS) -> list[str]:
    """The labels that reached the highest probability in any study: what a clinician would track."""
    best: dict[str, float] = {}
    for probs in series.values():
        for label, p in probs.items():
            if p is not None and label not in ("No Finding",):
                best[label] = max(best.get(label, 0.0), float(p))
    return sorted(best, key=lambda k: -best[k])[:n]


def trend_figure(studies: Sequence, series: dict[int, dict[str, float | None]]) -> go.FigureWidget:
    """Probability of each key finding per study date (oldest left); gaps where a study was not analysed."""
    ordered = sorted(studies, key=study_day)
    days = [study_day(s) for s in ordered]
    traces = [go.Scatter(x=days, y=[series.get(s.id, {}).get(label) for s in ordered],
                         mode="lines+markers", name=label, connectgaps=False)
              for label in key_labels(series)]
    fig = go.FigureWidget(data=traces, layout=go.Layout(
        height=230, width=370, margin=dict(l=40, r=10, t=10, b=30), plot_bgcolor="#ffffff",
        yaxis=dict(range=[0, 1], title=None, gridcolor="#eaecf0", fixedrange=True),
        xaxis=dict(type="category", fixedrange=True), legend=dict(orientation="h", y=-0.25, font=dict(size=10)),
        font=dict(family="system-ui, sans-serif", size=11, color="#344054")))
    fig._config = {"displayModeBar": False}
    return fig


class ThumbnailCache:
    """Decoded thumbnails by stored-image path, so revisiting a patient costs nothing."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = size

    def get(self, path) -> bytes:
        key = str(path)
        if key not in self._items:
            self._items[key] = thumbnail(load_image(path).pixels)
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        self._items.move_to_end(key)
        return self._items[key]


class PriorsPanel(w.VBox):
    """Side-by-side current/previous study and the trend chart for one patient."""

    def __init__(self, store) -> None:
        self._store = store
        self._thumbs = ThumbnailCache()
        self._wanted: tuple[str, int | None] | None = None
        self._drawn: tuple[str, int | None] | None = None
        self._body = w.VBox([w.HTML("<div class='lx-empty'>Select a patient to compare studies.</div>")])
        super().__init__([self._body])
        self.add_class("lx-priors")

    def set_patient(self, patient_id: str | None, current_study_id: int | None = None) -> None:
        """Remember what to show; drawing waits for ``render()`` (called when the tab opens)."""
        self._wanted = (patient_id, current_study_id) if patient_id else None

    def render(self) -> None:
        if self._wanted is None or self._wanted == self._drawn:
            return
        patient_id, current_id = self._wanted
        try:
            studies = self._store.studies_for_patient(patient_id)
        except LungDxError as exc:
            self._body.children = (w.HTML(message_html(str(exc), "error")),)
            return
        self._drawn = self._wanted
        if not studies:
            self._body.children = (w.HTML("<div class='lx-empty'>No studies for this patient yet.</div>"),)
            return
        current = next((s for s in studies if s.id == current_id), studies[0])
        earlier = [s for s in studies if study_day(s) <= study_day(current) and s.id != current.id]
        pair = [self._tile(current, "Current")] + ([self._tile(earlier[0], "Previous")] if earlier else
                                                   [w.HTML("<div class='lx-empty'>No earlier study.</div>")])
        series = {}
        for s in studies:
            pred = self._store.latest_prediction(s.id)
            if pred is not None:
                series[s.id] = dict(pred.probabilities)
        children: list[w.Widget] = [w.HBox(pair)]
        children[0].add_class("lx-gap")
        if series:
            children += [w.HTML("<div class='lx-h2'>Trend of key findings</div>"), trend_figure(studies, series)]
        children.append(w.HTML(f"<div class='lx-muted'>{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} on file.</div>"))
        self._body.children = tuple(children)

    def _tile(self, study, caption: str) -> w.VBox:
        try:
            png = self._thumbs.get(self._store.study_image_path(study))
            image: w.Widget = w.Image(value=png, format="png", layout=w.Layout(width=f"{THUMB_SIDE - 10}px"))
        except (LungDxError, OSError) as exc:
            image = w.HTML(message_html(f"Image unavailable: {exc}", "warn"))
        box = w.VBox([w.HTML(f"<b>{esc(caption)}</b> <span class='lx-muted'>{esc(study_day(study))}</span>"), image])
        box.add_class("lx-prior-thumb")
        return box
