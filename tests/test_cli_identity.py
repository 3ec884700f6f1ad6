"""One CLI identity: every ``lungdx`` command audits as ``cli:<OS user>``, whatever the environment claims."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from lungdx_widgets.cli import main
from lungdx_widgets.imaging import load_image
from lungdx_widgets.session import KERNEL_USER_ENV, VOILA_USER_ENV, cli_actor
from lungdx_widgets.store import open_store


@pytest.fixture
def db_with_study(tmp_path: Path, shared_data: Path) -> tuple[Path, int]:
    db = tmp_path / "cli.db"
    png = sorted((shared_data / "images").glob("nih*.png"))[0]
    data = png.read_bytes()
    with open_store(db) as store:
        store.add_patient("CLI-1", "Test Patient", actor="setup")
        study = store.add_study("CLI-1", load_image(data, filename=png.name), data, "setup", filename=png.name)
    return db, study.id


@pytest.mark.parametrize("command", ["report {id} --no-heatmap --out {out}/r.html", "export --format fhir --out {out}",
                                     "backup {out}/copy.db"])
def test_identity_variables_do_not_make_a_command_someone_else(db_with_study, tmp_path, monkeypatch, command):
    """``HTTP_X_LUNGDX_USER=demo-clinician lungdx export`` was audited as the clinician."""
    db, study_id = db_with_study
    monkeypatch.setenv(VOILA_USER_ENV, "demo-clinician")
    monkeypatch.setenv(KERNEL_USER_ENV, "demo-clinician")
    argv = command.format(id=study_id, out=tmp_path / "out").split() + ["--db", str(db)]
    (tmp_path / "out").mkdir(exist_ok=True)
    assert main(argv) == 0
    with open_store(db) as store:
        actors = {e.actor for e in store.audit_events(limit=500) if e.actor != "setup"}
    assert actors == {f"cli:{getpass.getuser()}"} == {cli_actor()}
