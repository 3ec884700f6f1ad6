"""The user store as the server sees it: look-ups on the event loop, password checks off it.

SQLite connections must stay in the thread that opened them, so each thread (the event loop,
the login worker) keeps its own ``Store``. Password verification (scrypt, deliberately slow) runs
on a small dedicated pool so that a burst of logins can neither block other requests nor take
every CPU.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from ..store import Store
    from ..store.records import User
    from ..store.throttle import ThrottleClaim, ThrottleLimit

T = TypeVar("T")

#: Longest username accepted from the login form (longer input is cut before it reaches the audit log).
MAX_USERNAME_CHARS = 150


def clean_username(raw: str) -> str:
    """Typed username made safe for the audit log: printable characters only, bounded length."""
    return "".join(c for c in raw.strip() if c.isprintable())[:MAX_USERNAME_CHARS]


class Accounts:
    def __init__(self, db_path: Path | str | None = None, login_workers: int = 1) -> None:
        self._db_path = db_path
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=login_workers, thread_name_prefix="lungdx-login")

    def _store(self) -> "Store":
        store = getattr(self._local, "store", None)
        if store is None:
            from ..store import open_store

            store = self._local.store = open_store(self._db_path)
        return store

    def lookup(self, username: str) -> "User | None":
        """Current role and ``disabled`` flag, read fresh (called on every request)."""
        return self._store().get_user(username)

    def session_key(self, username: str) -> str | None:
        """Changes with the password: sessions are bound to it."""
        return self._store().session_key(username)

    async def authenticate(self, username: str, password: str) -> "User | None":
        """Verify off the event loop; the store writes the login audit row (ok / denied)."""
        return await self._run(lambda: self._store().authenticate(username, password))

    async def claim(self, limits: "list[ThrottleLimit]", now: float) -> "ThrottleClaim":
        """Count a login attempt before its password is checked (atomic: one transaction)."""
        return await self._run(lambda: self._store().claim_attempt(limits, now))

    async def release(self, row_ids: tuple[int, ...], clear_keys: list[str]) -> None:
        await self._run(lambda: self._store().release_attempt(row_ids, clear_keys))

    def last_logout(self, username: str) -> float | None:
        """Sessions of ``username`` issued at or before this time are void (kept across restarts)."""
        return self._store().last_logout(username)

    def record_logout(self, username: str, at: float) -> None:
        self._store().record_logout(username, at)

    async def _run(self, job: "Callable[[], T]") -> "T":
        """On the login worker: the store's writes never block the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, job)

    async def audit(self, actor: str, action: str, obj: str, outcome: str = "ok", detail: str = "") -> None:
        await self._run(lambda: self._store().audit(actor, action, obj, outcome=outcome, detail=detail))
