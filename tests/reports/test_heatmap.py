"""Report heatmaps come from the model that produced the stored result, or are left out with the reason."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lungdx_widgets.model import Analyzer
from lungdx_widgets.model.network import HamNet, NetConfig
from lungdx_widgets.model.weights import save_checkpoint
from lungdx_widgets.reports.heatmap import recompute_heatmap


@pytest.fixture(scope="module")
def tiny_analyzer(tmp_path_factory) -> Analyzer:
    """A real (untrained, compact) checkpoint: the heatmap path needs a model, not a good one."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    config = NetConfig(labels=("Pneumonia", "Effusion"), input_size=64, growth_rate=8, block_config=(2, 2, 2, 2),
                       num_init_features=16, stride16=True)
    path = tmp_path_factory.mktemp("weights") / "tiny.pt"
    save_checkpoint(path, config.as_dict(), HamNet(config).state_dict(), {"Pneumonia": 0.0, "Effusion": 1.0})
    return Analyzer.load(path)


def test_heatmap_of_the_matching_model_is_image_sized(scenario, tiny_analyzer):
    ctx = scenario.context(scenario.reviewed[0])
    ctx = replace(ctx, prediction=replace(ctx.prediction, model_version=tiny_analyzer.version))
    heat, note = recompute_heatmap(ctx, tiny_analyzer)
    assert heat is not None and heat.shape == ctx.pixels.shape
    assert note.startswith("AI heatmap for Pneumonia"), "threshold 0 makes Pneumonia the positive finding"


def test_another_models_heatmap_is_not_drawn(scenario, tiny_analyzer):
    heat, note = recompute_heatmap(scenario.context(scenario.reviewed[0]), tiny_analyzer)
    assert heat is None
    assert note == (f"no heatmap: the result came from model test-model-1, but model {tiny_analyzer.version} "
                    "is installed")


def test_unanalysed_study_has_no_heatmap(scenario, tiny_analyzer):
    assert recompute_heatmap(scenario.context(scenario.unanalysed[0]), tiny_analyzer) == (
        None, "no heatmap: the study has not been analysed")
