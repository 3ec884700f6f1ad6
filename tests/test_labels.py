"""One definition per label concept: the universe, "No Finding", "abnormal" and the CSV columns live in labels.py."""

from __future__ import annotations

import ast
from pathlib import Path

import lungdx_widgets
from lungdx_widgets import labels
from lungdx_widgets.learning.labelsets import ReviewedImage, label_row
from lungdx_widgets.types import Box

PACKAGE = Path(lungdx_widgets.__file__).parent
#: Modules that may spell label names: the definitions, and the words shown for them (translations).
ALLOWED = {"labels.py", "terms.py"}


def _modules() -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 60, "the rule is checked on the real tree"
    return files


def test_label_lists_are_written_in_one_module():
    """Adding a finding label is one edit: no other module holds a literal list of several labels."""
    universe = set(labels.FINDING_LABELS) | {labels.NO_FINDING}
    offenders: dict[str, int] = {}
    for path in _modules():
        rel = str(path.relative_to(PACKAGE))
        if rel in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                named = {e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in universe}
                if len(named) >= 3:
                    offenders[rel] = node.lineno
    assert offenders == {}


def test_no_finding_and_abnormal_are_not_respelled():
    """"No Finding" and the "abnormal" key are assigned once (labels.py) and imported everywhere else."""
    offenders = []
    for path in _modules():
        rel = str(path.relative_to(PACKAGE))
        if rel in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if isinstance(node, ast.Constant) and node.value == labels.NO_FINDING:
                offenders.append(f"{rel}:{node.lineno}")
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value == labels.ABNORMAL:
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


def test_header_is_the_shared_data_header(shared_data):
    with open(shared_data / "labels.csv", newline="", encoding="utf-8-sig") as fh:
        assert fh.readline().rstrip("\r\n").split(",") == labels.labels_header()


def test_a_new_label_gets_a_column_after_the_known_ones():
    header = labels.labels_header({"Rib fracture", "Pneumonia", "Aortic ectasia"})
    assert header[: len(labels.labels_header())] == labels.labels_header()
    assert header[-2:] == ["y_Aortic ectasia", "y_Rib fracture"]
    assert all(labels.y_column(lab) in header for lab in labels.FINDING_LABELS), "every reportable label has a column"


def test_unknown_label_is_kept_in_a_training_snapshot_row():
    """The one decision for unknown labels: kept (snapshots used to drop them silently)."""
    image = ReviewedImage("a.png", "P1", "F", "PA", 100, 100, provenance="test", boxes=(
        Box("Rib fracture", 1, 1, 10, 10, source="human", status="accepted"),
        Box("Mass", 5, 5, 10, 10, score=0.2, source="ai", status="rejected"),
    ))
    row = label_row(image)
    assert (row["y_Rib fracture"], row["y_Mass"], row["y_No Finding"]) == ("1", "0", "0")
    assert row["findings"] == "Rib fracture"


def test_one_negative_does_not_make_a_film_normal():
    assert labels.y_values({"Mass": 0}) == {"y_Mass": "0"}
    assert labels.y_values({"Mass": 0, "Pneumonia": 1})["y_No Finding"] == "0"
    assert labels.y_values({labels.NO_FINDING: 1}) == {"y_No Finding": "1"}
