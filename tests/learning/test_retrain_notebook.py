"""``notebooks/retrain.ipynb`` runs in a real kernel on the same small real subset as the e2e test."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from lungdx_widgets.config import PROJECT_ROOT
from lungdx_widgets.learning.jobs import evaluate_and_register
from lungdx_widgets.learning.activation import activate

from .conftest import add_real_study, correct_studies

SMALL_RUN = "MAX_STEPS, EPOCHS, BATCH_SIZE = 2, 1, 4\n"


def _run(store_path, user: str, params: str, cwd, monkeypatch) -> nbformat.NotebookNode:
    """retrain.ipynb top to bottom as ``user`` on ``store_path``, its parameters cell replaced by ``params``."""
    monkeypatch.setenv("LUNGDX_DB", str(store_path))
    monkeypatch.setenv("LUNGDX_USER", user)
    nb = nbformat.read(PROJECT_ROOT / "notebooks" / "retrain.ipynb", as_version=4)
    next(c for c in nb.cells if "parameters" in c.metadata.get("tags", [])).source = params
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                   allow_errors=True).execute()
    return nb


def _outputs(nb) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def test_retrain_notebook_runs_on_a_small_real_subset(store, shared_data, subset_files, base_checkpoint, eval_set,
                                                      tmp_path, monkeypatch):
    base = evaluate_and_register(store, base_checkpoint, eval_set, "ana")
    activate(store, base.version, "ana")
    correct_studies(store, [add_real_study(store, shared_data, f, f"NB-{i}") for i, f in enumerate(subset_files["studies"])])
    monkeypatch.setenv("LUNGDX_DB", str(store.path))
    monkeypatch.setenv("LUNGDX_USER", "ana")

    nb = nbformat.read(PROJECT_ROOT / "notebooks" / "retrain.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = (f"MAX_STEPS, EPOCHS, BATCH_SIZE = 2, 1, 4\n"
                     f"EVAL_LABELS, EVAL_IMAGES, EVAL_BOXES = {str(eval_set.labels_csv)!r}, "
                     f"{str(eval_set.images_dir)!r}, {str(eval_set.boxes_csv)!r}\n"
                     f"BOOTSTRAP, EVAL_LIMIT = 200, None")
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    candidates = store.list_models(status="candidate")
    assert len(candidates) == 1 and f"registered candidate {candidates[0].version}" in text
    assert candidates[0].snapshot_id is not None and f"acting as ana; active model: {base.version}" in text
    assert store.active_model().version == base.version  # activation needs a deliberate click
    widgets = [o for c in nb.cells for o in c.get("outputs", []) if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widgets) == 3  # the review queue, the progress bar and the registry panel


def test_retrain_notebook_runs_top_to_bottom_on_the_fresh_demo_database(demo_db, _isolated_settings, tmp_path,
                                                                         monkeypatch):
    """An analyst's first run, on what `make demo` creates: its reported history is the first snapshot."""
    from lungdx_widgets.store import open_store

    monkeypatch.setenv("LUNGDX_IMAGE_STORE", str(_isolated_settings / "images"))  # where the demo filed its films
    with open_store(demo_db) as source:
        copy = source.backup(tmp_path / "demo.db")
    nb = _run(copy, "demo-analyst", SMALL_RUN + "EVAL_LABELS, EVAL_IMAGES, EVAL_BOXES = None, None, None\n"
              "BOOTSTRAP, EVAL_LIMIT = 50, 24", tmp_path, monkeypatch)
    errors = [o for o in _outputs(nb) if o.get("output_type") == "error"]
    assert not errors, errors
    text = "".join(o.get("text", "") for o in _outputs(nb))
    with open_store(copy) as store:
        [candidate] = store.list_models(status="candidate")
        assert f"registered candidate {candidate.version}" in text and candidate.snapshot_id in text


def test_a_step_with_nothing_to_do_says_so_in_words(store, tmp_path, monkeypatch):
    """On a database without reviewed studies the notebook stops at the snapshot with its sentence, no traceback."""
    nb = _run(store.path, "ana", SMALL_RUN + "EVAL_LABELS, EVAL_IMAGES, EVAL_BOXES = None, None, None\n"
              "BOOTSTRAP, EVAL_LIMIT = 50, 8", tmp_path, monkeypatch)
    error = next(o for o in _outputs(nb) if o.get("output_type") == "error")  # "Run all" stops at the first
    assert error["ename"] == "EmptySnapshot"
    assert error["traceback"] == ["EmptySnapshot: No reviewed annotations to freeze yet: accept, edit or draw boxes first."]
