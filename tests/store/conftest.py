"""Store-test helpers: real radiographs from the shared data, real Findings/Triage values."""

from __future__ import annotations

from pathlib import Path

import pytest

from lungdx_widgets.types import Box, Findings, LabelResult, Triage


@pytest.fixture(scope="session")
def png_files(shared_data: Path) -> list[Path]:
    """A few real shared PNGs (distinct bytes)."""
    return sorted((shared_data / "images").glob("nih*.png"))[:4]


def load(path: Path):
    """(Radiograph, bytes) through the real imaging loader."""
    from lungdx_widgets.imaging import load_image

    data = path.read_bytes()
    return load_image(data, filename=path.name), data


def findings(p: float, label: str = "Pneumonia", boxes: tuple[Box, ...] = ()) -> Findings:
    return Findings(results={label: LabelResult(label, p, 0.5), "Nodule": LabelResult("Nodule", None)},
                    boxes=list(boxes), model_version="test-model")


def triage(level: str) -> Triage:
    return Triage(level, (f"{level} because the test says so",))  # type: ignore[arg-type]


@pytest.fixture
def private_image_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An image store of this test's own, so files other tests stored cannot hide a stray file."""
    from lungdx_widgets.config import get_settings

    folder = tmp_path / "images"
    monkeypatch.setenv("LUNGDX_IMAGE_STORE", str(folder))
    get_settings.cache_clear()
    yield folder
    monkeypatch.undo()
    get_settings.cache_clear()
