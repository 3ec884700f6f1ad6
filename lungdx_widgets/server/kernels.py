"""Kernels know whom they belong to, and clinicians' kernels only accept widget traffic.

* :class:`OwnedKernelManager` records the requesting user when a kernel starts (jupyter_server's
  ``CallContext`` carries the handler) and puts the username into the kernel's environment
  (``LUNGDX_USER`` and ``HTTP_X_LUNGDX_USER``), so :func:`lungdx_widgets.session.current_username`
  is right in JupyterLab too and cannot be set by the browser.
* :class:`RoleFilteredConnection` closes the socket once the session has ended, and drops, for clinicians, every incoming websocket message except
  what a Voila page needs. Voila as a server extension does *not* block ``execute_request``
  itself, and the dashboard kernel's id is visible in the page; a global
  ``allowed_message_types`` would break JupyterLab, hence the per-user filter.
"""

from __future__ import annotations

import json
import os
from typing import Any

from jupyter_server import CallContext
from jupyter_server.services.kernels.connection.base import (
    deserialize_binary_message,
    deserialize_msg_from_ws_v1,
)
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

from ..session import KERNEL_USER_ENV, VOILA_USER_ENV
from .identity import is_restricted

#: What a Voila page sends to its kernel; everything else (execute_request, complete, inspect,
#: history, input_reply, debug_request, ...) is dropped for clinicians.
CLINICIAN_MESSAGE_TYPES = frozenset({
    "comm_open", "comm_msg", "comm_close", "comm_info_request", "kernel_info_request", "shutdown_request",
})
_V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"


def _requesting_username() -> str | None:
    handler = CallContext.get(CallContext.JUPYTER_HANDLER)
    user = getattr(handler, "current_user", None)
    return getattr(user, "username", None)


class OwnedKernelManager(AsyncMappingKernelManager):
    """Remembers each kernel's owner; the authorizer and the route rules ask :meth:`owner_of`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owners: dict[str, str] = {}

    async def start_kernel(self, *, kernel_id: str | None = None, path: str | None = None,  # type: ignore[override]
                           **kwargs: Any) -> str:
        owner = _requesting_username()
        is_new = kernel_id is None or kernel_id not in self
        if owner and is_new:
            env = dict(kwargs.get("env") or os.environ)
            env[KERNEL_USER_ENV] = env[VOILA_USER_ENV] = owner
            kwargs["env"] = env
        kernel_id = await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        if owner and is_new:
            self._owners[kernel_id] = owner
        return kernel_id

    def owner_of(self, kernel_id: str) -> str | None:
        return self._owners.get(kernel_id) if kernel_id in self else None

    def remove_kernel(self, kernel_id: str) -> Any:
        self._owners.pop(kernel_id, None)
        return super().remove_kernel(kernel_id)


def incoming_msg_type(ws_msg: str | bytes, subprotocol: str | None) -> str | None:
    """The ``msg_type`` the kernel would see, parsed as the server parses it; None if unreadable."""
    try:
        if subprotocol == _V1_PROTOCOL:
            _channel, parts = deserialize_msg_from_ws_v1(ws_msg)
            header = json.loads(parts[0])
        else:
            msg = deserialize_binary_message(ws_msg) if isinstance(ws_msg, bytes) else json.loads(ws_msg)
            header = msg["header"]
        msg_type = header["msg_type"]
    except Exception:  # any malformed frame: unreadable means refused
        return None
    return msg_type if isinstance(msg_type, str) else None


class RoleFilteredConnection(ZMQChannelsWebsocketConnection):
    """Every incoming message re-checks the session (an open socket must not outlive a logout or a
    disabled account); clinicians' messages are also filtered by type."""

    def handle_incoming_message(self, incoming_msg: str) -> None:
        handler = self.websocket_handler
        if not handler.settings["identity_provider"].session_still_valid(handler):
            self.log.warning("Closing kernel websocket of %s: session ended",
                             getattr(handler.current_user, "username", "?"))
            handler.close(code=1008, reason="session ended")
            return
        user = handler.current_user
        if is_restricted(user):
            msg_type = incoming_msg_type(incoming_msg, self.subprotocol)
            if msg_type not in CLINICIAN_MESSAGE_TYPES:
                self.log.warning("Dropped %r message from %s on kernel %s", msg_type,
                                 getattr(user, "username", "?"), self.kernel_id)
                return
        super().handle_incoming_message(incoming_msg)
