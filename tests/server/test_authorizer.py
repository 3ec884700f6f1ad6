"""The Authorizer on its own (the second layer behind the clinicians' route allowlist)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lungdx_widgets.server.authorizer import RoleAuthorizer
from lungdx_widgets.server.identity import LungDxUser

OWN, OTHERS = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
OWNERS = {OWN: "dr_a", OTHERS: "dr_b"}


def handler(kernel_id: str | None = None) -> SimpleNamespace:
    """Just what the authorizer reads from a request handler."""
    return SimpleNamespace(settings={"kernel_manager": SimpleNamespace(owner_of=OWNERS.get)},
                           path_kwargs={"kernel_id": kernel_id} if kernel_id else {})


def allowed(role: str, action: str, resource: str, kernel_id: str | None = None) -> bool:
    return RoleAuthorizer().is_authorized(handler(kernel_id), LungDxUser("dr_a", role=role), action, resource)


@pytest.mark.parametrize("resource", ["contents", "sessions", "terminals", "kernelspecs", "files", "nbconvert",
                                      "config", "events", "api", "server"])
def test_clinician_gets_no_resource_but_kernels(resource):
    assert not any(allowed("clinician", action, resource) for action in ("read", "write", "execute"))


def test_clinician_may_use_only_own_kernels_and_never_write():
    assert allowed("clinician", "execute", "kernels", OWN) and allowed("clinician", "read", "kernels", OWN)
    assert not allowed("clinician", "execute", "kernels", OTHERS)
    assert not allowed("clinician", "write", "kernels", OWN)  # start, restart, delete
    assert not allowed("clinician", "read", "kernels")  # the list of everyone's kernels


def test_unknown_roles_are_treated_as_clinicians():
    assert not allowed("intern", "read", "contents") and not allowed("intern", "execute", "kernels", OTHERS)


def test_analyst_everything_but_server_administration_admin_everything():
    assert allowed("analyst", "write", "contents") and allowed("analyst", "execute", "kernels", OTHERS)
    assert not allowed("analyst", "write", "server")
    assert allowed("admin", "write", "server")
