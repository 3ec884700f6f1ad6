"""What the server tells a clinician's browser when something goes wrong: a message, never internals."""

from __future__ import annotations

import json
import time

import pytest
import requests

from lungdx_widgets.server.routes import DASHBOARD_PATH
from lungdx_widgets.server.tracebacks import CLIENT_MESSAGE

from . import kernel_ws
from .conftest import ADMIN, ANALYST, CLINICIAN, Server, as_user

pytestmark = pytest.mark.slow

FAILING_CALLBACK = ("import sys; print('stderr-marker-7Q', file=sys.stderr, flush=True)\n"
                    "raise ValueError('traceback-marker-7Q in /srv/lungdx/secret_path.py')")


def _log_has(server: Server, text: str, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in server.log.read_text(errors="replace"):
            return True
        time.sleep(0.5)
    return False


@pytest.mark.parametrize("protocol", ["", kernel_ws.V1])
def test_kernel_tracebacks_reach_a_clinician_as_a_message_and_the_log_in_full(server, clinician_dashboard, protocol):
    session, kernel_id = clinician_dashboard
    clinician_ws = kernel_ws.connect(server.base, session, kernel_id, protocol=protocol)
    admin_ws = kernel_ws.connect(server.base, as_user(server, ADMIN), kernel_id, protocol=protocol)
    try:
        time.sleep(1)  # both subscribed to iopub
        msg_id = kernel_ws.send(admin_ws, "execute_request", {"code": FAILING_CALLBACK, "silent": False,
                                                              "store_history": False, "user_expressions": {},
                                                              "allow_stdin": False})
        admin_sees = kernel_ws.replies_to(admin_ws, msg_id, seconds=30)
        clinician_sees = kernel_ws.replies_to(clinician_ws, msg_id, seconds=5)
    finally:
        clinician_ws.close()
        admin_ws.close()
    assert "traceback-marker-7Q" in json.dumps(admin_sees)  # there was a traceback to hide
    errors = [m for m in clinician_sees if m["msg_type"] == "error"]
    assert errors and errors[0]["content"]["traceback"] == [CLIENT_MESSAGE]
    streams = [m["content"]["text"] for m in clinician_sees if m["msg_type"] == "stream"]
    assert streams and all(CLIENT_MESSAGE in text for text in streams)
    leaked = json.dumps([m for m in clinician_sees if m["msg_type"] != "execute_input"])  # the admin's code
    assert "marker-7Q" not in leaked and "secret_path" not in leaked
    assert _log_has(server, "secret_path.py")  # the traceback went to the server log


@pytest.mark.parametrize("user", [CLINICIAN, ANALYST])
@pytest.mark.parametrize("query", ["template=../..", "template=%2e%2e%2f%2e%2e", "theme=../../etc"])
def test_template_or_theme_paths_are_a_400_not_a_500(server, user, query):
    r = as_user(server, user).get(f"{server.base}{DASHBOARD_PATH}?{query}", allow_redirects=False, timeout=60)
    assert r.status_code == 400


def test_csp_reports_from_a_clinicians_page_are_accepted_and_logged(server):
    report = {"csp-report": {"document-uri": server.base + DASHBOARD_PATH,
                             "blocked-uri": "https://cdn.example/csp-marker-3Zk.css"}}
    r = as_user(server, CLINICIAN).post(server.base + "/api/security/csp-report", timeout=30,
                                        data=json.dumps(report), headers={"Content-Type": "application/csp-report"})
    assert r.status_code < 300
    assert _log_has(server, "csp-marker-3Zk")
    assert requests.post(server.base + "/api/security/csp-report", data="{}", timeout=30).status_code == 403
