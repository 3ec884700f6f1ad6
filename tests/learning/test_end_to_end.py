"""The whole learning loop on a small real subset, through the store API and the CLI.

Correct annotations → snapshot → fine-tune (interrupted once, then resumed) → evaluate →
register candidate → activate → new predictions carry the new version → roll back.
"""

from __future__ import annotations

import pytest

from lungdx_widgets.cli import main
from lungdx_widgets.imaging import load_image
from lungdx_widgets.learning.jobs import FineTuneOptions, evaluate_and_register, fine_tune, read_job
from lungdx_widgets.learning.activation import activate, active_model_path
from lungdx_widgets.model import Analyzer
from lungdx_widgets.triage import assess

from .conftest import add_real_study, correct_studies


def _analyze_with_active_model(store, study):
    """What the dashboard does on upload, with the registry's active version."""
    analyzer = Analyzer.load(active_model_path(store))
    findings = analyzer.analyze(load_image(store.study_image_path(study)))
    return store.add_prediction(study.id, findings, assess(findings, None), "cli")


class Interrupt(KeyboardInterrupt):
    """Ctrl-C delivered from inside the progress callback."""


def test_learning_loop_end_to_end(store, shared_data, subset_files, base_checkpoint, eval_set, tmp_path, capsys):
    # the shipped model is evaluated, registered and active; it analyses the day's studies
    base = evaluate_and_register(store, base_checkpoint, eval_set, "ana")
    activate(store, base.version, "ana")
    studies = [add_real_study(store, shared_data, f, f"E2E-{i}") for i, f in enumerate(subset_files["studies"])]
    first = [_analyze_with_active_model(store, s) for s in studies]
    assert {p.model_version for p in first} == {base.version}

    # analysts correct the AI's proposals through the store API
    correct_studies(store, studies)
    db = ["--db", str(store.path)]
    assert main(["snapshot", "create", *db, "--user", "ana"]) == 0
    snap_id = capsys.readouterr().out.split()[0]
    snap = store.get_snapshot(snap_id)
    assert main(["snapshot", "show", snap_id, *db]) == 0
    assert f'"content_hash": "{snap.content_hash}"' in capsys.readouterr().out
    assert snap.counts["images"] == len(studies) and snap.created_by == "ana"

    # fine-tuning: interrupted at step 2 leaves the registry untouched, a rerun resumes
    options = FineTuneOptions(max_steps=2, batch_size=4, epochs=1)  # one step per epoch: a resume point each step
    models_before = store.list_models()

    def interrupt_at_step_two(event):
        if event["step"] == 2 and not event.get("epoch_end"):
            raise Interrupt()

    with pytest.raises(KeyboardInterrupt):
        fine_tune(store, snap.id, "ana", options, progress=interrupt_at_step_two)
    assert store.list_models() == models_before
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and read_job(runs[0])["status"] == "interrupted"
    assert not (runs[0] / f"ft-{snap.id}.pt").exists() and (runs[0] / f"ft-{snap.id}.resume.pt").is_file()
    events = []
    run = fine_tune(store, snap.id, "ana", options, progress=events.append)
    assert events[0]["step"] == 2  # resumed after the finished first step, not from scratch
    assert run.result.steps == 2 and read_job(run.run_dir)["status"] == "done"
    assert run.base == base_checkpoint
    assert store.audit_events(action="fine_tune", limit=5)[0].outcome == "ok"

    # `lungdx retrain` finds the finished run (same snapshot, base and options), evaluates it on the
    # fixed set and registers the candidate
    evaluation = ["--eval-labels", str(eval_set.labels_csv), "--eval-images", str(eval_set.images_dir),
                  "--eval-boxes", str(eval_set.boxes_csv)]
    assert main(["retrain", "--from-snapshot", snap.id, "--max-steps", "2", "--batch-size", "4", "--epochs", "1",
                 *evaluation, *db, "--user", "ana"]) == 0
    assert f"checkpoint {run.checkpoint}" in capsys.readouterr().out
    candidate = store.list_models(status="candidate")[0]
    assert candidate.status == "candidate" and candidate.snapshot_id == snap.id
    assert candidate.metrics["labels"]["Pneumonia"]["n_pos"] > 0
    assert candidate.metrics["eval_set"]["fingerprint"] == base.metrics["eval_set"]["fingerprint"]
    assert main(["models", "activate", candidate.version, *db, "--user", "ana"]) == 0
    assert f"active: {candidate.version} (was {base.version})" in capsys.readouterr().out
    assert _analyze_with_active_model(store, studies[0]).model_version == candidate.version

    # the CLI lists both, compares them on the same images, and rolls back in one command
    assert main(["models", "list", *db]) == 0
    listing = capsys.readouterr().out
    assert f"active    {candidate.version}" in listing and f"retired   {base.version}" in listing
    html = tmp_path / "compare.html"
    assert main(["models", "compare", base.version, candidate.version, *db, *evaluation,
                 "--bootstrap", "200", "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert f"{candidate.version} vs {base.version} on" in out and "Pneumonia" in out and "pointing game" in out
    assert "plotly" in html.read_text()[:5000].lower()
    assert main(["models", "rollback", *db, "--user", "ana"]) == 0
    assert store.active_model().version == base.version
    assert _analyze_with_active_model(store, studies[1]).model_version == base.version
    assert main(["models", "rollback", *db, "--user", "cli"]) == 6  # clinicians may not
