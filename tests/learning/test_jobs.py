"""Fine-tuning job refusals that happen before any training starts (no registry change, clear message)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lungdx_widgets.config import get_settings
from lungdx_widgets.learning.jobs import fine_tune
from lungdx_widgets.learning.snapshots import SnapshotDamaged, create_snapshot
from lungdx_widgets.model.weights import WeightsMissing
from lungdx_widgets.store import PermissionDenied

from .conftest import add_real_study, correct_studies


@pytest.fixture
def snapshot(store, shared_data, boxed_pneumonia):
    correct_studies(store, [add_real_study(store, shared_data, boxed_pneumonia[0], "JOB-1")])
    return create_snapshot(store, "ana")


def test_clinicians_cannot_start_training(store, snapshot):
    with pytest.raises(PermissionDenied):
        fine_tune(store, snapshot.id, "cli")


def test_missing_base_model_names_the_file_to_provide(store, snapshot, tmp_path, monkeypatch):
    monkeypatch.setenv("LUNGDX_WEIGHTS", str(tmp_path / "empty-weights"))
    get_settings.cache_clear()
    with pytest.raises(WeightsMissing, match="lungdx-demo.pt") as info:
        fine_tune(store, snapshot.id, "ana")
    assert str(tmp_path / "empty-weights") in str(info.value)
    assert store.list_models() == [] and not (tmp_path / "runs").exists()
    with pytest.raises(WeightsMissing, match="densenet121") as info:  # torchxrayvision start: named, never downloaded
        fine_tune(store, snapshot.id, "ana", xrv_init="densenet121-res224-all")
    assert str(tmp_path / "empty-weights" / "xrv") in str(info.value) and "lungdx-demo.pt" in str(info.value)


def test_a_modified_snapshot_is_not_trained_on(store, snapshot):
    boxes = Path(snapshot.path) / "boxes.csv"
    boxes.chmod(0o644)
    boxes.write_text(boxes.read_text() + "study-1.png,Mass,1,1,2,2,forged\n")
    with pytest.raises(SnapshotDamaged):
        fine_tune(store, snapshot.id, "ana")
