"""The progress bar and the registry panel, driven through their Python API (no browser needed)."""

from __future__ import annotations

import plotly.graph_objects as go

from lungdx_widgets.learning.jobs import evaluate_and_register
from lungdx_widgets.widgets.training import ModelRegistryPanel, TrainingProgress

from .conftest import tiny_checkpoint


def test_progress_bar_follows_trainer_events():
    bar = TrainingProgress()
    bar.update({"step": 1, "total_steps": 4, "loss": 0.6931})
    assert (bar.bar.value, bar.bar.max) == (1, 4) and "loss 0.693" in bar.status.value
    bar.update({"step": 4, "total_steps": 4, "epoch_end": True, "loss": {"total": 0.5}, "val_auroc": {"Pneumonia": 0.61}})
    assert bar.bar.bar_style == "success" and "validation AUROC Pneumonia 0.61" in bar.status.value


def test_registry_panel_compares_activates_refuses_and_rolls_back(store, eval_set, tmp_path):
    a = evaluate_and_register(store, tiny_checkpoint(tmp_path / "a.pt", seed=1, labels=("Pneumonia",)), eval_set, "ana")
    b = evaluate_and_register(store, tiny_checkpoint(tmp_path / "b.pt", seed=2, labels=("Pneumonia",)), eval_set, "ana")
    refused = ModelRegistryPanel(store, "cli", eval_set, n_boot=100)
    refused.candidate.value = a.version
    refused.activate_button.click()
    assert "may not do this" in refused.message.value and store.active_model() is None

    panel = ModelRegistryPanel(store, "ana", eval_set, n_boot=100)
    assert "not evaluated" not in panel.table.value and a.version in panel.table.value
    panel.candidate.value = a.version
    panel.activate_button.click()
    assert store.active_model().version == a.version and panel.reference.value == a.version
    panel.candidate.value = b.version
    panel.compare_button.click()
    assert isinstance(panel.figure.children[0], go.FigureWidget)
    assert panel.comparison.version_b == b.version and panel.comparison.n_images > 0
    panel.activate_button.click()
    assert store.active_model().version == b.version and f"Active: {b.version}" in panel.message.value
    panel.rollback_button.click()
    assert store.active_model().version == a.version and "Rolled back" in panel.message.value
