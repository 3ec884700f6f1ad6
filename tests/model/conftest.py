"""Fixtures for the model area: a tiny checkpoint trained here on real images (seconds, not minutes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lungdx_widgets.config import get_settings
from lungdx_widgets.model.train import TrainConfig, train_model

#: Small enough for CI on 2 shared cores; big enough to contain every source and a boxed image.
TINY = dict(arch="compact", input_size=64, batch_size=8, limit=48, n_folds=4, threads=1)


def tiny_config(shared_data: Path, out: Path, **overrides) -> TrainConfig:
    settings = dict(TINY, images_dir=shared_data / "images", labels_csv=shared_data / "labels.csv",
                    boxes_csv=shared_data / "boxes.csv", out=out, max_steps=2)
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread(_isolated_settings):
    """CI shares 2 cores: two torch threads spin on barriers there (measured ~35x slower forward)."""
    os.environ["LUNGDX_TORCH_THREADS"] = "1"
    get_settings.cache_clear()
    yield
    os.environ.pop("LUNGDX_TORCH_THREADS", None)
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def tiny_checkpoint(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pneumonia-only checkpoint (so every other label must come out "not assessed")."""
    out = tmp_path_factory.mktemp("weights") / "tiny.pt"
    train_model(tiny_config(shared_data, out, labels=("Pneumonia",)))
    return out
