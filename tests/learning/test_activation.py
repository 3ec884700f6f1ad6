"""Registry rules on a real store with real checkpoint files: roles, evaluation, checksums, rollback."""

from __future__ import annotations

import pytest

from lungdx_widgets.learning.activation import (
    ChecksumMismatch, NotEvaluated, NothingToRollBack, activate, active_model_path, metric_regressions,
    register_candidate, rollback,
)
from lungdx_widgets.model.weights import load_checkpoint
from lungdx_widgets.store import PermissionDenied

from .conftest import tiny_checkpoint


def _metrics(auroc: float, ci: tuple[float, float], fingerprint: str = "evalset-1") -> dict:
    return {"labels": {"Pneumonia": {"auroc": auroc, "ci95": list(ci), "n_pos": 30, "n_neg": 30}},
            "eval_set": {"fingerprint": fingerprint}}


@pytest.fixture
def two_versions(store, tmp_path):
    a = register_candidate(store, tiny_checkpoint(tmp_path / "a.pt", seed=1), "ana", metrics=_metrics(0.85, (0.80, 0.90)))
    b = register_candidate(store, tiny_checkpoint(tmp_path / "b.pt", seed=2), "ana", metrics=_metrics(0.70, (0.62, 0.78)))
    return a, b


def test_candidate_is_named_like_the_model_reports_itself(store, tmp_path):
    path = tiny_checkpoint(tmp_path / "cand.pt")
    model = register_candidate(store, path, "ana")
    loaded = load_checkpoint(path)
    assert (model.version, model.sha256, model.status) == (loaded.version, loaded.sha256, "candidate")
    assert active_model_path(store) is None


def test_only_analysts_and_admins_activate_and_refusals_are_audited(store, two_versions):
    a, _ = two_versions
    with pytest.raises(PermissionDenied):
        activate(store, a.version, "cli")
    denied = store.audit_events(action="activate_model")[0]
    assert (denied.actor, denied.outcome) == ("cli", "denied")
    assert store.active_model() is None
    assert activate(store, a.version, "adm").model.status == "active"


def test_unevaluated_candidate_cannot_be_activated(store, tmp_path):
    model = register_candidate(store, tiny_checkpoint(tmp_path / "x.pt"), "ana")
    with pytest.raises(NotEvaluated):
        activate(store, model.version, "ana")


def test_worse_candidate_warns_and_rollback_restores_the_previous_version(store, two_versions, tmp_path):
    a, b = two_versions
    first = activate(store, a.version, "ana")
    assert first.previous is None and first.warnings == ()
    assert active_model_path(store) == tmp_path / "a.pt"
    second = activate(store, b.version, "ana")
    assert second.previous.version == a.version
    assert len(second.warnings) == 1 and second.warnings[0].startswith("Pneumonia: AUROC 0.700")
    assert store.audit_events(action="activation_warning")[0].obj == f"model:{b.version}"
    assert store.get_model(a.version).status == "retired"
    back = rollback(store, "ana")
    assert (back.model.version, back.previous.version) == (a.version, b.version)
    assert store.active_model().version == a.version and store.get_model(b.version).status == "retired"
    assert active_model_path(store) == tmp_path / "a.pt"
    assert store.audit_events(action="rollback_model")[0].detail == f"rolled back from {b.version}"


def test_changed_checkpoint_file_is_not_activated(store, two_versions, tmp_path):
    a, _ = two_versions
    with open(tmp_path / "a.pt", "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ChecksumMismatch, match="changed since registration"):
        activate(store, a.version, "ana")
    assert store.active_model() is None


def test_rollback_needs_an_earlier_version(store, two_versions):
    with pytest.raises(NothingToRollBack):
        rollback(store, "ana")
    activate(store, two_versions[0].version, "ana")
    with pytest.raises(NothingToRollBack):
        rollback(store, "ana")


def test_regressions_only_compare_like_with_like():
    better, worse = _metrics(0.85, (0.80, 0.90)), _metrics(0.70, (0.62, 0.78))
    assert metric_regressions(better, worse) == []
    assert metric_regressions(worse, better) != []
    assert "different set" in metric_regressions(_metrics(0.7, (0.6, 0.8), "other"), better)[0]


def test_open_dashboard_analyzer_follows_activation_and_rollback(store, two_versions, tmp_path, monkeypatch):
    """An activation reaches clinicians' already-open dashboards on their next analysis (no restart)."""
    from lungdx_widgets.config import get_settings
    from lungdx_widgets.widgets.upload import SharedAnalyzer

    monkeypatch.setenv("LUNGDX_DB", str(tmp_path / "lungdx.db"))  # the store fixture's file
    get_settings.cache_clear()
    a, b = two_versions
    shared = SharedAnalyzer()  # no fixed path: follows the registry
    shipped = shared.get()
    assert shipped.checkpoint.path == get_settings().weights / get_settings().default_model
    activate(store, a.version, "ana")
    assert shared.get().version == a.version
    activate(store, b.version, "ana")
    assert shared.get().version == b.version
    rollback(store, "ana")
    assert shared.get().version == a.version
    pinned = SharedAnalyzer(tmp_path / "b.pt")  # a fixed path is never overridden by the registry
    assert pinned.get().version == b.version
