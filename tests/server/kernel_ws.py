"""A minimal kernel websocket client speaking both wire protocols, to talk to kernels as a browser would.

JupyterLab and Voila use ``v1.kernel.websocket.jupyter.org`` (binary frames); older clients send
JSON text frames. The server's filter must hold for both, so the tests use both.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import requests
import websocket
from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1, serialize_msg_to_ws_v1

V1 = "v1.kernel.websocket.jupyter.org"


def cookie_header(session: requests.Session) -> str:
    return "; ".join(f"{name}={value}" for name, value in session.cookies.items())


def connect(base_url: str, session: requests.Session, kernel_id: str, protocol: str = "",
            timeout: float = 30) -> websocket.WebSocket:
    """Open ``/api/kernels/<id>/channels`` with the session's cookies (raises on a refused handshake)."""
    ws_url = base_url.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4()}"
    return websocket.create_connection(ws_url, header=[f"Cookie: {cookie_header(session)}"], origin=base_url,
                                       timeout=timeout, subprotocols=[protocol] if protocol else None)


def send(ws: websocket.WebSocket, msg_type: str, content: dict[str, Any], channel: str = "shell",
         buffers: list[bytes] | None = None) -> str:
    """Send one message; ``buffers`` (binary attachments, as widget uploads use) need the v1 protocol."""
    msg_id = uuid.uuid4().hex
    msg = {"header": {"msg_id": msg_id, "msg_type": msg_type, "username": "test", "session": uuid.uuid4().hex,
                      "date": "", "version": "5.3"},
           "parent_header": {}, "metadata": {}, "content": content}
    if ws.getsubprotocol() == V1:
        parts = [json.dumps(msg[k]).encode() for k in ("header", "parent_header", "metadata", "content")]
        ws.send_binary(serialize_msg_to_ws_v1(parts + list(buffers or []), channel))
    else:
        assert not buffers, "binary buffers need the v1 protocol"
        ws.send(json.dumps({**msg, "channel": channel, "buffers": []}))
    return msg_id


def _decode(frame: str | bytes) -> dict[str, Any]:
    if isinstance(frame, bytes):
        _channel, parts = deserialize_msg_from_ws_v1(frame)
        header, parent, _metadata, content = (json.loads(p) for p in parts[:4])
        return {"header": header, "msg_type": header["msg_type"], "parent_header": parent, "content": content}
    return json.loads(frame)


def replies_to(ws: websocket.WebSocket, msg_id: str, seconds: float) -> list[dict[str, Any]]:
    """Every message answering ``msg_id`` within ``seconds``.

    Stops once both the reply and the kernel's ``idle`` status are in: shell and iopub are separate
    channels, so output may arrive after the reply, but never after ``idle``.
    """
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ws.settimeout(left)
        try:
            frame = ws.recv()
        except (websocket.WebSocketTimeoutException, TimeoutError, websocket.WebSocketConnectionClosedException):
            break
        if not frame or not ws.connected:  # the server closed the socket
            break
        msg = _decode(frame)
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            found.append(msg)
            replied = any(m["msg_type"].endswith("_reply") for m in found)
            if replied and any(m["msg_type"] == "status" and m["content"].get("execution_state") == "idle"
                               for m in found):
                break
    return found


def execute(ws: websocket.WebSocket, code: str, seconds: float = 30) -> list[dict[str, Any]]:
    return replies_to(ws, send(ws, "execute_request", {"code": code, "silent": False, "store_history": False,
                                                        "user_expressions": {}, "allow_stdin": False}), seconds)


def stdout_of(messages: list[dict[str, Any]]) -> str:
    return "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
