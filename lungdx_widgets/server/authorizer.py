"""What each role may do through jupyter_server's REST and websocket APIs.

Only handlers decorated with ``@authorized`` ask this (``/api/contents``, ``/api/kernels``,
``/api/sessions``, terminals, ...); ``/lab`` and ``/voila/*`` never do, which is why clinicians are
also held to a path allowlist in :mod:`.identity`. This is the second, independent layer:

* admin — everything;
* analyst — everything except server administration (shutting the server down);
* clinician — only reading from and talking to kernels they started themselves (the dashboard's),
  and reporting Content-Security-Policy violations.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth import Authorizer
from tornado import web

from ..policy import Permission, can
from .identity import is_restricted


def _kernel_id(handler: web.RequestHandler) -> str | None:
    """The kernel a request is about: websocket handlers keep it on ``kernel_id``."""
    return getattr(handler, "kernel_id", None) or (handler.path_kwargs or {}).get("kernel_id")


class RoleAuthorizer(Authorizer):
    def is_authorized(self, handler: web.RequestHandler, user: Any, action: str, resource: str) -> bool:
        role = getattr(user, "role", None)
        if can(role, Permission.MANAGE_SERVER):
            return True
        if can(role, Permission.USE_SERVER):
            return resource != "server"
        if resource == "csp" and action == "write":
            return True  # any logged-in page may report a Content-Security-Policy violation (it is logged)
        if not is_restricted(user) or resource != "kernels" or action not in ("read", "execute"):
            return False
        kernel_id = _kernel_id(handler)
        owner_of = getattr(handler.settings.get("kernel_manager"), "owner_of", None)
        return bool(kernel_id and owner_of and owner_of(kernel_id) == user.username)
