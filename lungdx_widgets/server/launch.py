"""Start the one jupyter_server process that serves the dashboard (Voila) and JupyterLab.

Every security-relevant hook is named here, on the command line, so a reader sees the whole
configuration in one place (see SECURITY.md for why each one exists).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..config import PROJECT_ROOT, get_settings, is_postgres_url
from ..session import KERNEL_USER_ENV, SERVER_KERNEL_ENV, VOILA_USER_ENV
from .identity import IDENTITY_HEADER
from .routes import DASHBOARD_PATH

__all__ = ["DASHBOARD_PATH", "server_argv", "serve"]

_PKG = "lungdx_widgets.server"
#: Pages may load and connect only to this server: Voila's lab template links Font Awesome from a
#: CDN, which would tell a third party that (and from where) a clinician opened the dashboard. The
#: fonts it needs are bundled with Voila; inline code, eval, data: and blob: are what Voila,
#: JupyterLab and anywidget's ESM loading use. ``frame-ancestors``/``report-uri`` are jupyter_server's defaults.
CONTENT_SECURITY_POLICY = "; ".join([
    "frame-ancestors 'self'",
    "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:",
    "connect-src 'self' ws: wss:",
    "report-uri /api/security/csp-report",
])
#: Query parameters whose values never reach the access log.
_SCRUBBED_PARAMS = ["password", "passwd", "pass", "secret"]


def server_argv(host: str, port: int) -> list[str]:
    """Command line of the server: identity, authorization, kernel ownership and filtering, Voila."""
    s = get_settings()
    tornado_settings = {
        # Voila uploads arrive as websocket messages: allow a full-size upload plus framing.
        "websocket_max_message_size": s.max_upload_bytes * 2,
        "extra_log_scrub_param_keys": _SCRUBBED_PARAMS,
        "headers": {"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    }
    return [
        sys.executable, "-m", "jupyter_server",
        f"--ServerApp.ip={host}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False", f"--ServerApp.root_dir={PROJECT_ROOT}",
        "--ServerApp.allow_root=True",
        f"--ServerApp.default_url={DASHBOARD_PATH}",
        f"--ServerApp.tornado_settings={tornado_settings!r}",
        # Login before anything: no token, no anonymous handler outside the public list.
        "--ServerApp.allow_unauthenticated_access=False",
        f"--ServerApp.identity_provider_class={_PKG}.identity.LungDxIdentityProvider",
        "--IdentityProvider.token=",
        f"--ServerApp.authorizer_class={_PKG}.authorizer.RoleAuthorizer",
        f"--ServerApp.kernel_manager_class={_PKG}.kernels.OwnedKernelManager",
        # Shipped notebooks read-only, checkpoints and analysts' copies in workspace/ (server.contents).
        f"--ServerApp.contents_manager_class={_PKG}.contents.TemplateContentsManager",
        f"--ServerApp.kernel_websocket_connection_class={_PKG}.kernels.RoleFilteredConnection",
        f"--ServerApp.jpserver_extensions={{'{_PKG}.extension': True}}",
        # The kernel learns who is logged in from this header, which only the server sets.
        # (and the browser's language: lungdx_widgets.i18n.choose_language, for accounts that chose none)
        f"--VoilaConfiguration.http_header_envs={[IDENTITY_HEADER, 'Accept-Language']!r}",
        # ?template= / ?theme= would pick folders on the server: the configured ones only.
        "--VoilaConfiguration.allow_template_override=NO",
        "--VoilaConfiguration.allow_theme_override=NO",
        # A cell's output may arrive well after its reply when many sessions start at once (Settings).
        f"--VoilaExecutor.iopub_timeout={s.voila_iopub_timeout_seconds}",
        f"--MappingKernelManager.cull_idle_timeout={s.kernel_cull_seconds}",
        # Never-connected kernels are culled after Settings.kernel_unconnected_seconds: check often.
        "--MappingKernelManager.cull_interval=15",
        # Kernel channels on Unix sockets in a 0700 folder (kernels.private_kernel_dir), not TCP
        # ports that any local process can reach.
        "--KernelManager.transport=ipc",
    ]


def _accounts(db: Path) -> tuple[bool, str]:
    """(any users at all, the demo logins of this database): demo accounts use their username as password
    (``store.demo``), and only a database that holds them gets them printed."""
    from ..store import open_store
    from ..store.demo import DEMO_USERS

    with open_store(db) as store:
        demo = [(role, name) for role, name in DEMO_USERS.items() if store.get_user(name) is not None]
        return bool(store.list_users()), ", ".join(f"{name} / {name} ({role})" for role, name in demo)


def serve(db: Path, host: str, port: int) -> int:
    """Serve until stopped (does not return); the kernels find the database through ``LUNGDX_DB``."""
    env = dict(os.environ, LUNGDX_DB=str(db) if is_postgres_url(db) else str(Path(db).resolve()))
    for inherited_identity in (KERNEL_USER_ENV, VOILA_USER_ENV, SERVER_KERNEL_ENV):  # only the server names users
        env.pop(inherited_identity, None)
    url = f"http://{host}:{port}/"
    print(f"LungDx Workbench: {url}  (log in, then the dashboard opens; analysts also have {url}lab)", flush=True)
    has_users, demo_logins = _accounts(db)
    if demo_logins:
        print(f"Demo logins (this is a demo database): {demo_logins}", flush=True)
    if not has_users:
        print(f"No users in {db} yet: nobody can log in. Run `lungdx init --demo --db {db}` "
              "or `lungdx users add`.", flush=True)
    # Become the server (exec, not a child): signals such as SIGTERM then reach it directly and no
    # orphaned server keeps the port when `lungdx serve` is stopped.
    os.chdir(PROJECT_ROOT)
    argv = server_argv(host, port)
    os.execve(argv[0], argv, env)
