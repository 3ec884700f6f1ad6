"""``notebooks/train_and_evaluate.ipynb`` runs end to end (smoke subset) with a real kernel."""

from __future__ import annotations

from lungdx_widgets.config import PROJECT_ROOT


def test_train_and_evaluate_notebook_runs(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("LUNGDX_NOTEBOOK_OUT", str(tmp_path))
    nb = nbformat.read(PROJECT_ROOT / "notebooks" / "train_and_evaluate.ipynb", as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert (tmp_path / "notebook-model.pt").is_file()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "AUROC" in text and "pixel baseline" in text
