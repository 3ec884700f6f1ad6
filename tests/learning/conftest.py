"""Fixtures for the learning loop: a fresh real store, real shared images, a small real subset."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from lungdx_widgets.config import get_settings
from lungdx_widgets.imaging import load_image
from lungdx_widgets.store import open_store


@pytest.fixture(autouse=True)
def learning_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Snapshots and fine-tuning runs go to this test's tmp dir, never into the repository."""
    monkeypatch.setenv("LUNGDX_SNAPSHOTS", str(tmp_path / "snapshots"))
    monkeypatch.setenv("LUNGDX_MODEL_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("LUNGDX_IMAGE_STORE", str(tmp_path / "images"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def store(tmp_path: Path):
    """A real SQLite store with one analyst, one admin and one clinician."""
    s = open_store(tmp_path / "lungdx.db")
    s.add_user("ana", "analyst-pass-1", "analyst")
    s.add_user("adm", "admin-pass-1", "admin")
    s.add_user("cli", "clinician-pass-1", "clinician")
    yield s
    s.close()


def shared_rows(shared_data: Path) -> list[dict[str, str]]:
    with open(shared_data / "labels.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def boxed_pneumonia(shared_data: Path) -> list[str]:
    """Shared images with radiologist/NIH pneumonia boxes (file names)."""
    with open(shared_data / "boxes.csv", newline="") as fh:
        return sorted({r["file"] for r in csv.DictReader(fh) if r["label"] == "Pneumonia"})


def add_real_study(store, shared_data: Path, file: str, patient_id: str, actor: str = "cli"):
    """File one real shared PNG as a study of a (fictional) patient."""
    try:
        store.get_patient(patient_id)
    except Exception:  # noqa: BLE001 - NotFound: create the fictional patient once
        store.add_patient(patient_id, f"Test Patient {patient_id}", sex="F")
    data = (shared_data / "images" / file).read_bytes()
    return store.add_study(patient_id, load_image(data, filename=file), data, actor, filename=file)


def tiny_checkpoint(path: Path, seed: int = 0, labels: tuple[str, ...] = ("Pneumonia", "Effusion")) -> Path:
    """A real (tiny, untrained) project checkpoint written by the model layer's own saver."""
    import torch

    from lungdx_widgets.model.network import HamNet, NetConfig
    from lungdx_widgets.model.weights import save_checkpoint

    torch.manual_seed(seed)
    config = NetConfig(labels=labels, input_size=64, growth_rate=4, block_config=(1, 1, 1, 1),
                       num_init_features=8, stride16=True)
    save_checkpoint(path, config.as_dict(), HamNet(config).state_dict(), dict.fromkeys(labels, 0.5))
    return path


def write_subset(shared_data: Path, dest: Path, files: list[str]) -> Path:
    """labels.csv + boxes.csv of the chosen shared images (the images stay in the shared folder)."""
    dest.mkdir(parents=True, exist_ok=True)
    chosen = set(files)
    for name in ("labels.csv", "boxes.csv"):
        with open(shared_data / name, newline="") as src, open(dest / name, "w", newline="") as out:
            reader = csv.DictReader(src)
            writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
            writer.writeheader()
            writer.writerows(r for r in reader if r["file"] in chosen)
    return dest / "labels.csv"


@pytest.fixture(scope="session")
def subset_files(shared_data: Path, boxed_pneumonia: list[str]) -> dict[str, list[str]]:
    """Small, disjoint real NIH subsets: ``train`` for the base model, ``eval`` as the fixed set,
    ``studies`` for the clinical studies an analyst corrects (boxed pneumonia images)."""
    rows = [r for r in shared_rows(shared_data) if r["file"].startswith("nih") and r["y_Pneumonia"] in ("0", "1")]
    studies = boxed_pneumonia[:4]
    pos = [r["file"] for r in rows if r["y_Pneumonia"] == "1" and r["file"] not in boxed_pneumonia]
    neg = [r["file"] for r in rows if r["y_Pneumonia"] == "0"]
    return {"train": pos[:8] + neg[:8], "eval": pos[8:14] + neg[8:14] + boxed_pneumonia[4:8], "studies": studies}


@pytest.fixture(scope="session")
def base_checkpoint(tmp_path_factory: pytest.TempPathFactory, shared_data: Path, subset_files) -> Path:
    """A real base model: a compact HAM network trained for a few steps on real images (64 px)."""
    from lungdx_widgets.model.train import TrainConfig, train_model

    root = tmp_path_factory.mktemp("base")
    labels = write_subset(shared_data, root / "train", subset_files["train"])
    config = TrainConfig(images_dir=shared_data / "images", labels_csv=labels, boxes_csv=labels.with_name("boxes.csv"),
                         out=root / "base.pt", arch="compact", input_size=64, max_steps=2, batch_size=8,
                         labels=("Pneumonia",), augment=False, threads=2)
    return train_model(config).path


@pytest.fixture(scope="session")
def eval_set(tmp_path_factory: pytest.TempPathFactory, shared_data: Path, subset_files):
    from lungdx_widgets.learning.evalsets import EvalSet

    labels = write_subset(shared_data, tmp_path_factory.mktemp("eval"), subset_files["eval"])
    return EvalSet(shared_data / "images", labels, labels.with_name("boxes.csv"))


def correct_studies(store, studies) -> None:
    """What analysts do in the editor: an AI proposal is saved, then edited, and a missed finding drawn."""
    from lungdx_widgets.types import Box

    for study in studies:
        store.save_annotations(study.id, [Box("Pneumonia", 40, 60, 120, 140, score=0.6, status="proposed")], 0, "cli")
        store.save_annotations(study.id, [Box("Pneumonia", 50, 70, 150, 160, score=0.6, status="edited"),
                                          Box("Effusion", 10, 300, 60, 40, source="human", status="accepted")], 1, "ana")
