"""Who may do what: the roles, the permissions and :func:`can` (one table for store, services, widgets, server).

Why one module: roles used to be listed in seven places (store records, the dashboard, the record
widget, the patient form, model activation, the server's identity and authorizer), and "who sees
contact data" was only hidden in a widget. Every layer now asks :func:`can`; the store refuses
what the table does not allow for known users (``Store.patient_record`` blanks contact data,
record additions need :attr:`Permission.EDIT_RECORD`), so a notebook or a script cannot bypass it.

Actors that are not accounts (``cli:<os user>``, ``system``, a test) are the trusted operator of
the installation: the store applies the table to *known users*; the CLI acts as ``cli:<os user>``
(``cli.common.actor``) and never as a named account.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Permission(StrEnum):
    """What a role may do (values are stable names for messages and audit)."""

    ANALYZE = "analyze"                  # upload films and run the model on them
    SIGN = "sign"                        # sign off a study (and file addenda)
    OVERRIDE_TRIAGE = "override_triage"  # change the triage level, with a reason
    EDIT_RECORD = "edit_record"          # add encounters, allergies, conditions, medications, notes
    REGISTER_PATIENT = "register_patient"  # register patients and edit demographics
    SEE_CONTACT = "see_contact"          # read a patient's contact details
    ANNOTATE = "annotate"                # draw, accept, reject and save boxes
    ACTIVATE_MODEL = "activate_model"    # fine-tune, activate and roll back model versions
    USE_LAB = "use_lab"                  # open JupyterLab from the dashboard
    USE_SERVER = "use_server"            # the whole Jupyter server, not only the dashboard
    MANAGE_SERVER = "manage_server"      # server-level resources (shutdown, configuration)


P = Permission
#: The role table: everything a role may do. Unknown roles and disabled users may do nothing.
GRANTS: dict[str, frozenset[Permission]] = {
    "clinician": frozenset({P.ANALYZE, P.SIGN, P.OVERRIDE_TRIAGE, P.EDIT_RECORD, P.REGISTER_PATIENT,
                            P.SEE_CONTACT, P.ANNOTATE}),
    "analyst": frozenset({P.ANNOTATE, P.ACTIVATE_MODEL, P.USE_LAB, P.USE_SERVER}),
    "admin": frozenset({P.REGISTER_PATIENT, P.SEE_CONTACT, P.ACTIVATE_MODEL, P.USE_SERVER, P.MANAGE_SERVER}),
}
#: The roles, in the order forms list them (the schema's CHECK constraint names the same three).
ROLES: tuple[str, ...] = tuple(GRANTS)


def role_of(user: Any) -> str | None:
    """The role of a user record, a server user, or a role name; None for no one or a disabled user."""
    if user is None:
        return None
    if isinstance(user, str):
        return user
    if getattr(user, "disabled", False):
        return None
    return getattr(user, "role", None)


def can(user: Any, permission: Permission) -> bool:
    """May ``user`` (a ``User`` record, a server user or a role name) do ``permission``?"""
    return permission in GRANTS.get(role_of(user) or "", frozenset())


def roles_with(permission: Permission) -> tuple[str, ...]:
    """The roles that may do ``permission`` (for messages: "needs role: analyst or admin")."""
    return tuple(role for role, granted in GRANTS.items() if permission in granted)
