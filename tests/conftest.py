"""Shared fixtures: isolated settings, the shared real data, headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lungdx_widgets.config import get_settings, load_settings

from .support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="session", autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory):
    """Tests never write into the repository's data/: db and image store go to a temp dir."""
    root = tmp_path_factory.mktemp("lungdx")
    os.environ["LUNGDX_DB"] = str(root / "lungdx.db")
    os.environ["LUNGDX_IMAGE_STORE"] = str(root / "images")
    os.environ["LUNGDX_DEMO_DIR"] = str(root / "demo")
    get_settings.cache_clear()
    yield root
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data/cxr`` (read-only). Its absence is a set-up error, not a skip."""
    path = load_settings().shared_data
    assert (path / "labels.csv").is_file(), f"shared data not found at {path}"
    return path


@pytest.fixture(scope="session")
def shared_dicoms(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "dicom").glob("*.dcm"))


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (no browser download, ever)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium missing: `make test` installs it from Debian"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def pg_cluster():
    """A private PostgreSQL server for the session (tests/pg_cluster.py); absent PostgreSQL is an error, not a skip."""
    from .pg_cluster import PgCluster

    cluster = PgCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """The URL of a new, migrated PostgreSQL database of this test's own (dropped afterwards)."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture
def store(tmp_path: Path):
    """An empty, migrated store on a fresh SQLite file (images go to the session's tmp image store)."""
    from lungdx_widgets.store import open_store

    s = open_store(tmp_path / "store.db")
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory, _isolated_settings) -> Path:
    """The demo database (``lungdx init --demo``: 50+ fictional patients, AI results when weights exist), built once."""
    from lungdx_widgets.store.demo import create_demo_database

    path = tmp_path_factory.mktemp("demo-db") / "demo.db"
    create_demo_database(path, analyze=True)
    return path
