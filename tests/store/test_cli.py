"""The store's commands through the real ``lungdx`` console script (subprocesses)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys


def lungdx(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lungdx_widgets.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=300)


def test_init_demo_then_search(tmp_path):
    db = str(tmp_path / "cli.db")
    done = lungdx("init", "--demo", "--demo-patients", "6", "--no-analyze", "--db", db)
    assert done.returncode == 0, done.stderr
    assert "8 demo patients added" in done.stdout and "demo-clinician" in done.stdout
    found = json.loads(lungdx("patients", "search", "DEMO-000", "--json", "--db", db).stdout)
    assert sorted(p["patient_id"] for p in found) == [f"DEMO-{i:04d}" for i in range(1, 9)]
    surname = found[0]["name"].split()[-1]
    table = lungdx("patients", "search", surname[:4].lower(), "--db", db)
    assert table.returncode == 0 and found[0]["patient_id"] in table.stdout
    assert "no patient matches" in lungdx("patients", "search", "zzzqqq", "--db", db).stdout


def test_users_and_backup(tmp_path):
    db, copy = str(tmp_path / "u.db"), tmp_path / "backup" / "u-copy.db"
    added = lungdx("users", "add", "drwho", "--role", "clinician", "--password-stdin", "--db", db,
                   stdin="tardis-blue\n")
    assert added.returncode == 0, added.stderr
    assert "tardis-blue" not in added.stdout + added.stderr
    users = json.loads(lungdx("users", "list", "--json", "--db", db).stdout)
    assert [(u["username"], u["role"]) for u in users] == [("drwho", "clinician")]
    short = lungdx("users", "add", "amy", "--role", "analyst", "--password-stdin", "--db", db, stdin="short\n")
    assert short.returncode != 0 and short.stderr.count("\n") == 1 and "at least 8" in short.stderr
    no_tty = lungdx("users", "add", "rory", "--role", "analyst", "--db", db, stdin="")
    assert no_tty.returncode != 0 and "--password-stdin" in no_tty.stderr
    assert lungdx("backup", str(copy), "--db", db).returncode == 0
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT username FROM users").fetchall() == [("drwho",)]
