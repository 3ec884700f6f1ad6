"""Findings + patient record → a triage level (emergent / urgent / routine) and its reasons.

Every rule lives in :data:`RULES`, one row each, with the clinical reason for it, so a reviewer
reads the policy in one place and a test pins each row. Decision support only: the level orders
the worklist; a clinician confirms or overrides it (``Store.override_triage``, audited).

Missing data is never silently read as normal: a label the model did not assess (probability
``None`` or absent) triggers nothing and is named in the reasons; a missing record or birth date
is said too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

import numpy as np

from .types import TRIAGE_ORDER, Box, Findings, LabelResult, Triage, TriageLevel

if TYPE_CHECKING:  # the store imports triage's types, not the other way round at runtime
    from .store.records import PatientRecord

#: Operating threshold used only when neither the caller nor the model gives one for a label.
DEFAULT_THRESHOLD = 0.5
#: Share of the image covered by a label's boxes above which an effusion counts as "large".
#: A hemithorax is roughly a quarter of a frontal film; half of it opacified ≈ 12 % of the image.
LARGE_EXTENT = 0.12
#: Boxes covering more than this share are a diffuse attention map, not a measurement: even
#: bilateral massive effusions fill about half of a frontal film. Such extents count as unmeasured.
MAX_PLAUSIBLE_EXTENT = 0.5
#: Extent is measured on a grid of at most this many cells per side (boxes' union, not their sum).
_EXTENT_GRID = 256
#: Labels that mean "normal" and never count as an abnormal finding.
NORMAL_LABELS = frozenset({"No Finding", "Normal"})

Size = Literal["any", "large", "unmeasured"]


@dataclass(frozen=True)
class Evidence:
    """One label's numbers as triage sees them (threshold already resolved)."""

    label: str
    probability: float | None
    threshold: float
    extent: float | None  # share of the image covered by this label's boxes; None = not measured

    @property
    def positive(self) -> bool:
        return self.probability is not None and self.probability >= self.threshold

    def describe(self) -> str:
        return f"{self.label} {self.probability:.2f} ≥ {self.threshold:.2f}"


@dataclass(frozen=True)
class PatientFacts:
    """What the risk rules read from a record (``None`` fields are unknown)."""

    age: int | None
    conditions: tuple[str, ...]


@dataclass(frozen=True)
class FindingRule:
    """A positive finding sets at least ``level``. ``size`` narrows it by the boxes' extent."""

    label: str
    level: TriageLevel
    why: str
    size: Size = "any"

    def match(self, ev: Evidence) -> str | None:
        if ev.label != self.label or not ev.positive:
            return None
        if self.size == "large":
            if ev.extent is None or ev.extent < LARGE_EXTENT:
                return None
            return f"large {ev.describe()} (covers {ev.extent:.0%} of the image)"
        if self.size == "unmeasured":
            return None if ev.extent is not None else f"{ev.describe()} (size not measured)"
        return ev.describe()


@dataclass(frozen=True)
class RiskFactorRule:
    """A patient risk factor: an age limit or active problem-list terms (case-insensitive substrings)."""

    name: str
    why: str
    min_age: int | None = None
    terms: tuple[str, ...] = ()

    def match(self, facts: PatientFacts) -> list[str]:
        if self.min_age is not None:
            return [f"age {facts.age}"] if facts.age is not None and facts.age >= self.min_age else []
        return [c for c in facts.conditions if any(t in c.lower() for t in self.terms)]


@dataclass(frozen=True)
class RaiseRule:
    """Raise ``from_level`` to ``to_level`` when a positive finding meets a risk factor."""

    from_level: TriageLevel
    to_level: TriageLevel
    why: str


Rule = FindingRule | RiskFactorRule | RaiseRule

#: The whole policy. Finding rows are checked for every label; the most urgent match wins.
RULES: tuple[Rule, ...] = (
    FindingRule("Pneumothorax", "emergent",
                "air in the pleural space can collapse the lung (tension) within minutes to hours"),
    FindingRule("Effusion", "emergent",
                "a large effusion compresses the lung and may need drainage today", size="large"),
    FindingRule("Effusion", "urgent",
                "an effusion whose size the model did not measure may be large: look today", size="unmeasured"),
    FindingRule("Pneumonia", "urgent", "treatable infection: antibiotics should start within hours"),
    FindingRule("Consolidation", "urgent", "airspace consolidation is pneumonia until proven otherwise"),
    FindingRule("Lung Opacity", "urgent", "an airspace opacity may be infection, haemorrhage or oedema"),
    FindingRule("Tuberculosis", "urgent", "infectious: isolation and sputum testing before other patients are exposed"),
    FindingRule("Edema", "urgent", "pulmonary oedema suggests acute heart failure"),
    RiskFactorRule("age ≥ 65", "older patients decompensate faster (CURB-65 uses age ≥ 65)", min_age=65),
    RiskFactorRule("chronic lung disease", "less respiratory reserve",
                   terms=("copd", "chronic obstructive", "emphysema", "asthma", "bronchiectasis",
                          "interstitial lung", "pulmonary fibrosis", "cystic fibrosis", "chronic bronchitis")),
    RiskFactorRule("chronic heart disease", "less cardiac reserve; effusion/oedema more likely decompensation",
                   terms=("heart failure", "chf", "cardiomyopathy", "coronary", "ischemic heart",
                          "ischaemic heart", "valvular", "atrial fibrillation")),
    RiskFactorRule("immunosuppression", "infections progress faster and atypically",
                   terms=("immunosuppress", "immunocompromis", "hiv", "transplant", "chemotherapy",
                          "neutropenia", "leukemia", "leukaemia", "lymphoma", "long-term steroid")),
    RaiseRule("routine", "urgent",
              "any abnormal film in a patient with a risk factor is looked at today; risk factors never "
              "make a film emergent, which is reserved for findings that threaten life within hours"),
)


def _finite(p: float | None) -> float | None:
    return None if p is None or (isinstance(p, float) and math.isnan(p)) else float(p)


def _results(findings: Findings | Mapping[str, float | None]) -> list[LabelResult]:
    if isinstance(findings, Findings):
        return list(findings.results.values())
    return [LabelResult(label, p) for label, p in findings.items()]


def _image_shape(findings: Findings | Mapping[str, float | None],
                 image_size: tuple[int, int] | None) -> tuple[int, int] | None:
    """(rows, cols) of the original image: given, or read from any heatmap (they are image-sized)."""
    if image_size:
        return int(image_size[0]), int(image_size[1])
    if isinstance(findings, Findings) and findings.heatmaps:
        rows, cols = next(iter(findings.heatmaps.values())).shape[:2]
        return int(rows), int(cols)
    return None


def _extent(label: str, boxes: Iterable[Box], shape: tuple[int, int] | None) -> float | None:
    """Share of the image covered by the union of this label's non-rejected boxes.

    None when there is nothing to measure or the boxes cover an implausible share (> MAX_PLAUSIBLE_EXTENT).
    """
    own = [b for b in boxes if b.label == label and b.status != "rejected"]
    if not own or not shape:
        return None
    rows, cols = shape
    scale = min(1.0, _EXTENT_GRID / max(rows, cols))
    grid = np.zeros((max(1, round(rows * scale)), max(1, round(cols * scale))), dtype=bool)
    for b in own:
        grid[max(0, round(b.y * scale)):round((b.y + b.h) * scale), max(0, round(b.x * scale)):round((b.x + b.w) * scale)] = True
    extent = float(grid.mean())
    return None if extent > MAX_PLAUSIBLE_EXTENT else extent


def evidence(findings: Findings | Mapping[str, float | None], thresholds: Mapping[str, float | None] | None = None,
             image_size: tuple[int, int] | None = None) -> list[Evidence]:
    """Resolve each label's threshold: the caller's ``thresholds`` > the model's > :data:`DEFAULT_THRESHOLD`."""
    thresholds = thresholds or {}
    boxes = findings.boxes if isinstance(findings, Findings) else []
    shape = _image_shape(findings, image_size)
    out = []
    for r in _results(findings):
        threshold = next((t for t in (thresholds.get(r.label), r.threshold) if t is not None), DEFAULT_THRESHOLD)
        out.append(Evidence(r.label, _finite(r.probability), float(threshold), _extent(r.label, boxes, shape)))
    return out


def patient_facts(record: PatientRecord | None, today: date | None = None) -> PatientFacts | None:
    """Age and active conditions from a store ``PatientRecord`` (None stays None: "no record")."""
    if record is None:
        return None
    return PatientFacts(record.patient.age(today or date.today()), record.active_conditions)


def _rules(kind: type) -> list:
    return [r for r in RULES if isinstance(r, kind)]


def assess(findings: Findings | Mapping[str, float | None], record: PatientRecord | None,
           thresholds: Mapping[str, float | None] | None = None, today: date | None = None,
           image_size: tuple[int, int] | None = None) -> Triage:
    """Apply :data:`RULES`; the reasons name every trigger, risk factor and gap in the data."""
    evs = evidence(findings, thresholds, image_size)
    level: TriageLevel = "routine"
    triggers: list[tuple[int, str]] = []
    explained: set[str] = set()
    for ev in evs:
        for rule in _rules(FindingRule):
            text = rule.match(ev)
            if text:
                triggers.append((TRIAGE_ORDER.index(rule.level), text))
                explained.add(ev.label)
                level = min(level, rule.level, key=TRIAGE_ORDER.index)
                break
    other = [ev.describe() for ev in evs
             if ev.positive and ev.label not in explained and ev.label not in NORMAL_LABELS]

    facts = patient_facts(record, today)
    risks = [text for rule in _rules(RiskFactorRule) for text in (rule.match(facts) if facts else [])]

    reasons = [text for _, text in sorted(triggers, key=lambda t: t[0])] + other
    if not reasons:
        reasons.append("no finding at or above its threshold")
    reasons += risks
    if risks and (triggers or other):
        for rule in _rules(RaiseRule):
            if level == rule.from_level:
                level = rule.to_level
                reasons.append(f"raised from {rule.from_level}: abnormal finding with a risk factor")
    reasons += _gaps(evs, facts)
    return Triage(level, tuple(reasons))


def _gaps(evs: list[Evidence], facts: PatientFacts | None) -> list[str]:
    """Say what triage could not check: unassessed triage labels, missing record or age."""
    seen = {ev.label: ev for ev in evs}
    watched = dict.fromkeys(r.label for r in _rules(FindingRule))
    missing = [label for label in watched if label not in seen or seen[label].probability is None]
    gaps = [f"not assessed: {', '.join(missing)}"] if missing else []
    if facts is None:
        gaps.append("no patient record: risk factors not checked")
    elif facts.age is None:
        gaps.append("age unknown")
    return gaps
