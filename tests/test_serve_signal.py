"""``lungdx serve`` stopped with SIGTERM (to its own pid, as systemd or ``kill`` does) frees the port.

Issue 15: a child ``jupyter_server`` kept holding the port after the launcher died. The launcher
now execs into the server, so the signal reaches the process that owns the socket; this test
sends SIGTERM to that one pid only (not its process group) and checks nothing is left listening.

It fails on the old launcher (``subprocess.call(server_argv(...))``: the child server keeps the port).
Checked by running this file from a copy of the tree with that launcher; run from a copy, the copy's
folder must come first on the path *and* the editable install's finder must be out of the way, else
``python -m lungdx_widgets.cli`` imports this checkout and the old code is never run (why the test
was once reported to pass on old code).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from .support import ARTIFACTS, free_port, wait_for_http

pytestmark = pytest.mark.browser  # starts a real server


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_sigterm_to_the_launcher_stops_the_server_and_frees_the_port(demo_db):
    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / "serve-signal.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "lungdx_widgets.cli", "serve", "--db", str(demo_db),
                                 "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/status", proc=proc)
        os.kill(proc.pid, signal.SIGTERM)  # this pid only: what `kill PID` or a service manager does
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while not _port_free(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _port_free(port), "something still holds the port after SIGTERM"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
