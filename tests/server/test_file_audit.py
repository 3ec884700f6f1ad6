"""Analysts' and admins' reads of patient-data files through the server leave an audit row."""

from __future__ import annotations

import pytest

from lungdx_widgets.server.file_audit import audited_read
from lungdx_widgets.store import open_store

from .conftest import ANALYST, as_user

DATA = ["data", "data/images"]


@pytest.mark.parametrize("method,path,content,expected", [
    ("GET", "/files/data/lungdx.db", None, "data/lungdx.db"),
    ("GET", "/voila/files/data/images/ab/abcd.dcm", None, "data/images/ab/abcd.dcm"),
    ("GET", "/api/contents/data/lungdx.db", None, "data/lungdx.db"),
    ("GET", "/api/contents/data", "0", None),  # metadata listing only
    ("GET", "/files/README.md", None, None),
    ("GET", "/files/database/x", None, None),  # a prefix of a name is not the folder
    ("PUT", "/api/contents/data/x", None, None),
])
def test_which_requests_are_reads_of_patient_data(method, path, content, expected):
    assert audited_read(method, path, content, DATA) == expected


@pytest.mark.slow
def test_an_analyst_reading_the_database_through_files_is_audited(server):
    session = as_user(server, ANALYST)
    for path in ("/files/data/lungdx.db", "/voila/files/data/demo/x.dcm", "/api/contents/data/lungdx.db",
                 "/files/README.md"):
        session.get(server.base + path, timeout=60)
    with open_store(server.db) as store:
        reads = [e.obj for e in store.audit_events(limit=50, actor=ANALYST[0], action="read_file")]
    assert sorted(reads) == ["file:data/demo/x.dcm", "file:data/lungdx.db", "file:data/lungdx.db"]
