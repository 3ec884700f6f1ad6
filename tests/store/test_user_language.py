"""Each account keeps its interface language (``lungdx users add --lang ko``); '' follows the browser."""

from __future__ import annotations

import json

import pytest

from lungdx_widgets.store import ValidationError

from .test_cli import lungdx


def test_language_is_kept_with_the_account_and_audited(store):
    assert store.add_user("kim", "pw-123456789", "clinician", language="ko").language == "ko"
    assert store.add_user("ann", "pw-123456789", "clinician").language == ""
    assert store.set_user_language("ann", "en", actor="ann").language == "en"
    assert store.get_user("ann").language == "en"
    event = store.audit_events(1)[0]
    assert (event.action, event.obj, event.detail) == ("set_language", "user:ann", "language=en")
    with pytest.raises(ValidationError, match="ko"):
        store.set_user_language("ann", "klingon", actor="ann")


def test_cli_adds_a_korean_user(tmp_path):
    db = str(tmp_path / "lang.db")
    done = lungdx("users", "add", "dr-kim", "--role", "clinician", "--lang", "ko", "--password-stdin", "--db", db,
                  stdin="long-enough-pw\n")
    assert done.returncode == 0, done.stderr
    users = json.loads(lungdx("users", "list", "--json", "--db", db).stdout)
    assert [(u["username"], u["language"]) for u in users] == [("dr-kim", "ko")]
    bad = lungdx("users", "add", "x", "--role", "clinician", "--lang", "xx", "--password-stdin", "--db", db,
                 stdin="long-enough-pw\n")
    assert bad.returncode != 0
