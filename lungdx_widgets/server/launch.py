"""Start the one jupyter_server process that serves the dashboard (Voila) and JupyterLab."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..config import PROJECT_ROOT, get_settings

DASHBOARD_PATH = "/voila/render/notebooks/dashboard.ipynb"


def server_argv(host: str, port: int) -> list[str]:
    """Command line of the server; the auth issue adds identity provider and authorizer here."""
    s = get_settings()
    return [
        sys.executable, "-m", "jupyter_server",
        f"--ServerApp.ip={host}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False", f"--ServerApp.root_dir={PROJECT_ROOT}",
        "--ServerApp.allow_root=True", "--IdentityProvider.token=",
        f"--ServerApp.default_url={DASHBOARD_PATH}",
        f"--ServerApp.tornado_settings={{'websocket_max_message_size': {s.max_upload_bytes * 2}}}",
        f"--MappingKernelManager.cull_idle_timeout={s.kernel_cull_seconds}",
    ]


def serve(db: Path, host: str, port: int) -> int:
    """Serve until interrupted; the kernel finds the database through ``LUNGDX_DB``."""
    env = dict(os.environ, LUNGDX_DB=str(Path(db).resolve()))
    print(f"LungDx Workbench dashboard: http://{host}:{port}{DASHBOARD_PATH}", flush=True)
    return subprocess.call(server_argv(host, port), env=env, cwd=PROJECT_ROOT)
