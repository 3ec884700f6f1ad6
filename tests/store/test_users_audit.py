"""Users (scrypt hashes, constant-time checks, disabled accounts) and the append-only audit log."""

from __future__ import annotations

import time

import pytest

from lungdx_widgets.store import Conflict, NotFound, PermissionDenied, ValidationError
from lungdx_widgets.policy import Permission
from lungdx_widgets.store.passwords import verify_password


def test_passwords_are_salted_scrypt_hashes(store, database_bytes):
    store.add_user("ann", "correct horse", "clinician")
    store.add_user("ben", "correct horse", "analyst")
    hashes = dict(store.conn.execute("SELECT username, password_hash FROM users"))
    assert all(h.startswith("scrypt$16384$8$1$") for h in hashes.values())
    assert hashes["ann"] != hashes["ben"]  # different salts
    assert verify_password("correct horse", hashes["ann"]) and not verify_password("correct hors", hashes["ann"])
    assert b"correct horse" not in database_bytes()


def test_authenticate(store):
    store.add_user("ann", "correct horse", "clinician", display_name="Dr Ann")
    user = store.authenticate("ann", "correct horse")
    assert user is not None and (user.role, user.display_name) == ("clinician", "Dr Ann")
    assert store.authenticate("ann", "wrong password") is None
    assert store.authenticate("nobody", "correct horse") is None
    store.set_user_disabled("ann", True, actor="admin")
    assert store.authenticate("ann", "correct horse") is None  # disabled at once
    logins = [(e.actor, e.outcome) for e in store.audit_events(actor=None, action="login")]
    assert logins == [("ann", "denied"), ("nobody", "denied"), ("ann", "denied"), ("ann", "ok")]


def test_unknown_user_costs_a_hash_too(store):
    """Without the dummy hash an unknown name answers ~1000x faster than a wrong password."""
    store.add_user("ann", "correct horse", "clinician")

    def fastest(name: str) -> float:
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            store.authenticate(name, "wrong password")
            runs.append(time.perf_counter() - t0)
        return min(runs)

    assert fastest("nobody") > 0.3 * fastest("ann")


@pytest.mark.parametrize("name, password, role, error", [
    ("ann", "short", "clinician", ValidationError),
    ("ann", "long enough", "surgeon", ValidationError),
    ("two words", "long enough", "admin", ValidationError),
])
def test_invalid_users_are_refused(store, name, password, role, error):
    with pytest.raises(error):
        store.add_user(name, password, role)
    assert store.list_users() == []


def test_duplicate_user_and_roles(store):
    store.add_user("ann", "correct horse", "admin")
    with pytest.raises(Conflict):
        store.add_user("ann", "other password", "clinician")
    assert store.require("ann", Permission.MANAGE_SERVER).username == "ann"
    with pytest.raises(PermissionDenied):
        store.require("ann", Permission.SIGN)
    with pytest.raises(NotFound):
        store.set_user_disabled("ghost", True, actor="admin")


def test_audit_log_is_append_only(store, integrity_error):
    store.add_patient("P1", "Ada Quillfeather", actor="clerk")
    event = store.audit_events(1)[0]
    assert (event.actor, event.action, event.obj) == ("clerk", "add_patient", "patient:P1")
    with pytest.raises(integrity_error, match="append-only"):
        store.conn.execute("UPDATE audit_log SET actor = 'someone-else'")
    with pytest.raises(integrity_error, match="append-only"):
        store.conn.execute("DELETE FROM audit_log")
    assert store.audit_events(1)[0] == event


def test_audit_filters(store):
    store.add_patient("P1", "A Person", actor="clerk")
    store.add_note("P1", "dr-a", "Seen.")
    store.audit("dr-a", "export", "patient:P1", outcome="denied", detail="no consent")
    assert [e.action for e in store.audit_events(actor="dr-a")] == ["export", "add_note"]
    assert store.audit_events(action="export")[0].detail == "no consent"
    assert len(store.audit_events(limit=2)) == 2


def test_record_additions_are_audited_under_readable_action_names(store):
    store.add_patient("P9", "Ada Quillfeather", "dr-a")
    store.add_allergy("P9", "dr-a", "Penicillin", "drug", "rash", "moderate")
    store.add_condition("P9", "dr-a", "COPD")
    store.add_encounter("P9", "dr-a", "2025-01-02", "cough")
    store.add_note("P9", "dr-a", "lives alone")
    actions = {e.action for e in store.audit_events(100, actor="dr-a")}
    assert {"add_allergy", "add_condition", "add_encounter", "add_note"} <= actions
