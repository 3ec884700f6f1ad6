"""Training on a tiny real subset: loss goes down, resume/fine-tune work, the split keeps patients whole."""

from __future__ import annotations

import pytest
import torch

from lungdx_widgets.model.analyze import Analyzer
from lungdx_widgets.model.data import prepare, read_records, split_records, to_network_units
from lungdx_widgets.model.losses import ham_loss
from lungdx_widgets.model.weights import read_sidecar, sha256_of
from lungdx_widgets.model.train import TrainConfig, train_model

from .conftest import tiny_config


def _training_loss(checkpoint, config: TrainConfig) -> float:
    """Loss of ``checkpoint`` on its own training images (batch statistics, no augmentation)."""
    analyzer = Analyzer.load(checkpoint)
    records = sorted(read_records(config.labels_csv, config.boxes_csv), key=lambda r: r.file)
    records = records[::max(1, len(records) // config.limit)][:config.limit]
    train, _ = split_records(records, config.fold, config.n_folds, config.seed)
    data = prepare(train, config.images_dir, analyzer.labels, analyzer.input_size)
    analyzer.model.train()
    with torch.no_grad():
        out = analyzer.model(to_network_units(data.images))
        loss, _ = ham_loss(out, data.targets, data.abnormal, data.box_masks.float(), data.has_box, config.loss)
    return float(loss)


def test_a_few_steps_reduce_the_loss(shared_data, tmp_path):
    start = tiny_config(shared_data, tmp_path / "start.pt", max_steps=1, lr=1e-6, augment=False, balanced=False)
    train_model(start)
    more = tiny_config(shared_data, tmp_path / "more.pt", max_steps=12, lr=3e-3, augment=False, balanced=False,
                       init_from=tmp_path / "start.pt")
    result = train_model(more)
    assert result.steps == 12
    assert _training_loss(tmp_path / "more.pt", more) < _training_loss(tmp_path / "start.pt", start)


def test_checkpoint_records_split_sha_and_thresholds(tiny_checkpoint):
    side = read_sidecar(tiny_checkpoint)
    assert side["sha256"] == sha256_of(tiny_checkpoint)
    assert set(side["thresholds"]) == set(side["labels"]) == {"Pneumonia"}
    train, val = set(side["split"]["train_patients"]), set(side["split"]["val_patients"])
    assert train and val and not train & val


def test_split_keeps_patients_whole_and_covers_views(shared_data):
    records = read_records(shared_data / "labels.csv")
    for fold in range(5):
        train, val = split_records(records, fold, 5, seed=0)
        assert not {r.patient_id for r in train} & {r.patient_id for r in val}
        assert {r.view for r in val} >= {"AP", "PA"}
        assert len({r.source for r in val}) >= 3


def test_interrupted_run_resumes_from_its_state(shared_data, tmp_path):
    config = tiny_config(shared_data, tmp_path / "r.pt", max_steps=6, batch_size=16)  # 3 steps per epoch

    def interrupt_after_first_epoch(event: dict) -> None:
        if event["step"] == 4 and not event.get("epoch_end"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(config, progress=interrupt_after_first_epoch)
    assert (tmp_path / "r.resume.pt").is_file() and not (tmp_path / "r.pt").exists()
    steps_seen: list[int] = []
    result = train_model(config, progress=lambda e: steps_seen.append(e["step"]))
    assert steps_seen[0] == 4  # continued after the saved epoch (step 3) instead of starting over
    assert result.steps == 6 and not (tmp_path / "r.resume.pt").exists()


def test_time_budget_ends_the_run_annealed(shared_data, tmp_path):
    result = train_model(tiny_config(shared_data, tmp_path / "t.pt", max_steps=50, time_budget_s=1e-6))
    assert result.stopped_early and result.steps < 50 and (tmp_path / "t.pt").is_file()


def test_pretrained_init_needs_its_file_and_layout(shared_data, tmp_path, monkeypatch):
    from lungdx_widgets.config import get_settings
    from lungdx_widgets.model import WeightsMissing
    from lungdx_widgets.model.train import TrainingError

    with pytest.raises(TrainingError, match="densenet121"):
        train_model(tiny_config(shared_data, tmp_path / "x.pt", init="densenet121-res224-all"))
    monkeypatch.setenv("LUNGDX_WEIGHTS", str(tmp_path))
    get_settings.cache_clear()
    try:  # offline and absent: the error names the file in weights/xrv, nothing is trained at random
        with pytest.raises(WeightsMissing, match="xrv"):
            train_model(tiny_config(shared_data, tmp_path / "x.pt", arch="densenet121", init="densenet121-res224-all"))
        assert not (tmp_path / "x.pt").exists()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
