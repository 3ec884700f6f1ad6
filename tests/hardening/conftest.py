"""Hardening fixtures: a store with one patient, a private image store, small real radiographs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lungdx_widgets.config import PROJECT_ROOT
from lungdx_widgets.types import Findings, LabelResult, Triage

from ..store.conftest import private_image_store  # noqa: F401 - fixture reused here

PATIENT = "HARD-0001"


@pytest.fixture(scope="session")
def small_pngs(shared_data: Path) -> list[Path]:
    """The smallest real radiographs of the shared data (fast to decode), distinct bytes."""
    return sorted((shared_data / "images").glob("*.png"), key=lambda p: p.stat().st_size)[:6]


@pytest.fixture(scope="session")
def png_bytes(small_pngs: list[Path]) -> bytes:
    return small_pngs[0].read_bytes()


@pytest.fixture
def image_store(private_image_store: Path) -> Path:  # noqa: F811 - the imported fixture, requested by name
    """This test's own image store, so a stray file from another test cannot hide or fake one."""
    return private_image_store


@pytest.fixture
def hardening_target(tmp_path: Path) -> Path | str:
    """Where ``patient_store`` lives: a fresh SQLite file (a module may override it: test_concurrency, both engines)."""
    return tmp_path / "hardening.db"


@pytest.fixture
def patient_store(hardening_target: Path | str, image_store: Path):
    """A migrated store with one patient and one clinician."""
    from lungdx_widgets.store import open_store

    store = open_store(hardening_target)
    store.add_patient(PATIENT, "Ada Hardening", actor="setup", sex="F", birth_date="1950-02-03")
    store.add_user("doc", "doc-password", "clinician", actor="setup")
    yield store
    store.close()


@pytest.fixture
def worker_env(image_store: Path, tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, LUNGDX_IMAGE_STORE=str(image_store), LUNGDX_WEIGHTS=str(tmp_path / "no-weights"),
                PYTHONPATH=str(PROJECT_ROOT), OMP_NUM_THREADS="1")


def audit_rows(store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0])


def image_files(folder: Path) -> list[Path]:
    """Every file under the image store, temp files included (nothing may be left by a failure)."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def findings(p: float = 0.8) -> Findings:
    return Findings(results={"Pneumonia": LabelResult("Pneumonia", p, 0.5), "Nodule": LabelResult("Nodule", None)},
                    model_version="hardening-test")


def triage(level: str = "urgent") -> Triage:
    return Triage(level, (f"{level}: test finding",))  # type: ignore[arg-type]
