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

import atexit
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_server import CallContext
from jupyter_server._tz import utcnow
from jupyter_server.services.kernels.connection.base import (
    deserialize_binary_message,
    deserialize_msg_from_ws_v1,
)
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.utils import ApiPath, ensure_async
from tornado import web

from ..config import get_settings
from ..i18n import N_, choose_language, gettext
from ..session import KERNEL_USER_ENV, SERVER_KERNEL_ENV, VOILA_USER_ENV
from .identity import is_restricted
from .tracebacks import scrub

#: What a Voila page sends to its kernel; everything else (execute_request, complete, inspect,
#: history, input_reply, debug_request, ...) is dropped for clinicians.
CLINICIAN_MESSAGE_TYPES = frozenset({
    "comm_open", "comm_msg", "comm_close", "comm_info_request", "kernel_info_request", "shutdown_request",
})
_V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"


def private_kernel_dir() -> Path:
    """A fresh folder only the server's Unix user can enter (0700), for kernels' IPC sockets.

    Kept short (``$XDG_RUNTIME_DIR`` or the temp folder): a Unix socket path may not exceed ~107 bytes.
    """
    base = os.environ.get("XDG_RUNTIME_DIR", "")
    path = Path(tempfile.mkdtemp(prefix="lungdx-k-", dir=base if os.path.isdir(base) else None))
    path.chmod(0o700)
    atexit.register(_remove_if_empty, path)  # also when shutdown_all is never reached
    return path


def _remove_if_empty(path: Path | str) -> None:
    try:
        os.rmdir(path)  # empty once every kernel has cleaned up its files
    except OSError:
        pass


def _requesting_handler() -> Any:
    return CallContext.get(CallContext.JUPYTER_HANDLER)


def _requesting_user() -> Any:
    return getattr(_requesting_handler(), "current_user", None)


def _reader_language() -> str:
    """The requesting account's language, else its browser's (for a page the server writes itself)."""
    handler = _requesting_handler()
    accept = handler.request.headers.get("Accept-Language") if handler is not None else None
    return choose_language(getattr(_requesting_user(), "language", "") or None, accept)


class TooManyKernels(web.HTTPError):
    """A clinician already has ``Settings.kernels_per_user`` dashboards open and connected."""

    def __init__(self, limit: int, lang: str) -> None:
        message = gettext(N_("You already have {limit} open dashboards: close one (or wait a minute) and reload."),
                          lang).format(limit=limit)
        super().__init__(429, message, reason="Too many open dashboards")


class OwnedKernelManager(AsyncMappingKernelManager):
    """Remembers each kernel's owner; the authorizer and the route rules ask :meth:`owner_of`.

    Each dashboard GET starts a kernel (~0.15 GB; ~0.9 GB when it loads its own model) whether or not a page ever
    connects to it. So clinicians hold at most ``Settings.kernels_per_user`` kernels (a new one
    first shuts down their oldest kernels without a connection: a reload replaces the page it
    reloads), and a kernel no websocket ever connected to is culled once it has been quiet for
    ``Settings.kernel_unconnected_seconds`` (checked every ``cull_interval``).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Connection files and IPC sockets (launch uses transport=ipc) where only this user can go.
        self.connection_dir = str(private_kernel_dir())
        self._owners: dict[str, str] = {}
        self._started: dict[str, float] = {}
        self._ever_connected: set[str] = set()

    async def start_kernel(self, *, kernel_id: str | None = None, path: ApiPath | None = None,  # type: ignore[override]
                           **kwargs: Any) -> str:
        user = _requesting_user()
        owner = getattr(user, "username", None)
        is_new = kernel_id is None or kernel_id not in self
        if owner and is_new:
            if is_restricted(user):
                await self._make_room_for(owner)
            env = dict(kwargs.get("env") or os.environ)
            env[KERNEL_USER_ENV] = env[VOILA_USER_ENV] = owner
            env[SERVER_KERNEL_ENV] = "1"
            kwargs["env"] = env
        kernel_id = await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        if owner and is_new:
            self._owners[kernel_id] = owner
            self._started[kernel_id] = time.monotonic()
        return kernel_id

    def kernels_of(self, owner: str) -> list[str]:
        """The owner's running kernels, oldest first."""
        mine = [k for k, o in self._owners.items() if o == owner and k in self]
        return sorted(mine, key=lambda k: self._started.get(k, 0.0))

    async def _make_room_for(self, owner: str) -> None:
        """Shut down the owner's oldest unconnected kernels until one more fits; refuse if none may go."""
        limit = get_settings().kernels_per_user
        mine = self.kernels_of(owner)
        spare = [k for k in mine if not self._kernel_connections.get(k, 0)]
        while len(mine) >= limit and spare:
            victim = spare.pop(0)
            self.log.warning("Shutting down unconnected kernel %s of %s: at most %d per user", victim, owner, limit)
            await ensure_async(self.shutdown_kernel(victim))
            mine.remove(victim)
        if len(mine) >= limit:
            raise TooManyKernels(limit, _reader_language())

    def notify_connect(self, kernel_id: str) -> None:
        self._ever_connected.add(kernel_id)
        super().notify_connect(kernel_id)

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        """Also cull kernels that no page ever connected to once they are quiet (render finished)."""
        kernel = self._kernels[kernel_id]
        if (kernel_id in self._owners and kernel_id not in self._ever_connected
                and getattr(kernel, "execution_state", None) != "busy"
                and _quiet_seconds(kernel) > get_settings().kernel_unconnected_seconds):
            self.log.warning("Culling kernel %s of %s: no page connected to it", kernel_id, self._owners[kernel_id])
            await ensure_async(self.shutdown_kernel(kernel_id))
            return
        await super().cull_kernel_if_idle(kernel_id)

    # jupyter_client types shutdown_all by its sync MultiKernelManager; on the async managers it is a coroutine
    async def shutdown_all(self, now: bool = False) -> None:  # type: ignore[override]
        await super().shutdown_all(now=now)
        _remove_if_empty(self.connection_dir)

    def owner_of(self, kernel_id: str) -> str | None:
        return self._owners.get(kernel_id) if kernel_id in self else None

    def remove_kernel(self, kernel_id: str) -> Any:
        self._owners.pop(kernel_id, None)
        self._started.pop(kernel_id, None)
        self._ever_connected.discard(kernel_id)
        return super().remove_kernel(kernel_id)


def _quiet_seconds(kernel: Any) -> float:
    """Seconds since the kernel's last message (jupyter_server records ``last_activity`` in UTC)."""
    last = getattr(kernel, "last_activity", None)
    return (utcnow() - last).total_seconds() if last is not None else 0.0


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

    def _on_zmq_reply(self, stream: Any, msg_list: Any) -> None:
        """Clinicians get a message instead of a traceback; the log keeps the traceback."""
        if is_restricted(self.websocket_handler.current_user):
            msg_list = self._without_traceback(msg_list)
        super()._on_zmq_reply(stream, msg_list)

    def _without_traceback(self, msg: Any) -> Any:
        """The message as sent, or with its traceback replaced (JSON dict or v1 frame list)."""
        if isinstance(msg, dict):
            msg_type, content = msg["header"].get("msg_type", ""), msg.get("content") or {}
        else:
            msg_type = self.session.unpack(_as_bytes(msg[0])).get("msg_type", "")
            if msg_type not in _MAY_CARRY_TRACEBACK and not msg_type.endswith("_reply"):
                return msg
            content = self.session.unpack(_as_bytes(msg[3]))
        result = scrub(msg_type, content)
        if result is None:
            return msg
        safe, original = result
        self.log.warning("Kernel %s: %s for %s shown as a message; original:\n%s", self.kernel_id, msg_type,
                         getattr(self.websocket_handler.current_user, "username", "?"), original)
        if isinstance(msg, dict):
            return {**msg, "content": safe}
        return [msg[0], msg[1], msg[2], self.session.pack(safe), *msg[4:]]


_MAY_CARRY_TRACEBACK = frozenset({"error", "stream"})


def _as_bytes(frame: Any) -> bytes:
    return frame.bytes if hasattr(frame, "bytes") else bytes(frame)
