"""Settings are read at the edges (CLI, dashboard, server) and passed down: a ratchet on get_settings() callers.

The core modules that still read the global settings themselves are listed; the list may only shrink.
A new core module calling ``get_settings()`` fails here: take the value as a parameter instead, and let
the edge that constructs it read the settings once.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lungdx_widgets

PACKAGE = Path(lungdx_widgets.__file__).parent
#: The edges: they read the configuration for everything they construct.
EDGES = ("cli/", "server/", "app.py", "config.py")
#: Core modules that still read settings themselves (issue 18's baseline, 2026-12-02). Remove entries, never add.
NOT_YET_PASSED_DOWN = {
    "imaging/deid.py", "imaging/dicom.py", "imaging/load.py", "imaging/raster.py",
    "inference/client.py", "inference/process.py",
    "learning/evalsets.py", "learning/jobs.py", "learning/activation.py", "learning/snapshots.py",
    "model/analyze.py", "model/weights.py", "model/segment.py", "model/train.py",
    "reports/context.py", "store/db.py", "store/demo.py", "store/studies.py", "widgets/upload.py",
}


def settings_readers() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "get_settings":
                found.add(rel)
    return found


def test_only_the_edges_and_the_shrinking_baseline_read_settings():
    readers = settings_readers()
    assert len(readers) > 5, "the scan sees the real tree"
    core = {r for r in readers if not r.startswith(EDGES)}
    assert core - NOT_YET_PASSED_DOWN == set(), "pass the value down from the edge instead of reading settings here"
    assert NOT_YET_PASSED_DOWN - core == set(), "this module no longer reads settings: remove it from the list"
