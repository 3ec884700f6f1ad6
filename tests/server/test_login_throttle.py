"""Password guessing against the real server: bursts, the real user's lock-out, restarts, proxies."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import requests

from lungdx_widgets.store import open_store

from ..support import running_server, xsrf_token
from .conftest import BURST, VICTIM, Server

pytestmark = pytest.mark.slow


def post_login(session: requests.Session, base: str, username: str, password: str,
               headers: dict[str, str] | None = None) -> requests.Response:
    token = session.cookies.get("_xsrf") or xsrf_token(session, base)
    return session.post(base + "/login", allow_redirects=False, timeout=120, headers=headers or {},
                        data={"username": username, "password": password, "_xsrf": token})


def password_checks(db: Path, username: str) -> int:
    """Login audit rows whose password was actually verified (ok or denied; not rate_limited)."""
    with open_store(db) as store:
        return sum(e.outcome in ("ok", "denied") for e in store.audit_events(limit=500, actor=username,
                                                                             action="login"))


def test_a_burst_of_simultaneous_logins_gets_no_more_password_checks_than_the_limit(server: Server):
    username, password, _ = BURST
    guesses = [f"guess-{i}" for i in range(23)]
    guesses.insert(12, password)  # the right password inside the burst
    sessions = [requests.Session() for _ in guesses]
    for s in sessions:
        xsrf_token(s, server.base)
    barrier = threading.Barrier(len(guesses))
    statuses: dict[str, int] = {}

    def attempt(s: requests.Session, guess: str) -> None:
        barrier.wait()
        statuses[guess] = post_login(s, server.base, username, guess).status_code

    threads = [threading.Thread(target=attempt, args=pair) for pair in zip(sessions, guesses)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    checked = password_checks(server.db, username)
    assert checked == 5  # today: all 24 were checked
    assert sorted(statuses.values()).count(429) == len(guesses) - 5
    if statuses[password] != 429:  # it was one of the five checked: then, and only then, it gets in
        assert statuses[password] == 302


def test_the_real_users_browser_gets_in_while_an_attacker_is_locked_out(server: Server):
    username, password, _ = VICTIM
    own_browser = requests.Session()
    assert post_login(own_browser, server.base, username, password).status_code == 302  # yesterday's login
    attacker = requests.Session()
    statuses = [post_login(attacker, server.base, username, f"guess-{i}").status_code for i in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    # same address, right password, but no device cookie: counted with the attacker (documented)
    assert post_login(requests.Session(), server.base, username, password).status_code == 429
    # the browser that logged in before is counted on its own: not locked out
    r = post_login(own_browser, server.base, username, password)
    assert r.status_code == 302
    assert own_browser.get(server.base + r.headers["Location"], allow_redirects=False, timeout=120).status_code < 400


def _jupyter_config(root: Path, trust_xheaders: bool) -> dict[str, str]:
    """Environment for a server configured through a config file (``lungdx serve`` takes no flags),
    as SECURITY.md tells a deployment behind a TLS proxy to do."""
    config_dir = root / "jupyter-config"
    config_dir.mkdir(parents=True, exist_ok=True)
    config = {"ServerApp": {"trust_xheaders": trust_xheaders}, "IdentityProvider": {"secure_cookie": trust_xheaders}}
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(config))
    return {"JUPYTER_CONFIG_DIR": str(config_dir), "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
            "LUNGDX_LOGIN_MAX_FAILURES": "2"}


@pytest.fixture(scope="module")
def users_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("throttle") / "users.db"
    with open_store(db) as store:
        for name in ("dr_a", "dr_b", "dr_c"):
            store.add_user(name, f"{name}-password", "clinician")
    return db


def test_counts_and_logouts_survive_a_restart(users_db: Path, tmp_path: Path):
    env = _jupyter_config(tmp_path, trust_xheaders=False)
    with running_server(users_db, env=env) as base:
        attacker = requests.Session()
        assert [post_login(attacker, base, "dr_a", f"g{i}").status_code for i in range(2)] == [401, 401]
        user = requests.Session()
        assert post_login(user, base, "dr_b", "dr_b-password").status_code == 302
        copied = dict(user.cookies)
        user.post(base + "/logout", data={"_xsrf": user.cookies["_xsrf"]}, timeout=30)
    with running_server(users_db, env=env) as base:
        assert post_login(requests.Session(), base, "dr_a", "dr_a-password").status_code == 429
        # a cookie copied before the logout stays void after the restart
        r = requests.get(base + "/voila/static/voila.js", cookies=copied, allow_redirects=False, timeout=30)
        assert r.status_code == 403


def test_client_address_headers_count_only_with_trust_xheaders(users_db: Path, tmp_path: Path):
    """Without ``trust_xheaders`` a client-sent ``X-Real-Ip`` is ignored. With it, the header *is* the
    address: the proxy must overwrite it, or a client rotating it escapes the per-address limits
    and only the account-wide limit (10n per 12 windows) still holds."""
    with running_server(users_db, env=_jupyter_config(tmp_path / "plain", trust_xheaders=False)) as base:
        s = requests.Session()
        statuses = [post_login(s, base, "dr_c", f"g{i}", headers={"X-Real-Ip": f"10.0.0.{i}"}).status_code
                    for i in range(3)]
        assert statuses == [401, 401, 429]  # one address (127.0.0.1) whatever the header says
    with running_server(users_db, env=_jupyter_config(tmp_path / "proxied", trust_xheaders=True)) as base:
        s = requests.Session()
        at = {"X-Real-Ip": "10.0.0.66"}
        assert [post_login(s, base, "dr_a", f"g{i}", headers=at).status_code for i in range(3)] == [401, 401, 429]
        # the real user behind another address is not locked out by the one at .66
        other = {"X-Real-Ip": "10.0.0.7"}
        r = post_login(requests.Session(), base, "dr_a", "dr_a-password", headers=other)
        assert r.status_code == 302
        session_cookie = next(c for c in r.raw.headers.getlist("Set-Cookie") if c.startswith("lungdx-session-"))
        assert "Secure" in session_cookie  # the config file's secure_cookie reached the identity provider
        # rotating the header: per-address limits are escaped, the account-wide limit (20 here) is not
        rotated = [post_login(s, base, "dr_b", f"g{i}", headers={"X-Real-Ip": f"10.1.0.{i}"}).status_code
                   for i in range(22)]
        assert rotated == [401] * 20 + [429] * 2


def test_the_server_on_postgresql_logs_in_counts_and_audits(pg_url: str, tmp_path: Path):
    """``lungdx serve --db postgresql://…``: accounts, throttle counters and the audit log live in PostgreSQL."""
    with open_store(pg_url) as store:
        store.add_user("dr_p", "dr_p-password", "clinician")
    with running_server(pg_url, env=_jupyter_config(tmp_path, trust_xheaders=False)) as base:  # type: ignore[arg-type]
        assert post_login(requests.Session(), base, "dr_p", "wrong-guess").status_code == 401
        assert post_login(requests.Session(), base, "dr_p", "dr_p-password").status_code == 302
    with open_store(pg_url) as store:
        logins = [(e.action, e.outcome) for e in store.audit_events(action="login")]
        assert ("login", "ok") in logins and len(logins) == 2, logins
        assert store.conn.execute("SELECT count(*) FROM login_throttle").fetchone()[0] >= 1  # the failed guess
        assert store.verify_audit().ok
