"""``notebooks/retrain.ipynb`` runs in a real kernel on the same small real subset as the e2e test."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from lungdx_widgets.config import PROJECT_ROOT
from lungdx_widgets.learning.jobs import evaluate_and_register
from lungdx_widgets.learning.registry import activate

from .conftest import add_real_study, correct_studies


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
