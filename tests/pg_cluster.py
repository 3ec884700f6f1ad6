"""A private PostgreSQL cluster for the tests: ``initdb`` in a temp folder, a Unix socket there, stopped at the end.

Nothing is shared with a system PostgreSQL: its own data folder, socket folder and port number, the
superuser ``lungdx`` with trust authentication over that socket only (``listen_addresses=''``).
``initdb`` refuses to run as root, so under root the cluster runs as ``nobody`` (``runuser``).
Durability is off (``fsync=off``): a test cluster is thrown away, and the suite is faster.
Each test gets its own database, copied from a migrated template (``CREATE DATABASE ... TEMPLATE``).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "lungdx"
TEMPLATE = "lungdx_template"


def pg_bin(name: str) -> str:
    """``initdb``/``pg_ctl`` on PATH or in Debian's versioned folder; missing is a set-up error (``make postgresql``)."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    assert found, f"PostgreSQL's {name} is missing: `make postgresql` installs it from Debian"
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One running server; :meth:`create_database` gives each test an empty, migrated database."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="lungdx-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse root
            shutil.chown(self.root, "nobody", "nogroup")
            self._as_user = ["runuser", "-u", "nobody", "--"]
        self._names = itertools.count(1)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{dbname}?host={self.root}&port={self.port}"

    def _run(self, *cmd: str) -> None:
        done = subprocess.run([*self._as_user, *cmd], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{cmd[0]} failed: {done.stdout}{done.stderr}"

    def start(self) -> PgCluster:
        self._run(pg_bin("initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "-N")
        options = (f"-k {self.root} -p {self.port} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"),
                  "-w", "start")
        self.execute(f"CREATE DATABASE {TEMPLATE}")
        from lungdx_widgets.store import open_store

        open_store(self.url(TEMPLATE)).close()  # migrated once; every test database is a copy
        return self

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, template: str = TEMPLATE) -> str:
        """A new database (a copy of the migrated template, or ``template0`` for an empty one); its URL."""
        name = f"test_{next(self._names)}"
        self.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.split("/")[3].split("?")[0]
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def dump(self, url: str) -> bytes:
        """``pg_dump`` of one database as plain SQL (what the database holds, to search for a secret)."""
        done = subprocess.run([pg_bin("pg_dump"), "--dbname", url], capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout

    def stop(self) -> None:
        try:
            self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
