"""The image store belongs to its database: beside the SQLite file unless configured (issue 18, the store seam)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lungdx_widgets.config import PROJECT_ROOT, Settings, demo_images_for, get_settings, images_for, load_settings
from lungdx_widgets.store import open_store

from .conftest import load


@pytest.fixture
def no_configured_image_store(monkeypatch):
    monkeypatch.delenv("LUNGDX_IMAGE_STORE", raising=False)
    monkeypatch.delenv("LUNGDX_DEMO_DIR", raising=False)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_a_database_elsewhere_keeps_its_films_beside_it(tmp_path, png_files, no_configured_image_store):
    db = tmp_path / "ward-7" / "clinic.db"
    with open_store(db) as store:
        store.add_patient("MRN-1", "Harriet Quill")
        radiograph, data = load(png_files[0])
        study = store.add_study("MRN-1", radiograph, data, "dr_ada")
        stored = store.study_image_path(study)
    assert stored.is_file() and stored.is_relative_to(tmp_path / "ward-7" / "images")
    assert not (PROJECT_ROOT / "data" / "images" / study.image_path).exists(), "nothing in the project tree"


def test_defaults_and_configured_folders():
    default = load_settings(env={})
    assert images_for(default) == PROJECT_ROOT / "data" / "images" and demo_images_for(default) == PROJECT_ROOT / "data" / "demo"
    moved = load_settings(env={"LUNGDX_DB": "/srv/lungdx/lungdx.db"})
    assert images_for(moved) == Path("/srv/lungdx/images") and demo_images_for(moved) == Path("/srv/lungdx/demo")
    fixed = load_settings(env={"LUNGDX_DB": "/srv/lungdx/lungdx.db", "LUNGDX_IMAGE_STORE": "/mnt/films"})
    assert images_for(fixed, Path("/elsewhere/x.db")) == Path("/mnt/films"), "a configured folder always wins"
    pg = load_settings(env={"LUNGDX_DB": "postgresql://lungdx@db/lungdx"})
    assert images_for(pg) == PROJECT_ROOT / "data" / "images"
    assert isinstance(default, Settings)
