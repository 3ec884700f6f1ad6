"""``lungdx serve`` owns one inference process: started with the server, restarted when killed, stopped with it."""

from __future__ import annotations

import os
import signal
import time

import psutil

from lungdx_widgets.inference import TOKEN_ENV
from lungdx_widgets.inference.client import RemoteModelService
from lungdx_widgets.store import open_store

from ..support import child_processes, listening_pid, running_server


def _inference_children(server: psutil.Process) -> list[psutil.Process]:
    """Live inference processes of the server (a killed one stays a zombie until the supervisor reaps it)."""
    return child_processes(server, "lungdx_widgets.inference.process")


def _wait_for(predicate, limit_s: float, what: str):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(what)


def _client(proc: psutil.Process) -> RemoteModelService:
    argv = proc.cmdline()
    return RemoteModelService(argv[argv.index("--socket") + 1], proc.environ()[TOKEN_ENV], timeout=30)


def test_serve_starts_supervises_and_stops_its_inference_process(tmp_path):
    db = tmp_path / "serve.db"
    open_store(db).close()
    with running_server(db, log=tmp_path / "server.log") as base:
        server = psutil.Process(listening_pid(base))
        first = _wait_for(lambda: _inference_children(server), 30, "the server started no inference process")[0]
        client = _client(first)
        assert os.stat(os.path.dirname(client.address)).st_mode & 0o077 == 0, "socket folder is private"
        _wait_for(client.healthy, 60, "the inference process never answered")

        first.kill()  # a crash: the supervisor starts a new one on the same socket
        second = _wait_for(lambda: [c for c in _inference_children(server) if c.pid != first.pid], 30,
                           "the killed inference process was not restarted")[0]
        assert _client(second).address == client.address
        _wait_for(client.healthy, 60, "the restarted inference process never answered")
        assert "restarting" in (tmp_path / "server.log").read_text()

        os.kill(server.pid, signal.SIGTERM)  # the server alone, not its process group
        _wait_for(lambda: not second.is_running() or second.status() == psutil.STATUS_ZOMBIE, 30,
                  "the inference process outlived the server")
        # the server removes the socket folder after its child has gone: wait for it, do not race it
        _wait_for(lambda: not os.path.exists(client.address), 30, "the socket outlived the server")
