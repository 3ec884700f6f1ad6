"""Which URL paths a clinician may reach, and which anyone may reach before logging in.

The Authorizer is never consulted for ``/lab``, ``/voila/*`` or ``/lab/api/*`` (they only check
that *someone* is logged in), so path rules live here and are applied by the identity provider
on every request. They are an allowlist (default deny) matched against a canonical form of the
path: percent-decoding is undone repeatedly, and anything ambiguous (``..``, ``.``, empty
segments, backslashes, NUL) is refused outright instead of being normalised, so ``%2E%2E``,
``/./`` or ``//`` cannot smuggle a request past the rules. Case is never folded: a path in another
case is simply not on the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

DASHBOARD_PATH = "/voila/render/notebooks/dashboard.ipynb"

_KERNEL_ID = r"(?P<kernel_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
_ASSET = r"[A-Za-z0-9_.@~+-]+(?:/[A-Za-z0-9_.@~+-]+)*"
_MAX_DECODE_ROUNDS = 3


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    #: The route names a kernel that must belong to the requesting user.
    owned_kernel: bool = False


def _route(methods: str, pattern: str, owned_kernel: bool = False) -> Route:
    return Route(frozenset(methods.split()), re.compile(pattern), owned_kernel)


#: Everything a clinician's browser needs to use the dashboard, and nothing else.
CLINICIAN_ROUTES: tuple[Route, ...] = (
    _route("GET HEAD", r"/?"),
    _route("GET HEAD POST", r"/login|/logout"),
    _route("GET HEAD", re.escape(DASHBOARD_PATH)),
    _route("GET HEAD", rf"/static/{_ASSET}"),
    _route("GET HEAD", rf"/voila/(?:static|labextensions|api/themes)/{_ASSET}"),
    _route("GET HEAD", rf"/voila/templates/[A-Za-z0-9_-]+/static/{_ASSET}"),
    _route("GET", rf"/api/kernels/{_KERNEL_ID}(?:/channels)?", owned_kernel=True),
    _route("POST", rf"/voila/api/shutdown/{_KERNEL_ID}", owned_kernel=True),
    # The pages' Content-Security-Policy reports violations here (logged by jupyter_server).
    _route("POST", r"/api/security/csp-report"),
)

#: What anyone may fetch without a session: the login page and the server's own static assets.
PUBLIC_ROUTES: tuple[Route, ...] = (
    _route("GET HEAD", r"/?"),
    _route("GET HEAD POST", r"/login|/logout"),
    _route("GET HEAD", rf"/static/{_ASSET}"),
    _route("GET HEAD", r"/favicon\.ico"),
)


def canonical_path(raw_path: str, base_url: str = "/") -> str | None:
    """The decoded path below ``base_url``; ``None`` when it is ambiguous or outside it."""
    path = raw_path
    for _ in range(_MAX_DECODE_ROUNDS):
        try:
            decoded = unquote(path, errors="strict")
        except UnicodeDecodeError:
            return None
        if decoded == path:
            break
        path = decoded
    else:
        return None  # still encoded after several rounds: nobody legitimate does that
    if "\\" in path or "\x00" in path or "%" in path:
        return None
    prefix = base_url.rstrip("/")
    if prefix:
        if path != prefix and not path.startswith(prefix + "/"):
            return None
        path = path[len(prefix):] or "/"
    segments = path.split("/")
    if segments[0] != "" or any(s in (".", "..") for s in segments):
        return None
    if any(s == "" for s in segments[1:-1]):  # '//' anywhere but a trailing '/'
        return None
    return path


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: When set, the request is allowed only if this kernel belongs to the user.
    kernel_id: str | None = None


DENY = Decision(False)


def match(routes: tuple[Route, ...], method: str, raw_path: str, base_url: str = "/") -> Decision:
    """First route that fits ``method`` and the canonical path; deny when none does."""
    path = canonical_path(raw_path, base_url)
    if path is None:
        return DENY
    for route in routes:
        if method in route.methods:
            m = route.pattern.fullmatch(path)
            if m:
                return Decision(True, m.group("kernel_id") if route.owned_kernel else None)
    return DENY
