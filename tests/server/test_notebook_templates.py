"""Shipped notebooks are read-only templates on the real server; copies and checkpoints go to workspace/."""

from __future__ import annotations

import json

import pytest

from lungdx_widgets.config import PROJECT_ROOT
from lungdx_widgets.server.contents import CHECKPOINT_DIR, WORKSPACE, is_template

from ..support import xsrf_token
from .conftest import ANALYST, as_user

SHIPPED = "notebooks/retrain.ipynb"


def test_is_template():
    assert is_template("notebooks/retrain.ipynb") and is_template("/notebooks/dashboard.ipynb")
    assert not is_template("notebooks") and not is_template("workspace/retrain.ipynb")
    assert not is_template("notebooks/README.md")


@pytest.fixture
def analyst(server):
    session = as_user(server, ANALYST)
    session.headers["X-XSRFToken"] = xsrf_token(session, server.base)
    copy = PROJECT_ROOT / WORKSPACE / "test-retrain-copy.ipynb"
    yield session, copy
    copy.unlink(missing_ok=True)
    for stale in CHECKPOINT_DIR.glob("test-retrain-copy-*.ipynb"):
        stale.unlink()


def test_shipped_notebook_is_read_only_and_a_copy_in_the_workspace_is_not(server, analyst):
    session, copy = analyst
    shipped = PROJECT_ROOT / SHIPPED
    before = shipped.read_bytes()
    api = server.base + "/api/contents/"

    r = session.get(api + SHIPPED, timeout=30)
    assert r.status_code == 200 and r.json()["writable"] is False, "JupyterLab opens it read-only"
    listing = {c["path"]: c["writable"] for c in session.get(api + "notebooks", timeout=30).json()["content"]}
    assert listing[SHIPPED] is False
    model = r.json()

    put = session.put(api + SHIPPED, data=json.dumps({"type": "notebook", "format": "json",
                                                      "content": model["content"]}), timeout=30)
    assert put.status_code == 403 and "read-only" in put.text
    assert session.post(api + SHIPPED + "/checkpoints", timeout=30).status_code == 403
    assert session.delete(api + SHIPPED, timeout=30).status_code == 403
    assert session.patch(api + SHIPPED, data=json.dumps({"path": "notebooks/renamed.ipynb"}),
                         timeout=30).status_code == 403
    assert shipped.read_bytes() == before, "the template is byte-for-byte unchanged"

    saved = session.put(api + f"{WORKSPACE}/{copy.name}", data=json.dumps(
        {"type": "notebook", "format": "json", "content": model["content"]}), timeout=30)
    assert saved.status_code in (200, 201), saved.text
    assert copy.is_file()
    assert session.get(api + f"{WORKSPACE}/{copy.name}", timeout=30).json()["writable"] is True
    cp = session.post(api + f"{WORKSPACE}/{copy.name}/checkpoints", timeout=30)
    assert cp.status_code == 201, cp.text
    assert list(CHECKPOINT_DIR.glob("test-retrain-copy-*.ipynb")), "checkpoints live in the workspace"
    for folder in ("notebooks", WORKSPACE):
        assert not (PROJECT_ROOT / folder / ".ipynb_checkpoints" / "test-retrain-copy-checkpoint.ipynb").exists()


def test_workspace_is_ignored_by_git():
    ignored = (PROJECT_ROOT / ".gitignore").read_text().split()
    assert f"{WORKSPACE}/" in ignored
