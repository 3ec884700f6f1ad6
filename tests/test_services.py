"""The one ingest path (services.ingest): its rules, and that every entry point goes through it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lungdx_widgets import services
from lungdx_widgets.errors import LungDxError
from lungdx_widgets.services import IngestResult, ModelService, ingest
from lungdx_widgets.store import open_store
from lungdx_widgets.store.errors import IdentityMismatch

from .learning.conftest import tiny_checkpoint

PATIENT = "Covid0000"  # the PatientID inside the shared NIH DICOM


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("services-model") / "tiny.pt")


@pytest.fixture
def clinic(store):
    store.add_patient(PATIENT, "Test Patient", actor="test")
    store.add_allergy(PATIENT, "test", "Penicillin", "drug", reaction="rash", severity="severe")
    return store


@pytest.fixture
def nih(shared_dicoms) -> bytes:
    return next(p for p in shared_dicoms if p.name.startswith("nih_")).read_bytes()


def test_ingest_files_analyses_triages_with_the_record_and_stores(clinic, nih, checkpoint):
    result = ingest(clinic, PATIENT, nih, "doc", filename="a.dcm", analyzer=ModelService(checkpoint))
    assert isinstance(result, IngestResult) and not result.duplicate and result.model_error is None
    assert result.prediction is not None and result.triage is not None and result.findings is not None
    stored = clinic.latest_prediction(result.study.id)
    assert stored.id == result.prediction.id and stored.model_version == result.findings.model_version
    assert result.triage.level in result.message
    actions = [e.action for e in clinic.audit_events(actor="doc")]
    assert "add_study" in actions and "view" in actions, "triage read the patient record as the actor"


def test_same_bytes_again_is_a_duplicate_and_not_reanalysed(clinic, nih, checkpoint):
    service = ModelService(checkpoint)
    first = ingest(clinic, PATIENT, nih, "doc", analyzer=service)
    again = ingest(clinic, PATIENT, nih, "doc", analyzer=service)
    assert again.duplicate and again.study.id == first.study.id
    assert again.prediction.id == first.prediction.id and again.findings is None
    assert "Already on file" in again.message


def test_refused_file_and_unconfirmed_mismatch_write_nothing(clinic, nih, shared_dicoms, checkpoint):
    before = clinic.audit_events(limit=1000)
    with pytest.raises(LungDxError):
        ingest(clinic, PATIENT, nih[:4000], "doc", analyzer=ModelService(checkpoint))
    nema = next(p for p in shared_dicoms if p.name.startswith("nema_")).read_bytes()
    with pytest.raises(IdentityMismatch):
        ingest(clinic, PATIENT, nema, "doc", analyzer=ModelService(checkpoint))
    assert clinic.studies_for_patient(PATIENT) == []
    assert len(clinic.audit_events(limit=1000)) == len(before)


def test_model_unavailable_files_the_study_and_says_why(clinic, nih, tmp_path):
    result = ingest(clinic, PATIENT, nih, "doc", analyzer=ModelService(tmp_path / "absent.pt"))
    assert result.prediction is None and result.model_error and "absent.pt" in result.model_error
    assert clinic.studies_for_patient(PATIENT)[0].id == result.study.id


def test_on_filed_failure_rolls_the_study_and_its_file_back(clinic, nih, tmp_path, monkeypatch):
    from lungdx_widgets.config import get_settings

    monkeypatch.setenv("LUNGDX_IMAGE_STORE", str(tmp_path / "images"))
    get_settings.cache_clear()

    def refuse(study, radiograph):
        assert any((tmp_path / "images").rglob("*.dcm")), "inside the transaction the file is there"
        raise LungDxError("the link could not be recorded")

    try:
        with pytest.raises(LungDxError, match="link"):
            ingest(clinic, PATIENT, nih, "doc", on_filed=refuse)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert clinic.studies_for_patient(PATIENT) == []
    assert not any((tmp_path / "images").rglob("*.dcm")), "the image written inside the transaction is removed"


def test_model_service_follows_its_own_resolver_only(checkpoint, tmp_path):
    from lungdx_widgets.model.analyze import _default_model_resolvers

    chosen: list[Path | None] = [None]
    service = ModelService(resolver=lambda: chosen[0])
    chosen[0] = checkpoint
    assert service.checkpoint() == checkpoint and service.get().checkpoint.path == checkpoint
    chosen[0] = tmp_path / "other.pt"
    with pytest.raises(LungDxError):
        service.get()
    assert _default_model_resolvers == [], "no global registration"


@pytest.fixture
def spy(monkeypatch):
    """Records every call of services.ingest (and still runs it)."""
    calls: list[str] = []
    real = services.ingest

    def recording(*args, **kwargs):
        calls.append(kwargs.get("source", "upload"))
        return real(*args, **kwargs)
    monkeypatch.setattr(services, "ingest", recording)
    return calls


def test_every_entry_point_goes_through_ingest(spy, monkeypatch, tmp_path, shared_dicoms, checkpoint):
    from lungdx_widgets.cli import main
    from lungdx_widgets.store import demo
    from lungdx_widgets.widgets import upload

    nih = next(p for p in shared_dicoms if p.name.startswith("nih_"))
    png = next(p for p in sorted((shared_dicoms[0].parent.parent / "images").glob("*.png")))
    db = tmp_path / "entry.db"
    with open_store(db) as s:
        s.add_patient(PATIENT, "Test Patient", actor="test")
    monkeypatch.setattr(upload, "ingest", services.ingest)  # upload.py bound the name at import
    with open_store(db) as s:
        out = upload.attach_and_analyze(s, PATIENT, nih.read_bytes(), "nih.dcm", "doc",
                                        analyzer=ModelService(checkpoint))
        assert out.prediction is not None
    assert main(["import", str(png), "--patient", PATIENT, "--db", str(db)]) == 0
    assert main(["analyze", str(png), "--patient", PATIENT, "--db", str(db), "--model", str(checkpoint)]) == 0
    assert spy == ["upload", "cli", "cli"]
    monkeypatch.setattr(demo, "DEMO_DICOMS", ())
    demo.create_demo_database(tmp_path / "demo.db", n_patients=1, analyze=False)
    assert spy[3:] and set(spy[3:]) == {"demo"}
    with open_store(db) as s:
        studies = s.studies_for_patient(PATIENT)
    assert len(studies) == 2, "analyze --patient found the imported film on file (duplicate), not a new study"


def test_analyze_patient_json_shows_the_stored_triage(tmp_path, shared_dicoms, checkpoint, capsys):
    from lungdx_widgets.cli import main

    nih = next(p for p in shared_dicoms if p.name.startswith("nih_"))
    db = tmp_path / "a.db"
    with open_store(db) as s:
        s.add_patient(PATIENT, "Test Patient", actor="test")
    capsys.readouterr()
    assert main(["analyze", str(nih), "--patient", PATIENT, "--db", str(db), "--model", str(checkpoint),
                 "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    with open_store(db) as s:
        stored = s.latest_prediction(s.studies_for_patient(PATIENT)[0].id)
    assert row["triage"]["level"] == stored.triage_level


def test_importing_every_module_changes_neither_the_model_resolver_nor_torch_threads():
    code = """
import importlib, pkgutil, torch, lungdx_widgets
threads = torch.get_num_threads()
for m in pkgutil.walk_packages(lungdx_widgets.__path__, "lungdx_widgets."):
    if m.name.endswith("__main__"):
        continue
    importlib.import_module(m.name)
from lungdx_widgets.model.analyze import _default_model_resolvers
print(len(_default_model_resolvers), torch.get_num_threads() == threads)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["0", "True"]


def test_services_and_pacs_are_core_no_widget_server_or_cli_imports():
    from .test_layers import PACKAGE, WIDGET_LIBS, imported_modules

    files = [PACKAGE / "services.py", *sorted((PACKAGE / "pacs").glob("*.py"))]
    assert len(files) >= 6
    bad = {str(f.relative_to(PACKAGE)): sorted(m for m in imported_modules(f)
                                               if m.split(".")[0] in {x.split(".")[0] for x in WIDGET_LIBS}
                                               or m.lstrip(".").split(".")[0] in {"widgets", "app", "server", "cli"})
           for f in files}
    assert {k: v for k, v in bad.items() if v} == {}
