"""The kernel's side of the shared model: the same seam as ``ModelService``, answered by the server's process.

Imports only the standard library and numpy (never torch: that is the memory a kernel saves).
Every request has a timeout, so a stopped or stuck inference process becomes a message in the
dashboard ("AI analysis unavailable: …"), never a hang; the server restarts a process that died.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import LungDxError
from ..types import Findings, Radiograph
from . import ADDRESS_ENV, TOKEN_ENV, TOKEN_HEADER
from .wire import decode_findings, encode_pixels

#: Seconds to reach the process; it answers /health even while the network runs, so this stays short.
CONNECT_TIMEOUT_S = 5.0
DEFAULT_TIMEOUT_S = 120.0


class ModelServiceUnavailable(LungDxError):
    """The server's inference process cannot be reached or did not answer in time."""


class ModelServiceError(LungDxError):
    """The inference process answered with a model error (weights missing, out of memory, …)."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        sock.settimeout(self.timeout)
        self.sock = sock


@dataclass(frozen=True)
class RemoteAnalyzer:
    """What ``Analyzer`` offers the dashboard (version, labels, analyse), answered by the process."""

    client: "RemoteModelService"
    version: str
    labels: tuple[str, ...]
    reported_labels: tuple[str, ...]
    thresholds: dict[str, float]

    def analyze(self, radiograph: Radiograph) -> Findings:
        return self.client.analyze(radiograph)

    def analyze_batch(self, radiographs: list[Radiograph], *, heatmaps: bool = True) -> list[Findings]:
        """One request per film: the process batches concurrent requests itself."""
        return [self.client.analyze(r, heatmaps=heatmaps) for r in radiographs]


class RemoteModelService:
    """A :class:`~lungdx_widgets.services.ModelService` whose model lives in the server's inference process."""

    def __init__(self, address: str, token: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.address, self._token, self.timeout = address, token, timeout

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> "RemoteModelService | None":
        """The service the server announced to this kernel, or None when there is none."""
        env = dict(os.environ if env is None else env)
        address = env.get(ADDRESS_ENV)
        if not address:
            return None
        from ..config import get_settings

        return cls(address, env.get(TOKEN_ENV, ""), timeout=float(get_settings().model_service_timeout_seconds))

    def _request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        conn = _UnixConnection(self.address, self.timeout)
        try:
            conn.request(method, path, body=body, headers={TOKEN_HEADER: self._token,
                                                           "Content-Type": "application/octet-stream"})
            response = conn.getresponse()
            return response.status, response.read()
        except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError, BrokenPipeError,
                http.client.RemoteDisconnected) as exc:
            raise ModelServiceUnavailable("The AI model service is not running; the server restarts it "
                                          f"— try again in a minute ({type(exc).__name__}).") from None
        except TimeoutError:
            raise ModelServiceUnavailable(f"The AI model service did not answer within {self.timeout:.0f} s; "
                                          "try again when fewer analyses are running.") from None
        except (OSError, http.client.HTTPException) as exc:  # anything else on the way: still words, not a traceback
            raise ModelServiceUnavailable(f"The AI model service could not be reached ({type(exc).__name__}).") from None
        finally:
            conn.close()

    def _json(self, status: int, data: bytes) -> dict:
        try:
            doc = json.loads(data)
        except ValueError:
            doc = {}
        if status != 200:
            message = doc.get("error") or f"the model service answered HTTP {status}"
            raise ModelServiceError(message)
        return doc

    def get(self) -> RemoteAnalyzer:
        """The model the process uses now (it loads it on first ask; the registry is followed there)."""
        info = self._json(*self._request("GET", "/model"))
        return RemoteAnalyzer(self, info["version"], tuple(info["labels"]), tuple(info["reported_labels"]),
                              {k: float(v) for k, v in info["thresholds"].items()})

    def analyze(self, radiograph: Radiograph, *, heatmaps: bool = True) -> Findings:
        status, data = self._request("POST", f"/analyze?heatmaps={int(heatmaps)}", encode_pixels(radiograph.pixels))
        if status != 200:
            self._json(status, data)
        return decode_findings(data)

    def healthy(self) -> bool:
        try:
            return self._json(*self._request("GET", "/health")).get("ok") is True
        except LungDxError:
            return False

    def warm_up(self, before: Callable[[], None] = lambda: None) -> None:
        """Ask the process to load the model now, in a background thread (errors show on first real use)."""
        from ..services import warm_up_in_background

        warm_up_in_background(self.get, before)
