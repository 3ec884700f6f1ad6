"""A person at the browser: refused, logs in through the form, sees the dashboard, logs out."""

from __future__ import annotations

import pytest

from lungdx_widgets.server.routes import DASHBOARD_PATH
from lungdx_widgets.store import open_store

from ..support import ARTIFACTS, login
from .conftest import CLINICIAN

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_login_dashboard_logout(browser, server):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(server.base + "/")
        assert "/login" in page.url and page.is_visible("#login-form")

        page.fill("#username", CLINICIAN[0])
        page.fill("#password", "not-my-password")
        page.click("#login-submit")
        assert page.inner_text("#login-message") == "Wrong username or password."

        login(page, server.base, CLINICIAN[0], CLINICIAN[1])
        assert page.url.startswith(server.base + DASHBOARD_PATH)
        # Voila rendered the notebook and the widgets came alive over the (filtered) kernel websocket
        page.wait_for_selector(".jp-OutputArea-output .jupyter-widgets", timeout=120_000)
        page.screenshot(path=str(ARTIFACTS / "server-dashboard-after-login.png"))

        page.goto(server.base + "/logout")  # asks first; the button POSTs with the _xsrf token
        page.click("#logout-submit")
        assert page.inner_text("#login-message") == "You are logged out."
        page.goto(server.base + DASHBOARD_PATH)
        assert "/login" in page.url
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
    with open_store(server.db) as store:
        actions = [(e.action, e.outcome) for e in store.audit_events(limit=5, actor=CLINICIAN[0])
                   if e.action in ("login", "logout")]
    assert actions[:3] == [("logout", "ok"), ("login", "ok"), ("login", "denied")]
