"""Server extension: put a login check in front of handlers that never ask for one.

Voila's ``/voila/static``, ``/voila/templates`` and ``/voila/files`` are plain tornado static
handlers: without this, files next to a notebook (rendered images, say) were served to anyone.
Rather than naming those three, every route whose handler is not a ``JupyterHandler`` (which
authenticates in ``prepare()``) gets wrapped, so handlers added by future extensions are caught
too. Extensions load alphabetically and Voila's comes after this one, so the sweep runs once now
and once more when the event loop starts, after every extension has registered its routes.

It also starts the server's inference process (:mod:`.model_process`): the kernels share one model.
"""

from __future__ import annotations

import inspect
from typing import Any

from jinja2 import ChoiceLoader, DictLoader
from jupyter_server.base.handlers import JupyterHandler, RedirectWithParams, TrailingSlashHandler
from tornado import web
from tornado.ioloop import IOLoop
from tornado.routing import Rule

from . import routes

#: Handlers that only redirect (``/`` → dashboard, ``x/`` → ``x``) and serve nothing themselves.
_HARMLESS = (web.RedirectHandler, RedirectWithParams, TrailingSlashHandler)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "lungdx_widgets.server.extension"}]


def _login_required(cls: type[web.RequestHandler]) -> type[web.RequestHandler]:
    """Subclass of ``cls`` whose ``prepare`` refuses (403) requests without a valid session
    (except the public routes: favicon, the server's own static assets)."""

    async def prepare(self: web.RequestHandler) -> None:
        user = self.settings["identity_provider"].get_user(self)
        if inspect.isawaitable(user):
            user = await user
        if user is None and not routes.match(routes.PUBLIC_ROUTES, self.request.method or "", self.request.path,
                                             self.settings.get("base_url", "/")).allowed:
            raise web.HTTPError(403)
        self.current_user = user
        result = cls.prepare(self)
        if inspect.isawaitable(result):
            await result

    return type(f"LoginRequired{cls.__name__}", (cls,), {"prepare": prepare, "_lungdx_guarded": True})


def _needs_guard(target: Any) -> bool:
    return (inspect.isclass(target) and issubclass(target, web.RequestHandler)
            and not issubclass(target, (JupyterHandler, *_HARMLESS))
            and not getattr(target, "_lungdx_guarded", False))


def _guard_rules(rules: list[Rule]) -> list[str]:
    guarded = []
    for rule in rules:
        nested = getattr(rule.target, "rules", None)
        if nested is not None:
            guarded += _guard_rules(nested)
        elif _needs_guard(rule.target):
            guarded.append(rule.target.__name__)
            rule.target = _login_required(rule.target)
    return guarded


def require_login_everywhere(web_app: web.Application) -> list[str]:
    """Wrap every unauthenticated handler class in ``web_app``; returns the names wrapped."""
    return _guard_rules(web_app.default_router.rules) + _guard_rules(web_app.wildcard_router.rules)


def _load_jupyter_server_extension(server_app: Any) -> None:
    web_app = server_app.web_app

    def sweep() -> None:
        show_error_messages(web_app)
        wrapped = require_login_everywhere(web_app)
        if wrapped:
            server_app.log.info("LungDx: login required for %s", ", ".join(sorted(set(wrapped))))

    sweep()
    IOLoop.current().add_callback(sweep)
    start_model_process(server_app)


#: Voila's error page shows only the status line; a refusal's message (the dashboard cap: what to do, in the
#: reader's language) needs the page body. jupyter_server renders ``<status>.html`` before ``error.html``.
_ERROR_PAGES = {f"{code}.html": ('{% extends "error.html" %}{% block error_detail %}'
                                 '<p id="lungdx-error-message">{{ message | e }}</p>{% endblock %}')
                for code in (429,)}


def show_error_messages(web_app: web.Application) -> None:
    """Put :data:`_ERROR_PAGES` in front of Voila's templates (once Voila has registered its environment)."""
    env = web_app.settings.get("voila_jinja2_env")
    if env is None or getattr(env, "_lungdx_error_pages", False):
        return
    env.loader = ChoiceLoader([DictLoader(_ERROR_PAGES), env.loader])
    env._lungdx_error_pages = True


def start_model_process(server_app: Any) -> None:
    """One model for every kernel of this server (``Settings.shared_model``); see :mod:`.model_process`."""
    from ..config import get_settings
    from .model_process import ModelProcess

    if not get_settings().shared_model:
        return
    process = ModelProcess(server_app.log)
    process.watch()
    process.announce()
    server_app.web_app.settings["lungdx_model_process"] = process
