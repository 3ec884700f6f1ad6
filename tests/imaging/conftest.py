"""Fixtures for imaging tests: the shared files by role, and temporary limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lungdx_widgets.config import get_settings


@pytest.fixture(scope="session")
def dicom_dir(shared_data: Path) -> Path:
    return shared_data / "dicom"


@pytest.fixture(scope="session")
def siim(dicom_dir: Path) -> Path:
    """CR, JPEG baseline, MONOCHROME2, 1024²."""
    return dicom_dir / "siim_6904_1517875201.dcm"


@pytest.fixture(scope="session")
def siim_mono1(dicom_dir: Path) -> Path:
    """The same pixels with only PhotometricInterpretation = MONOCHROME1."""
    return dicom_dir / "siim_6904_fake_monochrome1.dcm"


@pytest.fixture(scope="session")
def nih(dicom_dir: Path) -> Path:
    """DX, implicit VR little endian, uncompressed 8-bit, 1024²."""
    return dicom_dir / "nih_gcp_covid0000.dcm"


@pytest.fixture(scope="session")
def nema_j2k(dicom_dir: Path) -> Path:
    """CR 1955×1841, 15-bit, MONOCHROME1, JPEG 2000 lossy, with a window."""
    return dicom_dir / "nema_wg04_RG1_J2KI.dcm"


@pytest.fixture(scope="session")
def chest_png(shared_data: Path) -> Path:
    return sorted((shared_data / "images").glob("nih*.png"))[0]


@pytest.fixture(scope="session")
def chest_array(chest_png: Path) -> np.ndarray:
    """The shared chest PNG as uint8 (rows, cols)."""
    return np.asarray(Image.open(chest_png).convert("L"))


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch):
    """Set Settings fields through LUNGDX_* for one test: ``limits(max_pixels=1000)``."""
    def apply(**values: int) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"LUNGDX_{name.upper()}", str(value))
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()
