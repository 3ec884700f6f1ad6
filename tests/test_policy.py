"""One policy: the role table pinned literally, the store enforcing it, and no role lists elsewhere."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lungdx_widgets
from lungdx_widgets.policy import GRANTS, ROLES, Permission, can, roles_with
from lungdx_widgets.store import PermissionDenied

PACKAGE = Path(lungdx_widgets.__file__).parent
P = Permission
#: What SECURITY.md promises, written out (not read from GRANTS, so a wrong row fails here).
EXPECTED = {
    P.ANALYZE: {"clinician"}, P.SIGN: {"clinician"}, P.OVERRIDE_TRIAGE: {"clinician"},
    P.EDIT_RECORD: {"clinician"}, P.REGISTER_PATIENT: {"clinician", "admin"},
    P.SEE_CONTACT: {"clinician", "admin"}, P.ANNOTATE: {"clinician", "analyst"},
    P.ACTIVATE_MODEL: {"analyst", "admin"}, P.USE_LAB: {"analyst"},
    P.USE_SERVER: {"analyst", "admin"}, P.MANAGE_SERVER: {"admin"},
}
CONTACT = "+82 2 555 0101, 12 Sejong-daero"


def test_role_table():
    assert set(EXPECTED) == set(Permission)
    for permission, roles in EXPECTED.items():
        assert set(roles_with(permission)) == roles, permission
        assert all(can(role, permission) == (role in roles) for role in ROLES)


class _Disabled:
    role, disabled = "admin", True


def test_unknown_roles_and_disabled_users_may_do_nothing():
    assert not any(can(who, p) for who in (None, "", "superuser", _Disabled()) for p in Permission)


@pytest.fixture
def chart(store):
    store.add_patient("P1", "Ada Quillfeather", actor="clerk", contact=CONTACT)
    for name, role in (("cleo", "clinician"), ("ana", "analyst"), ("adm", "admin")):
        store.add_user(name, "correct horse battery", role)
    return store


def test_the_store_leaves_contact_data_out_for_roles_that_may_not_see_it(chart):
    assert chart.patient_record("P1", "ana").patient.contact == ""
    assert chart.patient_record("P1", "cleo").patient.contact == CONTACT
    assert chart.patient_record("P1", "adm").patient.contact == CONTACT
    assert chart.patient_record("P1", "cli:operator").patient.contact == CONTACT  # the trusted CLI/system


def test_the_store_refuses_record_additions_the_role_does_not_allow(chart):
    with pytest.raises(PermissionDenied):
        chart.add_note("P1", "ana", "analysts do not write in charts")
    with pytest.raises(PermissionDenied):
        chart.add_allergy("P1", "adm", "Penicillin", "drug")
    assert chart.patient_record("P1", "cleo").notes == ()
    chart.add_note("P1", "cleo", "seen in clinic")
    assert [n.text for n in chart.patient_record("P1", "cleo").notes] == ["seen in clinic"]


def test_model_activation_needs_an_enabled_account_with_the_permission(chart):
    assert chart.require("ana", P.ACTIVATE_MODEL).username == "ana"
    for who in ("cleo", "ghost"):
        with pytest.raises(PermissionDenied, match="analyst or admin"):
            chart.require(who, P.ACTIVATE_MODEL)


def test_role_names_are_not_listed_outside_the_policy():
    """No module compares against role names or lists them: they ask ``can`` instead."""
    allowed = {"policy.py", "terms.py", "store/schema.py"}  # the table; display words; the CHECK constraint
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        if rel in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            literals = []
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                literals = node.elts
            elif isinstance(node, ast.Compare):
                literals = [node.left, *node.comparators]
            if any(isinstance(e, ast.Constant) and e.value in GRANTS for e in literals):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []
