"""Helpers for tests that need a real server and a real headless Chromium (Debian's)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).parent / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 90.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers (401/403/302 are answers)
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {timeout}s")


@contextmanager
def running_server(db: Path, env: dict[str, str] | None = None, log: Path | None = None) -> Iterator[str]:
    """Run ``lungdx serve`` on a free port; yield its base URL; stop it afterwards."""
    port = free_port()
    full_env = dict(os.environ, **(env or {}))
    log = log or (ARTIFACTS / f"server-{port}.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "lungdx_widgets.cli", "serve", "--db", str(db),
                                 "--port", str(port)], env=full_env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/api/status", proc=proc)
        yield base
    finally:
        import signal
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # the server is already gone (a test killed it on purpose)
            proc.wait(timeout=15)


def listening_pid(base_url: str) -> int:
    """The pid of the process listening on ``base_url``'s port (the server, once ``lungdx serve`` has exec'd)."""
    import psutil

    port = int(base_url.rsplit(":", 1)[1])
    return next(c.pid for c in psutil.net_connections("tcp")
                if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN)


def child_processes(parent, marker: str, recursive: bool = False) -> list:
    """``parent``'s live children whose command line contains ``marker`` (zombies and vanished ones skipped)."""
    import psutil

    found = []
    for child in parent.children(recursive=recursive):
        try:
            if marker in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


# -- logging in (the server refuses everything else first) ------------------------------------

class LoginFailed(AssertionError):
    """The login form answered with something other than a redirect into the app."""


def xsrf_token(session: "requests.Session", base_url: str) -> str:
    """GET the login form once so the ``_xsrf`` cookie exists; the form field must echo it."""
    session.get(base_url + "/login", timeout=30)
    return session.cookies.get("_xsrf", "")


def login_session(base_url: str, username: str, password: str) -> "requests.Session":
    """A ``requests.Session`` holding a fresh login cookie (raw HTTP: no browser involved)."""
    import requests

    session = requests.Session()
    token = xsrf_token(session, base_url)
    r = session.post(base_url + "/login", data={"username": username, "password": password, "_xsrf": token},
                     allow_redirects=False, timeout=60)
    if r.status_code != 302:
        raise LoginFailed(f"login as {username!r} answered {r.status_code}")
    return session


def login(page, base_url: str, username: str, password: str, next_path: str = "",
          timeout_ms: float = 120_000) -> None:
    """Log in through the real form in a Playwright ``page``; returns once the app page loads.

    ``next_path`` (e.g. a notebook URL) is where the form sends the user instead of the landing page.
    """
    from urllib.parse import quote

    page.goto(base_url + "/login" + (f"?next={quote(next_path)}" if next_path else ""))
    page.fill("#username", username)
    page.fill("#password", password)
    # Voila sends the page only as fast as the notebook runs: allow for a busy 2-core machine.
    with page.expect_navigation(timeout=timeout_ms):
        page.click("#login-submit")
    if "/login" in page.url:
        raise LoginFailed(f"login as {username!r} stayed on the login page")
