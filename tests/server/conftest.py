"""One real server for all of tests/server (servers are slow to start): demo users plus two extras."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from lungdx_widgets.server.routes import DASHBOARD_PATH
from lungdx_widgets.store import open_store

from ..support import login_session, running_server
from . import kernel_ws

#: (username, password, role). Passwords are distinctive so the log scan can look for them.
CLINICIAN = ("dr_ines", "Ines-pw-7f3Qx!", "clinician")
OTHER_CLINICIAN = ("dr_omar", "Omar-pw-2kLp9#", "clinician")
ANALYST = ("an_ana", "Ana-pw-5tRw8$", "analyst")
ADMIN = ("ad_adam", "Adam-pw-9yUe1%", "admin")
#: Disabled during a test; nobody else uses it.
LOCUM = ("dr_locum", "Locum-pw-3hGv6&", "clinician")
#: Brute-forced during a test.
TARGET = ("dr_target", "Target-pw-8nBc4*", "clinician")
#: Changes password during a test.
FORGETFUL = ("an_forgetful", "Forgetful-pw-6mXz2@", "analyst")
#: Disabled while a kernel websocket is open.
REVOKED = ("an_revoked", "Revoked-pw-4pQs7^", "analyst")
#: Hit by a burst of simultaneous logins.
BURST = ("dr_burst", "Burst-pw-1aZq5!", "clinician")
#: Locked out by an attacker while their own browser keeps getting in.
VICTIM = ("dr_victim", "Victim-pw-7wEr3$", "clinician")
USERS = (CLINICIAN, OTHER_CLINICIAN, ANALYST, ADMIN, LOCUM, TARGET, FORGETFUL, REVOKED, BURST, VICTIM)


@dataclass(frozen=True)
class Server:
    base: str
    db: Path
    log: Path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, _isolated_settings) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("server")
    db, log = root / "server.db", root / "server.log"
    with open_store(db) as store:
        for username, password, role in USERS:
            store.add_user(username, password, role, display_name=username.replace("_", " ").title())
    # Own Jupyter runtime dir: a cookie secret of its own, readable by the forged-cookie tests.
    env = {"JUPYTER_RUNTIME_DIR": str(root / "runtime")}
    with running_server(db, env=env, log=log) as base:
        yield Server(base, db, log)


def as_user(server: Server, user: tuple[str, str, str]) -> requests.Session:
    return login_session(server.base, user[0], user[1])


def kernel_id_of(page_html: str) -> str:
    """The dashboard's kernel id, which Voila writes into the page config."""
    m = re.search(r'"kernelId": "([0-9a-f-]{36})"', page_html)
    assert m, "no kernel id in the rendered dashboard"
    return m.group(1)


@pytest.fixture(scope="session")
def clinician_dashboard(server: Server) -> tuple[requests.Session, str]:
    """The clinician's session and their dashboard kernel, rendered once with a forged identity header."""
    session = as_user(server, CLINICIAN)
    r = session.get(server.base + DASHBOARD_PATH, timeout=180,
                    headers={"X-LungDx-User": ADMIN[0], "X_LungDx_User": ADMIN[0]})
    assert r.status_code == 200
    kernel_id = kernel_id_of(r.text)
    kernel_ws.connect(server.base, session, kernel_id).close()  # as the page does: never-connected kernels are culled
    return session, kernel_id
