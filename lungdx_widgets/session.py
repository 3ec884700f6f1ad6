"""Who is acting: every view and edit is audited under this name.

The server (see ``lungdx_widgets.server``) authenticates the person and hands the kernel the
username: a Voila kernel receives it as ``HTTP_X_LUNGDX_USER`` (the server strips any
client-sent header of that name and sets it itself); kernels started from JupyterLab receive
``LUNGDX_USER``. ``HTTP_X_LUNGDX_USER`` counts only inside a kernel the server started (an IPython
kernel carrying ``LUNGDX_SERVER_KERNEL=1``): ``HTTP_X_LUNGDX_USER=dr_x lungdx export`` is not dr_x.
Outside the server (a plain ``jupyter lab``, a script) the OS user acts; the ``lungdx`` command
line always records :func:`cli_actor`, ``cli:<OS user>``.
The role is never taken from the environment: :func:`current_user` re-reads it from the store,
so disabling a user or changing a role takes effect at once.
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import TYPE_CHECKING, Protocol

from .errors import LungDxError

if TYPE_CHECKING:  # pragma: no cover - typing only; the store is a sibling core module
    from .store.records import User

#: Environment variable Voila derives from the ``X-LungDx-User`` request header.
VOILA_USER_ENV = "HTTP_X_LUNGDX_USER"
#: Environment variable the server's kernel manager sets for every kernel it starts.
KERNEL_USER_ENV = "LUNGDX_USER"
#: Set by the server's kernel manager in every kernel it starts.
SERVER_KERNEL_ENV = "LUNGDX_SERVER_KERNEL"
#: Set by Voila in every kernel it starts (its presence means "served to a browser").
_VOILA_MARKER_ENV = "VOILA_BASE_URL"


class NotLoggedIn(LungDxError):
    """No authenticated, enabled user is attached to this kernel."""


class _UserLookup(Protocol):
    def get_user(self, username: str) -> "User | None": ...


def current_username() -> str:
    """The logged-in user's name.

    A Voila kernel without the server-set header fails closed instead of falling back to the
    OS account, so an audit row is never written under the server's own name.
    """
    served = os.environ.get(VOILA_USER_ENV, "").strip() if in_server_kernel() else ""
    if served:
        return served
    if os.environ.get(_VOILA_MARKER_ENV):
        raise NotLoggedIn("This dashboard was opened without a login. Please log in again.")
    return os.environ.get(KERNEL_USER_ENV, "").strip() or getpass.getuser()


def in_server_kernel() -> bool:
    """This process is an IPython kernel that the LungDx server started (not a command, not a script)."""
    return os.environ.get(SERVER_KERNEL_ENV) == "1" and _in_ipython_kernel()


def _in_ipython_kernel() -> bool:
    """Asked of modules already loaded (the core imports no notebook library itself)."""
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    return "ipykernel" in sys.modules and get_ipython is not None and getattr(get_ipython(), "kernel", None) is not None


def cli_actor() -> str:
    """Who runs a ``lungdx`` command, for the audit log: the OS login (never an environment claim)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def current_user(store: _UserLookup) -> "User":
    """The store's record of the acting user (role and ``disabled`` as of now)."""
    username = current_username()
    user = store.get_user(username)
    if user is None:
        raise NotLoggedIn(f"User '{username}' is not known to LungDx. Ask an administrator for an account.")
    if user.disabled:
        raise NotLoggedIn(f"User '{username}' is disabled. Ask an administrator.")
    return user
