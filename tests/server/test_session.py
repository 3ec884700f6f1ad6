"""Who the kernel believes is acting (lungdx_widgets.session), against a real store."""

from __future__ import annotations

import getpass

import pytest

from lungdx_widgets import session
from lungdx_widgets.session import (SERVER_KERNEL_ENV, KERNEL_USER_ENV, VOILA_USER_ENV, NotLoggedIn, current_user, current_username)
from lungdx_widgets.store import open_store


@pytest.fixture()
def clean_env(monkeypatch):
    for name in (VOILA_USER_ENV, KERNEL_USER_ENV, "VOILA_BASE_URL", SERVER_KERNEL_ENV):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture()
def server_kernel(clean_env):
    """As inside a kernel the server started: an IPython kernel with the server's marker."""
    clean_env.setattr(session, "_in_ipython_kernel", lambda: True)
    clean_env.setenv(SERVER_KERNEL_ENV, "1")
    return clean_env


def test_voila_header_wins_over_everything_in_a_server_kernel(server_kernel):
    server_kernel.setenv(KERNEL_USER_ENV, "an_lab")
    server_kernel.setenv(VOILA_USER_ENV, "dr_voila")
    assert current_username() == "dr_voila"


def test_the_header_variable_counts_only_inside_a_kernel_the_server_started(clean_env):
    clean_env.setenv(VOILA_USER_ENV, "demo-clinician")
    assert current_username() == getpass.getuser()  # a script or command: the OS user
    clean_env.setenv(SERVER_KERNEL_ENV, "1")  # the marker alone, outside a kernel, is not enough
    assert current_username() == getpass.getuser()


def test_jupyterlab_kernel_uses_the_server_given_name_then_the_os_user(clean_env):
    assert current_username() == getpass.getuser()
    clean_env.setenv(KERNEL_USER_ENV, "an_lab")
    assert current_username() == "an_lab"


def test_voila_kernel_without_the_header_fails_closed(clean_env):
    clean_env.setenv("VOILA_BASE_URL", "/")
    clean_env.setenv(KERNEL_USER_ENV, "someone")
    with pytest.raises(NotLoggedIn):
        current_username()


def test_current_user_reads_role_and_disabled_from_the_store(server_kernel, tmp_path):
    clean_env = server_kernel
    with open_store(tmp_path / "s.db") as store:
        store.add_user("dr_a", "long-enough-pw", "clinician")
        clean_env.setenv(VOILA_USER_ENV, "dr_a")
        assert current_user(store).role == "clinician"
        store.set_user_disabled("dr_a", True, actor="admin")
        with pytest.raises(NotLoggedIn, match="disabled"):
            current_user(store)
        clean_env.setenv(VOILA_USER_ENV, "nobody")
        with pytest.raises(NotLoggedIn, match="not known"):
            current_user(store)

