"""The one rule that turns a clinician's sign-off plus reviewed boxes into ground truth per label.

Why one function: research exports, training snapshots and the sign-off form must never disagree
about what a study "says". Before, an exported ``y_Infiltration = 1`` could come from an accepted
box on a study whose signer called Infiltration absent. The rule (also in ARCHITECTURE.md):

1. The signer's verdict decides: ``present`` → 1, ``absent`` → 0, ``uncertain`` → unknown.
2. A label without a verdict: a kept box (accepted, edited, or drawn by a person and not
   rejected) makes it 1; only rejected boxes make it 0; otherwise unknown.
3. A kept box whose label the signer called absent or uncertain is a *conflict*: the verdict
   wins and the box is not a ground-truth box. The sign-off form lists conflicts before signing.

Older sign-offs stored agree/disagree with the AI call; :func:`verdicts_from_agreement` turns
them into verdicts with the stored prediction (agree with a positive call → present, etc.).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .types import Box

PRESENT, ABSENT, UNCERTAIN = "present", "absent", "uncertain"
VERDICTS: tuple[str, ...] = (PRESENT, ABSENT, UNCERTAIN)
#: Box statuses a person confirmed.
KEPT_STATUSES = frozenset({"accepted", "edited"})


def is_kept(box: Box) -> bool:
    """A person accepted/edited the box or drew it (and did not reject it)."""
    return box.status in KEPT_STATUSES or (box.source == "human" and box.status != "rejected")


def ground_truth(verdicts: Mapping[str, str] | None, boxes: Iterable[Box]) -> dict[str, int]:
    """``{label: 0 | 1}`` for the labels the study says something about (unknown labels are absent)."""
    verdicts = dict(verdicts or {})
    boxes = list(boxes)
    out: dict[str, int] = {}
    for label in {b.label for b in boxes if b.status == "rejected"}:
        out[label] = 0
    for label in {b.label for b in boxes if is_kept(b)}:
        out[label] = 1
    for label, verdict in verdicts.items():
        if verdict == PRESENT:
            out[label] = 1
        elif verdict == ABSENT:
            out[label] = 0
        else:
            out.pop(label, None)
    return out


def truth_boxes(verdicts: Mapping[str, str] | None, boxes: Iterable[Box]) -> tuple[Box, ...]:
    """The kept boxes whose label the rule says is present (the box targets for training)."""
    truth = ground_truth(verdicts, boxes := list(boxes))
    return tuple(b for b in boxes if is_kept(b) and truth.get(b.label) == 1)


def conflicts(verdicts: Mapping[str, str] | None, boxes: Iterable[Box]) -> list[str]:
    """Labels with a kept box that the signer called absent or uncertain (the verdict wins)."""
    verdicts = dict(verdicts or {})
    return sorted({b.label for b in boxes if is_kept(b) and verdicts.get(b.label) in (ABSENT, UNCERTAIN)})


def verdicts_from_agreement(agreement: Mapping[str, bool], probabilities: Mapping[str, float | None],
                            thresholds: Mapping[str, float | None]) -> dict[str, str]:
    """Old agree/disagree answers as verdicts: agreeing with a positive AI call means present."""
    out: dict[str, str] = {}
    for label, agrees in agreement.items():
        p, t = probabilities.get(label), thresholds.get(label)
        if p is None or t is None:
            continue
        out[label] = PRESENT if (p >= t) == bool(agrees) else ABSENT
    return out


def signoff_verdicts(signoff, prediction) -> dict[str, str]:
    """A stored sign-off's verdicts; for sign-offs from before verdicts existed, derived from agree/disagree."""
    if signoff is None:
        return {}
    if signoff.verdicts:
        return dict(signoff.verdicts)
    if prediction is None:
        return {}
    return verdicts_from_agreement(signoff.agreement, prediction.probabilities, prediction.thresholds)
