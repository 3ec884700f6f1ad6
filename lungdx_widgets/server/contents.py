"""Shipped notebooks are read-only templates; an analyst's copies and every checkpoint live in the workspace.

Why: the dashboard notebook is what Voila serves to every clinician, and the analyst notebooks are the
documented recipes. Opening one in JupyterLab must not change it (autosave, "trust", cleared outputs)
nor write ``.ipynb_checkpoints`` into the repository. The contents API reports them ``writable: false``
(JupyterLab then opens them read-only and offers "Save As…"), refuses to overwrite, rename or delete
them, and keeps checkpoints under :data:`WORKSPACE` (git-ignored), where copies are saved too.
"""

from __future__ import annotations

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web
from traitlets import default

from ..config import PROJECT_ROOT

#: Folder of the shipped notebooks, relative to the server's root (the repository).
TEMPLATES = "notebooks"
#: Where analysts keep their copies (relative to the root; git-ignored) and where checkpoints go.
WORKSPACE = "workspace"
CHECKPOINT_DIR = PROJECT_ROOT / WORKSPACE / ".checkpoints"
READ_ONLY = (f"Shipped notebooks are read-only templates: use File → Save Notebook As… and save the copy "
             f"in {WORKSPACE}/.")


def is_template(path: str) -> bool:
    """A notebook shipped in :data:`TEMPLATES` (the folder itself stays browsable)."""
    parts = path.strip("/").split("/")
    return len(parts) >= 2 and parts[0] == TEMPLATES and parts[-1].endswith(".ipynb")


class TemplateContentsManager(AsyncLargeFileManager):
    """The server's contents manager with the shipped notebooks read-only."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        CHECKPOINT_DIR.mkdir(parents=True, exist_ok=True)  # the workspace exists for "Save As…"

    @default("checkpoints_kwargs")
    def _checkpoints_outside_the_repository(self):
        kwargs = {"parent": self, "log": self.log}
        kwargs["checkpoint_dir"] = str(CHECKPOINT_DIR)  # absolute: every checkpoint in one folder
        return kwargs

    async def get(self, path, content=True, type=None, format=None, **kwargs):
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        if is_template(model.get("path", path)):
            model["writable"] = False
        for child in model.get("content") or () if model.get("type") == "directory" else ():
            if is_template(child.get("path", "")):
                child["writable"] = False
        return model

    async def save(self, model, path=""):
        if is_template(path):
            raise web.HTTPError(403, READ_ONLY)
        return await super().save(model, path)

    async def rename_file(self, old_path, new_path):
        if is_template(old_path) or is_template(new_path):
            raise web.HTTPError(403, READ_ONLY)
        return await super().rename_file(old_path, new_path)

    async def delete_file(self, path):
        if is_template(path):
            raise web.HTTPError(403, READ_ONLY)
        return await super().delete_file(path)

    async def create_checkpoint(self, path):
        if is_template(path):
            raise web.HTTPError(403, READ_ONLY)
        return await super().create_checkpoint(path)
