"""The few shared types that travel between layers (plain dataclasses, no widget imports).

``Radiograph`` comes out of :mod:`lungdx_widgets.imaging`, ``Findings`` out of
:mod:`lungdx_widgets.model`, ``Triage`` out of :mod:`lungdx_widgets.triage`. Coordinates are
always in pixels of the *original* image (x right, y down, top-left origin).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

BoxSource = Literal["ai", "human"]
BoxStatus = Literal["proposed", "accepted", "rejected", "edited"]
TriageLevel = Literal["emergent", "urgent", "routine"]
TRIAGE_ORDER: tuple[TriageLevel, ...] = ("emergent", "urgent", "routine")


@dataclass(frozen=True)
class Radiograph:
    """A decoded chest radiograph at original resolution.

    ``pixels`` is float32, shape (rows, cols), scaled to [0, 1] with bones bright and lungs
    dark (MONOCHROME1 already inverted, rescale/VOI applied).
    """

    pixels: np.ndarray
    source_format: Literal["dicom", "png", "jpeg"]
    sha256: str
    bit_depth: int
    photometric: str = "MONOCHROME2"
    view: str | None = None
    modality: str | None = None
    patient_id: str | None = None
    patient_name: str | None = None
    patient_sex: str | None = None
    patient_birth_date: str | None = None
    study_uid: str | None = None
    acquired: str | None = None  # ISO date (YYYY-MM-DD) when known
    warnings: tuple[str, ...] = ()

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the original image."""
        h, w = self.pixels.shape[:2]
        return int(h), int(w)


@dataclass(frozen=True)
class Box:
    """A labelled rectangle in original-image pixels."""

    label: str
    x: float
    y: float
    w: float
    h: float
    score: float | None = None
    source: BoxSource = "ai"
    status: BoxStatus = "proposed"

    def as_dict(self) -> dict:
        return {"label": self.label, "x": self.x, "y": self.y, "w": self.w, "h": self.h,
                "score": self.score, "source": self.source, "status": self.status}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Box":
        return cls(label=str(d["label"]), x=float(d["x"]), y=float(d["y"]), w=float(d["w"]),
                   h=float(d["h"]), score=None if d.get("score") is None else float(d["score"]),
                   source=d.get("source", "human"), status=d.get("status", "edited"))


@dataclass(frozen=True)
class LabelResult:
    """One finding. ``probability is None`` means *not assessed* (the model was not trained on it)."""

    label: str
    probability: float | None
    threshold: float | None = None

    @property
    def assessed(self) -> bool:
        return self.probability is not None

    @property
    def positive(self) -> bool | None:
        if self.probability is None or self.threshold is None:
            return None
        return self.probability >= self.threshold


@dataclass
class Findings:
    """What the model says about one radiograph. Decision support only: a clinician confirms."""

    results: dict[str, LabelResult]
    #: label|"abnormal" -> map in [0,1] covering the whole image, at most 512 px a side (same aspect as
    #: the image, see ``model.localize.map_shape``); drawn stretched over it, never image-sized in memory.
    heatmaps: dict[str, np.ndarray] = field(default_factory=dict)
    boxes: list[Box] = field(default_factory=list)
    model_version: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    warnings: list[str] = field(default_factory=list)
    #: True when the film differs from the films the model learned from (its findings may be
    #: unreliable: the dashboard says so and triage does not escalate on them alone).
    out_of_distribution: bool = False
    #: How unlike the training films it is (higher = more unlike; the checkpoint's threshold decides).
    ood_score: float | None = None
    #: Lung fields found by the segmenter, (rows, cols) bool in original pixels; None when not segmented.
    lung_mask: np.ndarray | None = None
    #: (rows, cols) of the analysed image (boxes are in its pixels); None when unknown.
    image_size: tuple[int, int] | None = None

    def probabilities(self) -> dict[str, float | None]:
        """``{label: probability or None}`` (None = not assessed), in model label order."""
        return {k: r.probability for k, r in self.results.items()}

    def top(self) -> LabelResult | None:
        """Highest-probability assessed finding, or None."""
        assessed = [r for r in self.results.values() if r.assessed]
        return max(assessed, key=lambda r: r.probability) if assessed else None  # type: ignore[arg-type,return-value]


@dataclass(frozen=True)
class Triage:
    """A triage level and the words that justify it."""

    level: TriageLevel
    reasons: tuple[str, ...] = ()

    @property
    def explanation(self) -> str:
        """E.g. ``"urgent: Pneumonia 0.81 ≥ 0.55; age 78; COPD"``."""
        return f"{self.level}: " + "; ".join(self.reasons) if self.reasons else self.level

    @property
    def rank(self) -> int:
        """0 for emergent … 2 for routine, for sorting worklists."""
        return TRIAGE_ORDER.index(self.level)
