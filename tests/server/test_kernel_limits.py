"""Kernels as a resource and as a channel: per-user caps, never-connected culling, private IPC sockets.

One server of its own (small limits so the test is quick): each dashboard GET starts a ~0.9 GB kernel.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lungdx_widgets.server.routes import DASHBOARD_PATH
from lungdx_widgets.store import open_store

from . import kernel_ws
from ..support import login_session, running_server
from .conftest import kernel_id_of

pytestmark = pytest.mark.slow

USERS = {"dr_cap": "clinician", "dr_quiet": "clinician", "ad_watch": "admin"}


def pw(name: str) -> str:
    return f"{name}-password-1"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("kernels")
    with open_store(root / "k.db") as store:
        for name, role in USERS.items():
            store.add_user(name, pw(name), role)
    env = {"JUPYTER_RUNTIME_DIR": str(root / "runtime"), "LUNGDX_KERNELS_PER_USER": "2",
           "LUNGDX_KERNEL_UNCONNECTED_SECONDS": "5"}
    with running_server(root / "k.db", env=env) as url:
        yield url


def running_kernels(base: str) -> set[str]:
    admin = login_session(base, "ad_watch", pw("ad_watch"))
    return {k["id"] for k in admin.get(base + "/api/kernels", timeout=30).json()}


def open_dashboard(session: requests.Session, base: str) -> requests.Response:
    return session.get(base + DASHBOARD_PATH, timeout=300)


def test_a_clinician_holds_at_most_the_cap_and_a_reload_replaces_an_unconnected_kernel(base):
    me = login_session(base, "dr_cap", pw("dr_cap"))
    first = kernel_id_of(open_dashboard(me, base).text)
    ws_first = kernel_ws.connect(base, me, first)
    try:
        second = kernel_id_of(open_dashboard(me, base).text)  # never connected, like a reloaded page
        third = kernel_id_of(open_dashboard(me, base).text)
        assert {first, third} <= running_kernels(base) and second not in running_kernels(base)
        ws_third = kernel_ws.connect(base, me, third)
        try:  # both kernels in use: a further dashboard is refused with a reason, not started
            r = open_dashboard(me, base)
            assert r.status_code == 429 and "You already have 2 open dashboards: close one" in r.text  # what to do
            korean = me.get(base + DASHBOARD_PATH, timeout=300, headers={"Accept-Language": "ko"})  # the reader's language
            assert korean.status_code == 429 and "이미 대시보드 2개가 열려 있습니다" in korean.content.decode()
            assert running_kernels(base) >= {first, third} and len(running_kernels(base)) == 2
        finally:
            ws_third.close()
    finally:
        ws_first.close()


def test_a_kernel_no_page_ever_connected_to_is_culled_within_a_minute(base):
    connected_before = running_kernels(base)  # the previous test's kernels: connected once, kept
    quiet = kernel_id_of(open_dashboard(login_session(base, "dr_quiet", pw("dr_quiet")), base).text)
    assert quiet in running_kernels(base)
    deadline = time.monotonic() + 60
    while quiet in running_kernels(base) and time.monotonic() < deadline:
        time.sleep(2)
    assert quiet not in running_kernels(base)
    assert connected_before <= running_kernels(base)


def _iopub_address(info: dict) -> str:
    if info["transport"] == "ipc":
        return f"ipc://{info['ip']}-{info['iopub_port']}"
    return f"tcp://{info['ip']}:{info['iopub_port']}"


def _listen(address: str, seconds: float) -> int:
    """Subscribe to everything on ``address`` and count the frames heard within ``seconds``."""
    import zmq

    sock = zmq.Context().socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(address)
    heard, deadline = 0, time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if sock.poll(int(left * 1000)):
            heard += len(sock.recv_multipart())
    return heard


def _probe(address: str, as_nobody: bool, seconds: float = 8) -> tuple[int, int]:
    """A second local process (forked; as Unix user ``nobody`` or as us) listening to iopub.
    Returns (pid, read end of a pipe that receives the count)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the probe process
        code = 1
        try:
            os.close(read)
            if as_nobody:
                os.setgid(65534)
                os.setuid(65534)
            os.write(write, str(_listen(address, seconds)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    return pid, read


def _heard(probe: tuple[int, int]) -> int:
    pid, read = probe
    with os.fdopen(read) as fh:
        text = fh.read()
    os.waitpid(pid, 0)
    return int(text)


def _connection_file(kernel_id: str) -> Path:
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        for arg in cmd:
            if arg.endswith(f"kernel-{kernel_id}.json"):
                return Path(arg)
    raise AssertionError(f"no process runs kernel {kernel_id}")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the probe as another Unix user")
def test_another_local_user_cannot_read_a_kernels_iopub(base):
    admin = login_session(base, "ad_watch", pw("ad_watch"))
    xsrf = {"X-XSRFToken": admin.cookies["_xsrf"]}
    kernel_id = admin.post(base + "/api/kernels", json={}, headers=xsrf, timeout=60).json()["id"]
    cf = _connection_file(kernel_id)
    info = json.loads(cf.read_text())
    assert info["transport"] == "ipc"
    assert (cf.parent.stat().st_mode & 0o777) == 0o700
    address = _iopub_address(info)
    probes = {"nobody": _probe(address, as_nobody=True), "owner": _probe(address, as_nobody=False)}
    time.sleep(2)  # both subscribed before the kernel speaks
    ws = kernel_ws.connect(base, admin, kernel_id)
    try:
        out = kernel_ws.stdout_of(kernel_ws.execute(ws, "print('contact: +82 10 1234 5678')", seconds=60))
    finally:
        ws.close()
    assert "5678" in out
    received = {who: _heard(p) for who, p in probes.items()}
    admin.delete(base + f"/api/kernels/{kernel_id}", headers=xsrf, timeout=30)
    # the owner's own process does hear the kernel (so the probe works); another user hears nothing
    assert received["owner"] > 0 and received["nobody"] == 0
