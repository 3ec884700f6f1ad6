"""Who is making this request: the login session, backed by the LungDx user store.

jupyter_server calls :meth:`LungDxIdentityProvider.get_user` in every handler's ``prepare()``
(and :mod:`.extension` makes the plain tornado handlers call it too), so this is the one place
that

* reads the signed session cookie — it holds the username, when it was issued and a digest of
  the password hash (so a password change ends every session), never the role;
* re-reads role and ``disabled`` from the store, so revoking access takes effect on the next
  request, not at the next login;
* enforces the clinicians' path allowlist (:mod:`.routes`), which the Authorizer cannot do
  because it is never asked about ``/lab`` or ``/voila/*``;
* replaces any client-sent ``X-LungDx-User`` header with the real username, so the Voila kernel
  (``HTTP_X_LUNGDX_USER``) audits under the person who logged in, never a claimed name.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyter_server.auth import IdentityProvider, User
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.login import LoginFormHandler
from markupsafe import Markup
from tornado import web
from traitlets import Bool, Type, default

from ..config import PROJECT_ROOT, get_settings
from ..i18n import N_, page_language  # messages are translated by the login template
from ..policy import Permission, can
from . import routes
from .accounts import Accounts, clean_username
from .file_audit import audited_read, patient_data_dirs
from .throttle import ThrottlePolicy, account_key, wait_message

#: Request header Voila turns into ``HTTP_X_LUNGDX_USER`` in the kernel (see launch.server_argv).
IDENTITY_HEADER = "X-LungDx-User"
#: Query parameters Voila turns into folder names, and what such a name may look like.
_FOLDER_PARAMS = ("template", "theme")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: How long a browser stays "known" to an account after a successful login (see throttle.py).
DEVICE_COOKIE_DAYS = 90

_templates = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                         autoescape=select_autoescape(["html"]))


@dataclass
class LungDxUser(User):
    """jupyter_server's user plus the LungDx role (``clinician`` | ``analyst`` | ``admin``)."""

    role: str = "clinician"
    #: The account's interface language ("" = follow the browser), for pages the server itself writes.
    language: str = ""


@dataclass(frozen=True)
class LoginResult:
    user: LungDxUser | None
    status: int
    message: str = ""


def _as_user(record: Any) -> LungDxUser:
    """The store's ``User`` record as jupyter_server's user model."""
    return LungDxUser(username=record.username, name=record.display_name,
                      display_name=record.display_name, role=record.role,
                      language=getattr(record, "language", "") or "")


def is_restricted(user: Any) -> bool:
    """Roles without the whole server (:attr:`Permission.USE_SERVER`; unknown roles too) get the
    dashboard-only allowlist and websocket filter (see SECURITY.md)."""
    return not can(getattr(user, "role", None), Permission.USE_SERVER)


def _replace_identity_header(handler: web.RequestHandler, username: str | None) -> None:
    headers = handler.request.headers
    for name in [n for n in headers if n.lower().replace("_", "-") == IDENTITY_HEADER.lower()]:
        del headers[name]
    if username:
        headers[IDENTITY_HEADER] = username


def _base_url(handler: web.RequestHandler) -> str:
    return handler.settings.get("base_url", "/") or "/"


def _refuse(handler: web.RequestHandler) -> None:
    """403, with the handler marked as anonymous so the error page can render."""
    handler.current_user = None
    handler._jupyter_current_user = None  # type: ignore[attr-defined]
    raise web.HTTPError(403)


def _check_query(handler: web.RequestHandler) -> None:
    """Voila picks a template/theme folder from ``?template=``/``?theme=``: only plain names pass
    (``../..`` gave an unhandled 500); launch also turns the overrides off, so a name is ignored."""
    if not (routes.canonical_path(handler.request.path, _base_url(handler)) or "/voila/").startswith("/voila/"):
        return
    for name in _FOLDER_PARAMS:
        for value in handler.request.query_arguments.get(name, []):
            if not _PLAIN_NAME.fullmatch(value.decode("utf-8", "replace")):
                handler.current_user = None
                handler._jupyter_current_user = None  # type: ignore[attr-defined]
                raise web.HTTPError(400, f"No such {name}.")


def _allows_anonymous(handler: web.RequestHandler) -> bool:
    method = getattr(handler, (handler.request.method or "").lower(), None)
    return bool(getattr(method, "__allow_unauthenticated", False))


class LungDxIdentityProvider(IdentityProvider):
    """Session cookie → store user; login, logout and throttling of password guesses."""

    login_handler_class = Type("lungdx_widgets.server.identity.LoginHandler", klass=web.RequestHandler)
    logout_handler_class = Type("lungdx_widgets.server.identity.LogoutHandler", klass=web.RequestHandler)
    need_token = Bool(False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        s = get_settings()
        self.session_seconds = s.session_seconds
        self.accounts = Accounts(s.store_target)
        self.throttle = ThrottlePolicy(s.login_max_failures, s.login_window_seconds)
        self._data_dirs: list[str] | None = None

    # -- no Jupyter token: the only way in is a LungDx login ------------------------------
    @property
    def auth_enabled(self) -> bool:
        return True

    @default("token")
    def _no_token(self) -> str:
        return ""

    async def get_user_token(self, handler: web.RequestHandler) -> User | None:  # type: ignore[override]
        return None

    # -- every request -----------------------------------------------------------------------
    async def get_user(self, handler: web.RequestHandler) -> LungDxUser | None:  # type: ignore[override]
        cached = getattr(handler, "_lungdx_user", None)
        if cached is not None:
            return cached
        _replace_identity_header(handler, None)
        _check_query(handler)
        username = self._session_username(handler)
        record = self.accounts.lookup(username) if username else None
        if record is None or record.disabled:
            if username:
                self.clear_login_cookie(handler)
            self._check_anonymous_route(handler)
            return None
        user = _as_user(record)
        self._check_route(handler, user)
        await self._audit_file_read(handler, user)
        _replace_identity_header(handler, user.username)
        handler._lungdx_user = user  # type: ignore[attr-defined]
        return user

    async def _audit_file_read(self, handler: web.RequestHandler, user: LungDxUser) -> None:
        """One ``read_file`` audit row when a request reads a file in a patient-data folder."""
        path = routes.canonical_path(handler.request.path, _base_url(handler))
        if path is None:
            return
        if self._data_dirs is None:
            self._data_dirs = patient_data_dirs(Path(handler.settings.get("server_root_dir") or PROJECT_ROOT))
        target = audited_read(handler.request.method or "", path, handler.get_query_argument("content", None),
                              self._data_dirs)
        if target:
            await self.accounts.audit(user.username, "read_file", f"file:{target}",
                                      detail=f"{handler.request.method} {path}")

    def session_still_valid(self, handler: web.RequestHandler) -> bool:
        """Re-check a long-lived connection (a kernel websocket) against logout, password change,
        expiry and ``disabled``: authentication at the handshake alone would outlive all of them."""
        user = getattr(handler, "_lungdx_user", None)
        username = self._session_username(handler)
        record = self.accounts.lookup(username) if username else None
        return bool(user and record and not record.disabled and record.username == user.username
                    and record.role == user.role)

    def _check_anonymous_route(self, handler: web.RequestHandler) -> None:
        """Handlers that opt out of login must still be on the public list (default deny)."""
        request = handler.request
        if _allows_anonymous(handler) and not routes.match(
                routes.PUBLIC_ROUTES, request.method or "", request.path, _base_url(handler)).allowed:
            _refuse(handler)

    def _check_route(self, handler: web.RequestHandler, user: LungDxUser) -> None:
        if not is_restricted(user):
            return
        request = handler.request
        decision = routes.match(routes.CLINICIAN_ROUTES, request.method or "", request.path, _base_url(handler))
        if decision.allowed and decision.kernel_id is not None:
            owner_of = getattr(handler.settings.get("kernel_manager"), "owner_of", None)
            if owner_of is None or owner_of(decision.kernel_id) != user.username:
                decision = routes.DENY
        if not decision.allowed:
            self.log.warning("Refused %s %s to %s (%s)", request.method, request.path, user.username, user.role)
            _refuse(handler)

    # -- the session cookie ------------------------------------------------------------------
    def get_cookie_name(self, handler: web.RequestHandler) -> str:
        return "lungdx-session-" + super().get_cookie_name(handler)

    def _session_username(self, handler: web.RequestHandler) -> str | None:
        raw = handler.get_secure_cookie(self.get_cookie_name(handler),
                                        max_age_days=self.session_seconds / 86400)
        if not raw:
            return None
        try:
            data = json.loads(raw)
            username, issued, key = str(data["u"]), float(data["t"]), str(data["k"])
        except (ValueError, KeyError, TypeError):
            return None
        if not (0 <= time.time() - issued < self.session_seconds):
            return None
        logged_out = self.accounts.last_logout(username)
        if logged_out is not None and issued <= logged_out:
            return None
        current_key = self.accounts.session_key(username)
        if current_key is None or not hmac.compare_digest(key, current_key):
            return None  # the password changed since this session began
        return username

    def set_login_cookie(self, handler: web.RequestHandler, user: User) -> None:
        value = json.dumps({"u": user.username, "t": time.time(), "k": self.accounts.session_key(user.username)})
        handler.set_secure_cookie(self.get_cookie_name(handler), value, path=_base_url(handler),
                                  expires_days=self.session_seconds / 86400, httponly=True,
                                  samesite="Lax", secure=self._secure(handler))

    def _secure(self, handler: web.RequestHandler) -> bool:
        """``IdentityProvider.secure_cookie`` when set (behind a TLS proxy), else "is this HTTPS"."""
        return bool(self.secure_cookie if self.secure_cookie is not None else handler.request.protocol == "https")

    def clear_login_cookie(self, handler: web.RequestHandler) -> None:
        handler.clear_cookie(self.get_cookie_name(handler), path=_base_url(handler))

    # -- the device cookie: "this browser has logged into this account before" ------------------
    def _device_cookie_name(self, handler: web.RequestHandler) -> str:
        return "lungdx-device-" + super().get_cookie_name(handler)

    def _device_of(self, handler: web.RequestHandler, account: str) -> str | None:
        """The device id of a browser that logged into ``account`` before, else None."""
        raw = handler.get_secure_cookie(self._device_cookie_name(handler), max_age_days=DEVICE_COOKIE_DAYS)
        try:
            data = json.loads(raw) if raw else {}
            return str(data["d"]) if data.get("u") == account else None
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def _set_device_cookie(self, handler: web.RequestHandler, account: str, device: str | None) -> None:
        value = json.dumps({"u": account, "d": device or secrets.token_hex(16)})
        handler.set_secure_cookie(self._device_cookie_name(handler), value, path=_base_url(handler),
                                  expires_days=DEVICE_COOKIE_DAYS, httponly=True, samesite="Lax",
                                  secure=self._secure(handler))

    # -- login / logout ----------------------------------------------------------------------
    async def login(self, handler: web.RequestHandler, username: str, password: str) -> LoginResult:
        """Check a login attempt (throttled, audited by the store). Passwords are never logged."""
        account = account_key(username)
        device = self._device_of(handler, account)
        limits = self.throttle.limits(account, handler.request.remote_ip or "unknown", device)
        # Counted before the password is checked: simultaneous attempts cannot all get a check.
        claim = await self.accounts.claim(limits, time.time())
        if claim.retry_after > 0:
            await self.accounts.audit(username, "login", f"user:{username}", outcome="rate_limited",
                                      detail="known device" if device else "")
            return LoginResult(None, 429, wait_message(claim.retry_after))
        record = await self.accounts.authenticate(username, password)
        if record is None:
            return LoginResult(None, 401, N_("Wrong username or password."))
        await self.accounts.release(claim.row_ids, self.throttle.cleared_on_success(limits))
        self._set_device_cookie(handler, account, device)
        return LoginResult(_as_user(record), 302)

    async def logout(self, handler: web.RequestHandler) -> None:
        """Void every session of this user issued so far (also copies of the cookie) and audit it."""
        username = self._session_username(handler)
        self.clear_login_cookie(handler)
        if username:
            self.accounts.record_logout(username, time.time())
            await self.accounts.audit(username, "logout", f"user:{username}")


def render_login(handler: web.RequestHandler, message: str = "", kind: str = "error",
                 username: str = "", next_url: str | None = None, confirm_logout: bool = False) -> str:
    """The login form, or (``confirm_logout``) the button that POSTs a logout with the ``_xsrf`` token."""
    base = _base_url(handler)
    return _templates.get_template("login.html").render(
        action=base + "login", next_url=next_url or handler.get_argument("next", base),
        message=message, message_kind=kind, username=username,
        logout_action=base + "logout" if confirm_logout else "",
        xsrf_form_html=Markup(handler.xsrf_form_html()),
        **page_language(handler.request.headers.get("Accept-Language")),  # <html lang>, _() (i18n)
    )


class _AuthPage(LoginFormHandler):
    """Shared by the login and logout pages (``LoginFormHandler`` brings the safe ``next`` redirect)."""

    @property
    def idp(self) -> LungDxIdentityProvider:
        return self.identity_provider  # type: ignore[return-value]

    def show_form(self, message: str = "", kind: str = "error", username: str = "",
                  next_url: str | None = None, confirm_logout: bool = False) -> None:
        self.set_header("Cache-Control", "no-store")
        self.write(render_login(self, message, kind=kind, username=username, next_url=next_url,
                                confirm_logout=confirm_logout))


class LoginHandler(_AuthPage):
    """``/login``: the form (GET) and the password check (POST, needs ``_xsrf``)."""

    @allow_unauthenticated
    def get(self) -> None:
        if self.current_user:
            self._redirect_safe(self.get_argument("next", default=self.base_url))
        else:
            self.show_form()

    @allow_unauthenticated
    async def post(self) -> None:
        username = clean_username(self.get_body_argument("username", ""))
        password = self.get_body_argument("password", "")
        result = await self.idp.login(self, username, password)
        user = result.user
        if user is None:
            self.set_status(result.status)
            self.show_form(result.message, username=username)
            return
        self.log.info("User %s logged in (%s).", user.username, user.role)
        self.current_user = user
        self.idp.set_login_cookie(self, user)
        self._redirect_safe(self.get_argument("next", default=self.base_url))


class LogoutHandler(_AuthPage):
    """``/logout``: GET only asks (a cross-site link or image must not end anyone's sessions);
    the POST it sends carries the ``_xsrf`` token, which tornado checks, and ends them."""

    @allow_unauthenticated
    async def get(self) -> None:
        user = self.current_user
        if user:
            self.show_form(username=user.username, confirm_logout=True)
        else:
            self.show_form(N_("You are logged out."), kind="info", next_url=self.base_url)

    @allow_unauthenticated
    async def post(self) -> None:
        await self.idp.logout(self)
        self.show_form(N_("You are logged out."), kind="info", next_url=self.base_url)
