"""The dashboard kernel over its websocket: clinicians can drive widgets, never run code.

Voila as a server extension does not block ``execute_request`` itself, and the kernel id is in the
page, so without the per-user filter a clinician could run anything as the server's Unix user.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import kernel_ws
from lungdx_widgets.store import open_store

from .conftest import ADMIN, ANALYST, CLINICIAN, REVOKED, as_user

pytestmark = pytest.mark.slow

WHO_AM_I = ("import os; from lungdx_widgets.session import current_username;"
            " print(os.environ.get('HTTP_X_LUNGDX_USER'), os.environ.get('LUNGDX_USER'), current_username())")


@pytest.mark.parametrize("protocol", ["", kernel_ws.V1])
def test_clinician_execute_request_has_no_effect(server, clinician_dashboard, tmp_path: Path, protocol):
    session, kernel_id = clinician_dashboard
    marker = tmp_path / f"ran-{'v1' if protocol else 'json'}.txt"
    code = f"open({str(marker)!r}, 'w').write('pwned')"
    ws = kernel_ws.connect(server.base, session, kernel_id, protocol=protocol)
    try:
        # the socket works for what Voila needs ...
        info = kernel_ws.replies_to(ws, kernel_ws.send(ws, "kernel_info_request", {}), seconds=20)
        assert [m["msg_type"] for m in info if m["msg_type"].endswith("_reply")] == ["kernel_info_reply"]
        comms = kernel_ws.replies_to(ws, kernel_ws.send(ws, "comm_info_request", {}), seconds=20)
        assert any(m["msg_type"] == "comm_info_reply" for m in comms)
        # ... but code and introspection go nowhere
        assert kernel_ws.execute(ws, code, seconds=4) == []
        assert kernel_ws.replies_to(ws, kernel_ws.send(ws, "complete_request", {"code": "os.", "cursor_pos": 3}),
                                    seconds=2) == []
    finally:
        ws.close()
    assert not marker.exists()
    # the same code from an admin does run: the refusal above was the filter, not broken code
    admin_ws = kernel_ws.connect(server.base, as_user(server, ADMIN), kernel_id, protocol=protocol)
    try:
        assert any(m["msg_type"] == "execute_reply" for m in kernel_ws.execute(admin_ws, code))
    finally:
        admin_ws.close()
    assert marker.read_text() == "pwned"


def test_kernel_knows_the_real_user_despite_a_forged_header(server, clinician_dashboard):
    """The dashboard was requested with ``X-LungDx-User: <admin>``; the kernel must still see the clinician."""
    _session, kernel_id = clinician_dashboard
    ws = kernel_ws.connect(server.base, as_user(server, ADMIN), kernel_id)
    try:
        out = kernel_ws.stdout_of(kernel_ws.execute(ws, WHO_AM_I)).split()
    finally:
        ws.close()
    assert out == [CLINICIAN[0]] * 3


def test_jupyterlab_kernel_knows_the_analyst(server):
    """Kernels started from JupyterLab get the owner's name from the server, not from the browser."""
    session = as_user(server, ANALYST)
    xsrf = {"X-XSRFToken": session.cookies["_xsrf"], "X-LungDx-User": ADMIN[0]}
    r = session.post(server.base + "/api/kernels", json={"name": "python3"}, headers=xsrf, timeout=60)
    assert r.status_code == 201
    kernel_id = r.json()["id"]
    try:
        ws = kernel_ws.connect(server.base, session, kernel_id, protocol=kernel_ws.V1)
        try:
            out = kernel_ws.stdout_of(kernel_ws.execute(ws, WHO_AM_I, seconds=60)).split()
        finally:
            ws.close()
    finally:
        session.delete(server.base + f"/api/kernels/{kernel_id}", headers=xsrf, timeout=30)
    assert out == [ANALYST[0]] * 3


def test_open_websocket_dies_with_the_account(server):
    """Disabling a user also ends the kernel connection they already had open."""
    session = as_user(server, REVOKED)
    xsrf = {"X-XSRFToken": session.cookies["_xsrf"]}
    kernel_id = session.post(server.base + "/api/kernels", json={}, headers=xsrf, timeout=60).json()["id"]
    ws = kernel_ws.connect(server.base, session, kernel_id, protocol=kernel_ws.V1)
    try:
        assert kernel_ws.execute(ws, "print(6 * 7)", seconds=60)  # the socket works ...
        with open_store(server.db) as store:
            store.set_user_disabled(REVOKED[0], True, actor=ADMIN[0])
        assert kernel_ws.execute(ws, "print(6 * 7)", seconds=3) == []  # ... and then it does not
        assert not ws.connected
    finally:
        ws.close()
        admin = as_user(server, ADMIN)
        admin.delete(server.base + f"/api/kernels/{kernel_id}", headers={"X-XSRFToken": admin.cookies["_xsrf"]},
                     timeout=30)


def test_upload_sized_messages_pass_the_websocket(server, clinician_dashboard):
    """A 30 MB DICOM reaches the kernel as one comm message; tornado's default limit is 10 MiB."""
    session, kernel_id = clinician_dashboard
    ws = kernel_ws.connect(server.base, session, kernel_id, protocol=kernel_ws.V1)
    try:
        kernel_ws.send(ws, "comm_msg", {"comm_id": "no-such-comm", "data": {"method": "update", "state": {}}},
                       buffers=[bytes(30 * 1024 * 1024)])
        info = kernel_ws.replies_to(ws, kernel_ws.send(ws, "kernel_info_request", {}), seconds=30)
        assert any(m["msg_type"] == "kernel_info_reply" for m in info)
        assert ws.connected
    finally:
        ws.close()
