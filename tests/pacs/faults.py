"""A fault-injecting HTTP proxy in front of the real Orthanc: 401/404/500, cut-off multipart bodies.

Real Orthanc does not fail on request, so this sits between the client and it and, for the
requests whose path matches, answers with the queued fault instead (or mangles the real answer).
"""

from __future__ import annotations

import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


class FaultProxy:
    """``faults``: queue of "500", "401", "404", "truncate" applied to requests whose path contains ``match``."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.faults: deque[str] = deque()
        self.match = ""
        self.requests: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.requests.append(f"{self.command} {self.path}")
                fault = proxy.faults.popleft() if proxy.faults and proxy.match in self.path else None
                if fault in ("500", "401", "404"):
                    payload = f"injected {fault}".encode()
                    self.send_response(int(fault))
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS | {"host"}}
                answer = requests.request(self.command, proxy.target + self.path, data=body, headers=headers,
                                          timeout=30)
                content = answer.content
                if fault == "truncate":  # a multipart answer cut off half-way (its final boundary missing)
                    content = content[: len(content) // 2]
                self.send_response(answer.status_code)
                for k, v in answer.headers.items():
                    if k.lower() not in HOP_HEADERS:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
