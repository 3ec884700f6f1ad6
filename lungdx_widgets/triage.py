"""Findings + patient record → a triage level (emergent / urgent / routine) and its reasons.

Every rule lives in :data:`RULES`, one row each, with the clinical reason for it, so a reviewer
reads the policy in one place and a test pins each row. Decision support only: the level orders
the worklist; a clinician confirms or overrides it (``Store.override_triage``, audited).

Reasons are the clinical why, in words ("likely pneumonia in a 79-year-old with COPD — start
antibiotics within hours" — "likely" as the findings panel says for a probability at or above the
label's operating point); risk factors are named as such ("raised from routine: COPD, age 75").
They are stored in English, made from :func:`~lungdx_widgets.i18n.T_` templates, and shown in the
reader's language by ``i18n.translate``. Risk factors match SNOMED CT codes from
:mod:`lungdx_widgets.vocabulary`, so "심부전" and "heart failure" are the same factor.

When the film differs from the films the model learned from (``Findings.out_of_distribution``),
AI findings are not used: the level stays routine unless a rule that needs no AI raises it.

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

from . import vocabulary as v
from .i18n import T_
from .labels import NORMAL_LABELS
from .terms import finding_term
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

    @property
    def term(self) -> str:
        """The finding in plain words ("pleural effusion" for the label "Effusion")."""
        return finding_term(self.label)


@dataclass(frozen=True)
class Problem:
    """An active problem-list entry as triage reads it: the text shown and the concepts it stands for."""

    name: str
    codes: frozenset[str]


@dataclass(frozen=True)
class PatientFacts:
    """What the risk rules read from a record (``None`` fields are unknown)."""

    age: int | None
    problems: tuple[Problem, ...] = ()


# Reason templates (English is stored; i18n.translate shows them in the reader's language).
POSITIVE = T_("likely {finding} in {who} — {action}")
POSITIVE_LARGE = T_("likely large {finding} (covers {extent} of the image) in {who} — {action}")
POSITIVE_UNMEASURED = T_("likely {finding} of unmeasured size in {who} — {action}")
NO_RULE = T_("likely {finding} — not urgent on its own: read in the usual order")
NOTHING = T_("no finding at or above its threshold")
WHO_AGE_PROBLEMS = T_("a {age}-year-old with {problems}")
WHO_AGE = T_("a {age}-year-old")
WHO_PROBLEMS = T_("a patient with {problems}")
WHO_UNKNOWN = T_("this patient")
AGE = T_("age {age}")
RAISED = T_("raised from {from_level}: {factors}")
RISK_FACTORS = T_("risk factors: {factors}")
NOT_ASSESSED = T_("not assessed: {labels}")
NO_RECORD = T_("no patient record: risk factors not checked")
AGE_UNKNOWN = T_("age unknown")
OUT_OF_DISTRIBUTION = T_("AI findings not used for triage: this film differs from the films the model "
                         "learned from — read it in the usual order")


@dataclass(frozen=True)
class FindingRule:
    """A positive finding sets at least ``level``. ``size`` narrows it by the boxes' extent."""

    label: str
    level: TriageLevel
    why: str
    action: str  # what to do, said to the clinician after the finding ("start antibiotics within hours")
    size: Size = "any"

    def match(self, ev: Evidence, who: str) -> str | None:
        if ev.label != self.label or not ev.positive:
            return None
        words = {"finding": ev.term, "who": who, "action": self.action}
        if self.size == "large":
            if ev.extent is None or ev.extent < LARGE_EXTENT:
                return None
            return POSITIVE_LARGE.format(extent=f"{ev.extent:.0%}", **words)
        if self.size == "unmeasured":
            return None if ev.extent is not None else POSITIVE_UNMEASURED.format(**words)
        return POSITIVE.format(**words)


@dataclass(frozen=True)
class RiskFactorRule:
    """A patient risk factor: an age limit or active problems coded as one of ``codes`` (SNOMED CT)."""

    name: str
    why: str
    min_age: int | None = None
    codes: frozenset[str] = frozenset()

    def match(self, facts: PatientFacts) -> list[str]:
        """The problems (as written) or the age that make this factor present."""
        if self.min_age is not None:
            return [AGE.format(age=facts.age)] if facts.age is not None and facts.age >= self.min_age else []
        return [p.name for p in facts.problems if p.codes & self.codes]


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
                "air in the pleural space can collapse the lung (tension) within minutes to hours",
                T_("look now: a tension pneumothorax can collapse the lung within minutes")),
    FindingRule("Effusion", "emergent",
                "a large effusion compresses the lung and may need drainage today",
                T_("look now: it compresses the lung and may need drainage today"), size="large"),
    FindingRule("Effusion", "urgent",
                "an effusion whose size the model did not measure may be large: look today",
                T_("look today: it may be large"), size="unmeasured"),
    FindingRule("Pneumonia", "urgent", "treatable infection: antibiotics should start within hours",
                T_("start antibiotics within hours")),
    FindingRule("Consolidation", "urgent", "airspace consolidation is pneumonia until proven otherwise",
                T_("treat as pneumonia until proven otherwise")),
    FindingRule("Lung Opacity", "urgent", "an airspace opacity may be infection, haemorrhage or oedema",
                T_("look today: infection, haemorrhage or oedema")),
    FindingRule("Tuberculosis", "urgent", "infectious: isolation and sputum testing before other patients are exposed",
                T_("isolate and test sputum before other patients are exposed")),
    FindingRule("Edema", "urgent", "pulmonary oedema suggests acute heart failure",
                T_("look today for acute heart failure")),
    RiskFactorRule("age ≥ 65", "older patients decompensate faster (CURB-65 uses age ≥ 65)", min_age=65),
    RiskFactorRule("chronic lung disease", "less respiratory reserve",
                   codes=frozenset({v.COPD, v.ASTHMA, v.EMPHYSEMA, v.BRONCHIECTASIS, v.INTERSTITIAL_LUNG_DISEASE,
                                    v.PULMONARY_FIBROSIS, v.CYSTIC_FIBROSIS, v.CHRONIC_BRONCHITIS})),
    RiskFactorRule("chronic heart disease", "less cardiac reserve; effusion/oedema more likely decompensation",
                   codes=frozenset({v.HEART_FAILURE, v.CONGESTIVE_HEART_FAILURE, v.CARDIOMYOPATHY,
                                    v.CORONARY_DISEASE, v.ISCHAEMIC_HEART_DISEASE, v.HEART_VALVE_DISORDER,
                                    v.ATRIAL_FIBRILLATION})),
    RiskFactorRule("immunosuppression", "infections progress faster and atypically",
                   codes=frozenset({v.IMMUNOSUPPRESSION, v.IMMUNODEFICIENCY, v.HIV, v.KIDNEY_TRANSPLANT,
                                    v.CHEMOTHERAPY, v.NEUTROPENIA, v.LEUKAEMIA, v.LYMPHOMA})),
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
    """(rows, cols) of the original image: given, or as the findings recorded it (heatmaps are
    bounded in size, so their shape is not the image's; the lung mask is image-sized)."""
    if image_size:
        return int(image_size[0]), int(image_size[1])
    if isinstance(findings, Findings) and findings.image_size:
        return int(findings.image_size[0]), int(findings.image_size[1])
    if isinstance(findings, Findings) and findings.lung_mask is not None:
        rows, cols = findings.lung_mask.shape[:2]
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
    """Age and active problems from a store ``PatientRecord`` (None stays None: "no record").

    A coded problem counts as its code; free text as every concept it mentions, so an uncoded
    "Immunosuppression (kidney transplant)" is still a risk factor (erring towards caution).
    """
    if record is None:
        return None
    problems = tuple(Problem(_sentence_term(c.code, c.name), frozenset({c.code})) if c.code else
                     Problem(c.name, frozenset(k.code for k in v.concepts_named(c.name, "condition")))
                     for c in record.conditions if c.status == "active")
    return PatientFacts(record.patient.age(today or date.today()), problems)


def _sentence_term(code: str, text: str) -> str:
    found = v.concept(code)
    return found.in_sentence if found else text


def _who(age: int | None, risk_problems: list[str]) -> str:
    """The patient in a few words: age and the problems that are risk factors."""
    problems = ", ".join(risk_problems)
    if age is not None and problems:
        return WHO_AGE_PROBLEMS.format(age=age, problems=problems)
    if age is not None:
        return WHO_AGE.format(age=age)
    return WHO_PROBLEMS.format(problems=problems) if problems else WHO_UNKNOWN


def _rules(kind: type) -> list:
    return [r for r in RULES if isinstance(r, kind)]


def assess(findings: Findings | Mapping[str, float | None], record: PatientRecord | None,
           thresholds: Mapping[str, float | None] | None = None, today: date | None = None,
           image_size: tuple[int, int] | None = None) -> Triage:
    """Apply :data:`RULES`; the reasons name every trigger, risk factor and gap in the data."""
    facts = patient_facts(record, today)
    matched = {rule: rule.match(facts) if facts else [] for rule in _rules(RiskFactorRule)}
    problems = list(dict.fromkeys(t for rule, texts in matched.items() if rule.min_age is None for t in texts))
    factors = problems + [t for rule, texts in matched.items() if rule.min_age is not None for t in texts]
    who = _who(facts.age if facts else None, problems)

    ood = isinstance(findings, Findings) and findings.out_of_distribution
    evs = [] if ood else evidence(findings, thresholds, image_size)
    level: TriageLevel = "routine"
    triggers: list[tuple[int, str]] = []
    explained: set[str] = set()
    for ev in evs:
        for rule in _rules(FindingRule):
            text = rule.match(ev, who)
            if text:
                triggers.append((TRIAGE_ORDER.index(rule.level), text))
                explained.add(ev.label)
                level = min(level, rule.level, key=TRIAGE_ORDER.index)
                break
    other = [NO_RULE.format(finding=ev.term) for ev in evs
             if ev.positive and ev.label not in explained and ev.label not in NORMAL_LABELS]

    reasons = [OUT_OF_DISTRIBUTION] if ood else []
    reasons += [text for _, text in sorted(triggers, key=lambda t: t[0])] + other
    if not ood and not triggers and not other:
        reasons.append(NOTHING)
    raised = False
    if factors and (triggers or other):
        for rule in _rules(RaiseRule):
            if level == rule.from_level:
                level, raised = rule.to_level, True
                reasons.append(RAISED.format(from_level=rule.from_level, factors=", ".join(factors)))
    if factors and not raised:
        reasons.append(RISK_FACTORS.format(factors=", ".join(factors)))
    reasons += _gaps(evs, facts, ood)
    return Triage(level, tuple(reasons))


def _gaps(evs: list[Evidence], facts: PatientFacts | None, ood: bool = False) -> list[str]:
    """Say what triage could not check: unassessed triage labels (unless AI was set aside), missing record or age."""
    seen = {ev.label: ev for ev in evs}
    watched = dict.fromkeys(r.label for r in _rules(FindingRule))
    missing = [] if ood else [label for label in watched if label not in seen or seen[label].probability is None]
    gaps = [NOT_ASSESSED.format(labels=", ".join(finding_term(m) for m in missing))] if missing else []
    if facts is None:
        gaps.append(NO_RECORD)
    elif facts.age is None:
        gaps.append(AGE_UNKNOWN)
    return gaps
