"""How each finding changed between two signed studies of one patient: new / improved / unchanged / worse.

Why here (the core) and from *signed* findings only: a progression statement is a clinical claim that
may be read into a report; it must follow the same ground-truth rule as exports and training
(:mod:`lungdx_widgets.ground_truth`: the signer's verdict first, then kept boxes), never the AI's
unreviewed probabilities. The dashboard only shows what :func:`compare` returns, worded by
:func:`statement` in the reader's language.

The rule, per finding that either study calls present or uncertain:

1. The state ranks absent (or not reported) < uncertain < present.
2. Not present or uncertain before, present or uncertain now → **new**; a higher rank now → **worse**;
   a lower rank → **improved**.
3. Present in both, both with signed boxes: the boxes' share of the film decides — at least
   :data:`EXTENT_FACTOR` times larger → worse, that much smaller → improved, else **unchanged**
   (two readers box the same opacity differently by less than that). Without boxes on both: unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .ground_truth import ABSENT, PRESENT, UNCERTAIN, ground_truth, signoff_verdicts, truth_boxes
from .i18n import N_, T_, format_datetime, gettext
from .terms import finding_name
from .types import Box

NEW, WORSE, UNCHANGED, IMPROVED = "new", "worse", "unchanged", "improved"
#: Most urgent first: the order statements are listed in.
CHANGES: tuple[str, ...] = (NEW, WORSE, UNCHANGED, IMPROVED)
CHANGE_WORDS = {NEW: N_("new"), WORSE: N_("worse"), UNCHANGED: N_("unchanged"), IMPROVED: N_("improved")}
#: Box area ratio that counts as a change in size (see the module docstring, rule 3).
EXTENT_FACTOR = 1.5
_RANK = {ABSENT: 0, UNCERTAIN: 1, PRESENT: 2}


@dataclass(frozen=True)
class SignedFindings:
    """What one signed study says: a state per finding and the signed boxes (ground-truth rule)."""

    study_id: int
    day: str  # ISO date of the film
    signed_by: str
    states: dict[str, str]  # label → present / uncertain / absent
    boxes: tuple[Box, ...] = ()
    width: int = 0
    height: int = 0

    def extent(self, label: str) -> float:
        """Share of the film the signed boxes of ``label`` cover (summed, at most 1; 0 without boxes)."""
        area = float(self.width * self.height)
        if area <= 0:
            return 0.0
        return min(1.0, sum(b.w * b.h for b in self.boxes if b.label == label) / area)


@dataclass(frozen=True)
class Progression:
    """One finding's change from ``before`` (the prior study) to ``now`` (the current one)."""

    label: str
    change: str  # one of CHANGES
    before: str | None  # present / uncertain / absent, None when the prior did not report on it
    now: str | None
    extent_before: float = 0.0
    extent_now: float = 0.0
    prior_day: str = ""
    sized: bool = field(default=False)  # rule 3 decided (both present, both boxed)


def states_from_signoff(verdicts: Mapping[str, str], boxes: Iterable[Box]) -> dict[str, str]:
    """Each finding's state: the verdict when given, else what the ground-truth rule makes of the boxes."""
    boxes = list(boxes)
    states = {label: (PRESENT if value else ABSENT) for label, value in ground_truth({}, boxes).items()}
    states.update({label: v for label, v in verdicts.items() if v in _RANK})
    return states


def signed_findings(store, study_id: int) -> SignedFindings | None:
    """The newest signature's findings of a study (None when nobody signed it), read through the store."""
    signoffs = store.signoffs(study_id)
    if not signoffs:
        return None
    latest = signoffs[-1]
    study = store.get_study(study_id)
    signed_set = next((a for a in store.annotation_history(study_id) if a.version == latest.annotation_version), None)
    boxes = signed_set.boxes if signed_set is not None else ()
    verdicts = signoff_verdicts(latest, store.latest_prediction(study_id))
    return SignedFindings(study_id=study.id, day=str(study.acquired)[:10], signed_by=latest.signed_by,
                          states=states_from_signoff(verdicts, boxes), boxes=truth_boxes(verdicts, boxes),
                          width=study.width, height=study.height)


def _change(before: str | None, now: str | None, ext_before: float, ext_now: float) -> tuple[str, bool]:
    rb, rn = _RANK.get(before or ABSENT, 0), _RANK.get(now or ABSENT, 0)
    if rb == 0 and rn > 0:
        return NEW, False
    if rn != rb:
        return (WORSE if rn > rb else IMPROVED), False
    if now == PRESENT and ext_before > 0 and ext_now > 0:
        if ext_now >= ext_before * EXTENT_FACTOR:
            return WORSE, True
        if ext_now * EXTENT_FACTOR <= ext_before:
            return IMPROVED, True
        return UNCHANGED, True
    return UNCHANGED, False


def compare(prior: SignedFindings, current: SignedFindings) -> list[Progression]:
    """One :class:`Progression` per finding present or uncertain in either study, most urgent change first."""
    labels = {lb for s in (prior, current) for lb, state in s.states.items() if state in (PRESENT, UNCERTAIN)}
    out = []
    for label in labels:
        before, now = prior.states.get(label), current.states.get(label)
        eb, en = prior.extent(label), current.extent(label)
        change, sized = _change(before, now, eb, en)
        out.append(Progression(label, change, before, now, eb, en, prior.day, sized))
    return sorted(out, key=lambda p: (CHANGES.index(p.change), p.label))


_NOW = {PRESENT: N_("present now"), UNCERTAIN: N_("uncertain now"), ABSENT: N_("not seen now"),
        None: N_("not reported now")}
_THEN = {PRESENT: T_("present on {date}"), UNCERTAIN: T_("uncertain on {date}"), ABSENT: T_("not seen on {date}"),
         None: T_("not reported on {date}")}
_SIZE = {WORSE: T_("larger: boxes cover {now} of the film, {then} on {date}"),
         IMPROVED: T_("smaller: boxes cover {now} of the film, {then} on {date}"),
         UNCHANGED: T_("about the same size: boxes cover {now} of the film, {then} on {date}")}
SENTENCE = T_("{finding}: {change} — {details}.")


def _percent(share: float) -> str:
    """A share of the film as "9%"; the sign is part of the value so catalogues hold no bare '%' (gettext reads '% o' as a format)."""
    return f"{share * 100:.0f}%" if share >= 0.01 else f"{share * 100:.1f}%"


def statement(p: Progression, lang: str | None = None) -> str:
    """One plain sentence, e.g. "Pneumonia: worse — present now, uncertain on Jan 3, 2026."."""
    date = format_datetime(p.prior_day, lang) if p.prior_day else "?"
    if p.sized:
        details = gettext(_SIZE[p.change], lang).format(now=_percent(p.extent_now), then=_percent(p.extent_before),
                                                         date=date)
    else:
        details = gettext(_NOW[p.now], lang) + "; " + gettext(_THEN[p.before], lang).format(date=date)
    return gettext(SENTENCE, lang).format(finding=finding_name(p.label, lang), change=gettext(CHANGE_WORDS[p.change], lang),
                                          details=details)


def statements(progressions: Sequence[Progression], lang: str | None = None) -> list[str]:
    """Every statement in the reader's language (for a panel or a report)."""
    return [statement(p, lang) for p in progressions]
