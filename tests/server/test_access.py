"""Every door of the served app, tried with raw HTTP as an attacker would (no browser)."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import sqlite3
import time
from urllib.parse import urlsplit

import pytest
import requests
import websocket
from tornado.web import create_signed_value

from lungdx_widgets.server.routes import DASHBOARD_PATH
from lungdx_widgets.store import open_store

from . import kernel_ws
from .conftest import ADMIN, ANALYST, CLINICIAN, FORGETFUL, LOCUM, OTHER_CLINICIAN, TARGET, USERS, Server, as_user

pytestmark = pytest.mark.slow


def raw_get(server: Server, path: str, session: requests.Session | None = None) -> int:
    """GET ``path`` exactly as written (requests/urllib would normalise ``..`` and ``%2E``)."""
    netloc = urlsplit(server.base).netloc
    conn = http.client.HTTPConnection(netloc, timeout=30)
    headers = {"Cookie": kernel_ws.cookie_header(session)} if session else {}
    conn.request("GET", path, headers=headers)
    status = conn.getresponse().status
    conn.close()
    return status


# -- before login ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/lab", DASHBOARD_PATH, "/tree", "/voila/tree", "/files/README.md"])
def test_anonymous_pages_redirect_to_login(server, path):
    r = requests.get(server.base + path, allow_redirects=False, timeout=30)
    assert r.status_code == 302
    location = r.headers["Location"]
    if path == "/":  # → dashboard, which in turn sends to the login page
        r = requests.get(server.base + location, allow_redirects=False, timeout=30)
        location = r.headers["Location"]
    assert location.startswith("/login?next=")


@pytest.mark.parametrize("path", [
    "/api", "/api/status", "/api/me", "/api/contents", "/api/kernels", "/api/sessions", "/api/terminals",
    "/api/kernelspecs", "/voila/static/voila.js", "/voila/templates/lab/static/index.css",
    "/voila/files/notebooks/dashboard.ipynb", "/voila/api/themes/x", "/lab/api/settings",
])
def test_anonymous_api_static_and_files_are_refused(server, path):
    assert requests.get(server.base + path, allow_redirects=False, timeout=30).status_code == 403


def test_anonymous_cannot_start_kernels_or_open_websockets(server, clinician_dashboard):
    _session, kernel_id = clinician_dashboard
    assert requests.post(server.base + "/api/kernels", json={}, timeout=30).status_code == 403
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        kernel_ws.connect(server.base, requests.Session(), kernel_id)
    assert refused.value.status_code == 403
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(server.base.replace("http", "ws") + "/terminals/websocket/1", timeout=10)


def test_forged_or_expired_cookies_are_refused(server):
    name = "lungdx-session-username-" + urlsplit(server.base).netloc.replace(".", "-").replace(":", "-")
    key = (server.db.parent / "runtime" / "jupyter_cookie_secret").read_bytes()
    secret = hmac.new(key, b"", hashlib.sha256).digest()  # how jupyter_server derives it (no password set)
    with open_store(server.db) as store:
        session_key = store.session_key(ADMIN[0])

    def cookie(signing_secret: bytes, issued: float, bound_to: str | None) -> str:
        value = json.dumps({"u": ADMIN[0], "t": issued, "k": bound_to})
        return create_signed_value(signing_secret, name, value).decode()

    now = time.time()
    status = {label: requests.get(server.base + "/api/me", cookies={name: value}, timeout=30).status_code
              for label, value in [("expired", cookie(secret, now - 9 * 3600, session_key)),
                                   ("wrong_secret", cookie(b"not-the-secret", now, session_key)),
                                   ("old_password", cookie(secret, now, "0123456789abcdef")),
                                   ("fresh", cookie(secret, now, session_key))]}
    # the fresh one proves the cookie name and format are right, so the refusals mean something
    assert status == {"expired": 403, "wrong_secret": 403, "old_password": 403, "fresh": 200}


def test_password_change_ends_existing_sessions(server):
    session = as_user(server, FORGETFUL)
    assert session.get(server.base + "/api/me", timeout=30).status_code == 200
    with open_store(server.db) as store:
        store.set_password(FORGETFUL[0], "Forgetful-new-pw-1!", actor=ADMIN[0])
    assert session.get(server.base + "/api/me", timeout=30).status_code == 403
    assert as_user(server, (FORGETFUL[0], "Forgetful-new-pw-1!", "analyst")).get(
        server.base + "/api/me", timeout=30).status_code == 200


# -- login ----------------------------------------------------------------------------------------

def test_login_form_needs_xsrf_and_a_right_password(server):
    r = requests.post(server.base + "/login", data={"username": CLINICIAN[0], "password": CLINICIAN[1]},
                      allow_redirects=False, timeout=30)
    assert r.status_code == 403  # no _xsrf
    with pytest.raises(AssertionError):
        as_user(server, (CLINICIAN[0], "wrong-password", "clinician"))
    session = as_user(server, CLINICIAN)
    me = session.get(server.base + "/api/me", timeout=30)
    assert me.status_code == 403  # logged in, but /api/me is not on a clinician's list
    assert session.get(server.base + "/voila/static/voila.js", timeout=30).status_code == 200


def test_login_and_logout_are_audited(server):
    session = as_user(server, ANALYST)
    assert session.get(server.base + "/api/me", timeout=30).json()["identity"]["role"] == "analyst"
    copied_cookies = dict(session.cookies)
    assert session.post(server.base + "/logout", data={"_xsrf": session.cookies["_xsrf"]}, timeout=30).status_code == 200
    # the logout voids the session itself, not only this browser's copy of the cookie
    assert requests.get(server.base + "/api/me", cookies=copied_cookies, timeout=30).status_code == 403
    with open_store(server.db) as store:
        actions = [(e.action, e.outcome) for e in store.audit_events(limit=10, actor=ANALYST[0])]
    assert actions[:2] == [("logout", "ok"), ("login", "ok")]


def test_a_cross_site_link_or_form_cannot_log_anyone_out(server):
    """Logout is a POST with the ``_xsrf`` token: a link (GET) only asks, a forged POST is refused."""
    session = as_user(server, ANALYST)
    page = session.get(server.base + "/logout", timeout=30)
    assert page.status_code == 200 and 'id="logout-submit"' in page.text
    assert session.post(server.base + "/logout", timeout=30).status_code == 403  # no token: another site's form
    assert session.get(server.base + "/api/me", timeout=30).status_code == 200  # still logged in
    with open_store(server.db) as store:
        assert store.audit_events(limit=1, actor=ANALYST[0])[0].action != "logout"


def test_wrong_passwords_are_rate_limited(server):
    username, password, _ = TARGET
    s = requests.Session()
    statuses = []
    for attempt in range(6):
        s.get(server.base + "/login", timeout=30)
        r = s.post(server.base + "/login", allow_redirects=False, timeout=30,
                   data={"username": username, "password": f"guess-{attempt}", "_xsrf": s.cookies["_xsrf"]})
        statuses.append(r.status_code)
    r = s.post(server.base + "/login", allow_redirects=False, timeout=30,
               data={"username": username, "password": password, "_xsrf": s.cookies["_xsrf"]})
    assert statuses == [401] * 5 + [429]
    assert r.status_code == 429 and "Too many failed attempts" in r.text  # even the right password waits
    korean = s.post(server.base + "/login", allow_redirects=False, timeout=30, headers={"Accept-Language": "ko-KR,ko"},
                    data={"username": username, "password": password, "_xsrf": s.cookies["_xsrf"]})
    assert korean.status_code == 429 and re.search(r"로그인 실패가 너무 많습니다\. \d+분 후에 다시", korean.text), korean.text
    with open_store(server.db) as store:
        outcomes = [e.outcome for e in store.audit_events(limit=20, actor=username, action="login")]
    assert outcomes.count("denied") == 5 and outcomes.count("rate_limited") == 3


def test_disabled_user_is_locked_out_at_once(server):
    session = as_user(server, LOCUM)
    assert session.get(server.base + "/voila/static/voila.js", timeout=30).status_code == 200
    with open_store(server.db) as store:
        store.set_user_disabled(LOCUM[0], True, actor=ADMIN[0])
    # same cookie, next request: no more access, pages send back to the login form
    assert session.get(server.base + "/voila/static/voila.js", timeout=30).status_code == 403
    r = session.get(server.base + DASHBOARD_PATH, allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    with pytest.raises(AssertionError):
        as_user(server, LOCUM)


# -- clinicians: the dashboard and nothing else ----------------------------------------------------

@pytest.mark.parametrize("path", [
    "/lab", "/tree", "/files/README.md", "/api/contents", "/api/sessions", "/api/terminals", "/api/kernelspecs",
    "/api/kernels", "/api/me", "/voila/tree", "/voila/files/notebooks/dashboard.ipynb",
    "/voila/render/notebooks/label_review.ipynb",
    "/voila/render/notebooks/../notebooks/label_review.ipynb",
    "/voila/render/notebooks/%2E%2E/notebooks/dashboard.ipynb",
    "/voila/render/notebooks/%2e%2e/README.md",
    "/VOILA/render/notebooks/dashboard.ipynb", "/voila/render/notebooks/DASHBOARD.ipynb",
    "/voila/static/../../api/contents", "/voila/static/%2e%2e/%2e%2e/api/contents",
])
def test_clinician_is_refused_everything_but_the_dashboard(server, clinician_dashboard, path):
    session, _ = clinician_dashboard
    assert raw_get(server, path, session) == 403


def test_clinician_cannot_start_or_touch_other_kernels(server, clinician_dashboard):
    session, own_kernel = clinician_dashboard
    xsrf = {"X-XSRFToken": session.cookies["_xsrf"]}
    assert session.post(server.base + "/api/kernels", json={}, headers=xsrf, timeout=30).status_code == 403
    assert session.get(server.base + f"/api/kernels/{own_kernel}", timeout=30).status_code == 200
    other = as_user(server, OTHER_CLINICIAN)
    assert other.get(server.base + f"/api/kernels/{own_kernel}", timeout=30).status_code == 403
    assert other.delete(server.base + f"/api/kernels/{own_kernel}", headers={"X-XSRFToken": other.cookies["_xsrf"]},
                        timeout=30).status_code == 403
    assert other.post(server.base + f"/voila/api/shutdown/{own_kernel}",
                      headers={"X-XSRFToken": other.cookies["_xsrf"]}, timeout=30).status_code == 403
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        kernel_ws.connect(server.base, other, own_kernel)
    assert refused.value.status_code == 403


# -- analysts and admins ---------------------------------------------------------------------------

def test_analyst_has_jupyterlab_and_the_api(server):
    session = as_user(server, ANALYST)
    assert session.get(server.base + "/lab", timeout=60).status_code == 200
    assert session.get(server.base + "/api/contents/notebooks", timeout=30).status_code == 200
    assert session.get(server.base + "/voila/static/voila.js", timeout=30).status_code == 200


def test_passwords_never_reach_logs_or_the_database(server):
    # a password typed into the URL by mistake must not reach the access log either
    requests.get(server.base + "/login", params={"username": ADMIN[0], "password": ADMIN[1]}, timeout=30)
    log_text = server.log.read_text(errors="replace")
    assert f"{CLINICIAN[0]}" in log_text  # the log is the right one and has the logins in it
    conn = sqlite3.connect(server.db)
    dump = "\n".join(conn.iterdump())
    conn.close()
    for _user, password, _role in USERS:
        assert password not in log_text
        assert password not in dump


def test_serve_prints_the_url_and_demo_logins_only_for_a_demo_database(server, demo_db):
    from lungdx_widgets.server.launch import _accounts

    lines = server.log.read_text(errors="replace").splitlines()
    assert lines[0].startswith(f"LungDx Workbench: {server.base}/")
    assert not [line for line in lines if "demo-clinician" in line], "a real database's log names no demo password"
    assert "demo-clinician / demo-clinician (clinician)" in _accounts(demo_db)[1]
    assert _accounts(server.db) == (True, "")


def test_pages_may_not_reach_third_parties(server):
    """The dashboard and the login page carry a CSP that keeps every fetch on this server."""
    session = as_user(server, ADMIN)
    for path in (DASHBOARD_PATH, "/login"):
        csp = session.get(server.base + path, timeout=60).headers["Content-Security-Policy"]
        directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
        assert directives["default-src"][0] == "'self'"
        assert not any(s.startswith(("http", "*")) for s in directives["default-src"] + directives["connect-src"])
        assert directives["frame-ancestors"] == ["'self'"]
