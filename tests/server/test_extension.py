"""The login guard sweep over a tornado app's routes (no server process needed)."""

from __future__ import annotations

from jupyter_server.base.handlers import JupyterHandler, RedirectWithParams
from tornado import web

from lungdx_widgets.server.extension import require_login_everywhere


class PlainStatic(web.StaticFileHandler):
    pass


class LoggedIn(JupyterHandler):
    pass


def handler_classes(app: web.Application) -> dict[str, type]:
    found = {}
    for rule in app.wildcard_router.rules:
        found[rule.matcher.regex.pattern] = rule.target
    for rule in app.default_router.rules:
        for inner in getattr(rule.target, "rules", []):
            found[inner.matcher.regex.pattern] = inner.target
    return found


def test_plain_handlers_are_wrapped_including_ones_added_later():
    app = web.Application([(r"/static/(.*)", PlainStatic, {"path": "/tmp"}), (r"/page", LoggedIn),
                           (r"/", RedirectWithParams, {"url": "/page"})])
    assert require_login_everywhere(app) == ["PlainStatic"]
    app.add_handlers(".*$", [(r"/late/(.*)", PlainStatic, {"path": "/tmp"})])
    assert require_login_everywhere(app) == ["PlainStatic"]  # only the new route; nothing twice
    classes = handler_classes(app)
    assert classes[r"/static/(.*)$"].__name__ == "LoginRequiredPlainStatic"
    assert classes[r"/late/(.*)$"].__name__ == "LoginRequiredPlainStatic"
    assert classes[r"/page$"] is LoggedIn and classes[r"/$"] is RedirectWithParams
    assert issubclass(classes[r"/static/(.*)$"], PlainStatic)
