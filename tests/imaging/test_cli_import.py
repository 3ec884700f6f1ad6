"""``lungdx import``: good files are filed, a bad file costs one line and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from lungdx_widgets.cli import main
from lungdx_widgets.store import open_store

PATIENT = "Covid0000"  # the PatientID inside the shared NIH DICOM


@pytest.fixture
def db(tmp_path: Path, limits) -> Path:
    """A fresh database with one patient, and an empty image store for this test only."""
    limits(image_store=tmp_path / "images")
    path = tmp_path / "cli.db"
    with open_store(path) as store:
        store.add_patient(PATIENT, "Test Patient", actor="test")
    return path


def stored_files(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "images").rglob("*") if p.is_file())


def test_one_bad_file_one_line_nothing_written_others_imported(db, tmp_path, nih, chest_png, capsys):
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(nih.read_bytes()[:5000])
    code = main(["import", str(nih), str(truncated), str(chest_png), "--patient", PATIENT, "--db", str(db)])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.count("\n") == 1 and "truncated.dcm" in err and "Traceback" not in err
    assert out.count("\n") == 2 and nih.name in out and chest_png.name in out
    with open_store(db) as store:
        studies = store.studies_for_patient(PATIENT)
    assert sorted(s.filename for s in studies) == sorted([nih.name, chest_png.name])
    assert len(stored_files(tmp_path)) == 2 and not any(p.name.startswith(".incoming") for p in stored_files(tmp_path))


def test_dicom_of_another_patient_is_refused_unless_confirmed(db, tmp_path, nema_j2k, capsys):
    args = ["import", str(nema_j2k), "--patient", PATIENT, "--db", str(db)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "9RG1" in err
    with open_store(db) as store:
        assert store.studies_for_patient(PATIENT) == []
    assert stored_files(tmp_path) == []
    assert main(args + ["--confirm-identity-mismatch"]) == 0
    with open_store(db) as store:
        assert [s.filename for s in store.studies_for_patient(PATIENT)] == [nema_j2k.name]


def test_unknown_patient_stops_before_any_file(db, tmp_path, chest_png, capsys):
    code = main(["import", str(chest_png), "--patient", "NOBODY", "--db", str(db)])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "NOBODY" in err
    assert stored_files(tmp_path) == []
