"""``lungdx report`` / ``export`` / ``triage override`` in-process against the demo database."""

from __future__ import annotations

import json

import pytest

from lungdx_widgets.cli import main
from lungdx_widgets.reports.context import study_context
from lungdx_widgets.store import open_store


def test_export_fhir_all_studies_skips_unanalysed_and_audits(scenario, tmp_path, capsys):
    assert main(["export", "--format", "fhir", "--db", str(scenario.db), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    files = sorted(tmp_path.glob("*.fhir.json"))
    assert len(files) == len(scenario.analysed)
    assert f"{len(files)} studies exported as fhir ({len(files)} files)" in out and f"study {scenario.unanalysed[0]}: " in out
    assert all(json.loads(f.read_text())["resourceType"] == "Bundle" for f in files)
    with open_store(scenario.db) as store:
        audited = {e.obj for e in store.audit_events(limit=1000, action="export_fhir")}
    assert {f"study:{i}" for i in scenario.analysed} <= audited


def test_export_sr_of_one_study(scenario, tmp_path, capsys):
    study = scenario.reviewed[0]
    assert main(["export", "--format", "sr", "--study", str(study), "--db", str(scenario.db),
                 "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"study-{study}-source-sc.dcm", f"study-{study}-sr.dcm"]


def test_export_of_a_named_unanalysed_study_is_a_one_line_error(scenario, tmp_path, capsys):
    code = main(["export", "--format", "fhir", "--study", str(scenario.unanalysed[0]), "--db", str(scenario.db),
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "\n" not in err and "has not been analysed yet" in err


def test_report_writes_html_and_says_why_there_is_no_heatmap(scenario, tmp_path, capsys):
    out = tmp_path / "sub" / "report.html"
    assert main(["report", str(scenario.reviewed[0]), "--out", str(out), "--db", str(scenario.db)]) == 0
    assert "no heatmap:" in capsys.readouterr().out, "the installed model (if any) is not test-model-1"
    assert "Chest radiograph report" in out.read_text() and "no heatmap:" in out.read_text()


def test_report_as_pdf(scenario, tmp_path, capsys):
    out = tmp_path / "report.pdf"
    assert main(["report", str(scenario.reviewed[0]), "--out", str(out), "--no-heatmap", "--db", str(scenario.db)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 50_000, "a PDF with the inline radiograph"
    with open_store(scenario.db) as store:
        assert store.audit_events(limit=1, action="export_report")[0].detail == "report.pdf"


def test_report_of_unknown_study(scenario, tmp_path, capsys):
    assert main(["report", "9999", "--out", str(tmp_path / "r.html"), "--no-heatmap", "--db", str(scenario.db)]) != 0
    assert "Study 9999 does not exist." in capsys.readouterr().err


@pytest.fixture()
def db_copy(scenario, tmp_path):
    with open_store(scenario.db) as store:
        return store.backup(tmp_path / "copy.db")


def test_triage_override_is_stored_and_audited(scenario, db_copy, capsys):
    study = scenario.reviewed[0]
    assert main(["triage", "override", str(study), "--level", "emergent", "--reason", "tension signs clinically",
                 "--db", str(db_copy)]) == 0
    assert "-> emergent" in capsys.readouterr().out
    with open_store(db_copy) as store:
        pred = store.latest_prediction(study)
        events = store.audit_events(limit=5, action="override_triage")
    assert (pred.level, pred.override_reason) == ("emergent", "tension signs clinically")
    assert events[0].obj == f"study:{study}"
    with open_store(db_copy) as store:
        triage = study_context(store, study, "pytest").triage
    assert triage.level == "emergent"
    assert triage.reasons == (f"clinician override by {pred.override_by}: tension signs clinically",
                              f"AI triage was {pred.triage_level}: " + "; ".join(pred.triage_reasons))


def test_triage_override_refusals(scenario, db_copy, capsys):
    assert main(["triage", "override", str(scenario.unanalysed[0]), "--level", "urgent", "--reason", "x",
                 "--db", str(db_copy)]) != 0
    assert "no AI result to override" in capsys.readouterr().err
    assert main(["triage", "override", str(scenario.reviewed[0]), "--level", "urgent", "--reason", " ",
                 "--db", str(db_copy)]) != 0
    assert "give a reason" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["triage", "override", "1", "--level", "whenever", "--reason", "x", "--db", str(db_copy)])


def test_pdf_without_chromium_is_a_clear_error(scenario, tmp_path, capsys, monkeypatch):
    from lungdx_widgets.reports import pdf

    monkeypatch.setattr(pdf, "BROWSERS", ("no-such-browser-here",))
    assert main(["report", str(scenario.reviewed[0]), "--out", str(tmp_path / "r.pdf"), "--no-heatmap",
                 "--db", str(scenario.db)]) != 0
    assert "A PDF needs Chromium" in capsys.readouterr().err
    assert not (tmp_path / "r.pdf").exists()
