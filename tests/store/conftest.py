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


#: Every store test runs on both engines; a test of one engine's own mechanics names it:
#: ``@pytest.mark.parametrize("store_target", ["sqlite"], indirect=True)`` (never a skip).
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """What ``open_store`` opens in this test: a fresh SQLite file, or a fresh PostgreSQL database's URL."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    return tmp_path / "store.db"


@pytest.fixture
def store(store_target: str | Path):
    """An empty, migrated store on either engine (images go to the session's tmp image store)."""
    from lungdx_widgets.store import open_store

    s = open_store(store_target)
    yield s
    s.close()


@pytest.fixture
def backend(store_target: str | Path) -> str:
    return "postgresql" if isinstance(store_target, str) else "sqlite"


@pytest.fixture
def integrity_error(backend: str) -> type[Exception]:
    """The driver's error for a refused write (constraint, trigger): what raw SQL in a test meets."""
    if backend == "postgresql":
        import psycopg

        return psycopg.errors.IntegrityError
    import sqlite3

    return sqlite3.IntegrityError


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


@pytest.fixture
def raw_connection(store_target: str | Path, backend: str):
    """A plain driver connection to the test's database (none of the store's set-up), taking ``?`` SQL."""
    def connect():
        if backend == "postgresql":
            import psycopg

            from lungdx_widgets.store.dialect import PgConnection

            return PgConnection(psycopg.connect(str(store_target), autocommit=True))
        import sqlite3

        return sqlite3.connect(store_target)
    return connect


@pytest.fixture
def database_bytes(request: pytest.FixtureRequest, store_target: str | Path, backend: str):
    """Everything the database holds, as bytes: the SQLite file, or a plain-SQL dump of the PostgreSQL database."""
    def read() -> bytes:
        if backend == "postgresql":
            return request.getfixturevalue("pg_cluster").dump(str(store_target))
        return Path(store_target).read_bytes()
    return read
