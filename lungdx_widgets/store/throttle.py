"""Login-throttle counters and logout times, in the database so a restart forgets neither.

The server's policy (which keys, which limits) lives in ``server/throttle.py``; the store only
offers one atomic step: *refuse if any limit is reached, else count this attempt under every key*,
inside one ``BEGIN IMMEDIATE`` transaction. Counting before the password is checked is what makes
a burst of simultaneous logins unable to get more checks than the limit allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .base import StoreBase


@dataclass(frozen=True)
class ThrottleLimit:
    """At most ``attempts`` counted attempts under ``key`` within ``window_seconds``."""

    key: str
    attempts: int
    window_seconds: float


@dataclass(frozen=True)
class ThrottleClaim:
    """``retry_after`` > 0: refused (seconds to wait); else the rows that now count this attempt."""

    retry_after: float
    row_ids: tuple[int, ...] = ()


def _wait(times: Sequence[float], limit: ThrottleLimit, now: float) -> float:
    """Seconds until fewer than ``limit.attempts`` of ``times`` (ascending, in the window) remain."""
    if len(times) < limit.attempts:
        return 0.0
    return max(0.0, times[len(times) - limit.attempts] + limit.window_seconds - now)


class ThrottleMixin(StoreBase):
    def claim_attempt(self, limits: Sequence[ThrottleLimit], now: float) -> ThrottleClaim:
        """Atomically refuse (every limit checked) or count one attempt under every key."""
        longest = max((lim.window_seconds for lim in limits), default=0.0)
        with self.transaction():
            self.conn.execute("DELETE FROM login_throttle WHERE time < ?", (now - longest,))
            wait = 0.0
            for lim in limits:
                rows = self.conn.execute("SELECT time FROM login_throttle WHERE key = ? AND time > ? ORDER BY time",
                                         (lim.key, now - lim.window_seconds)).fetchall()
                wait = max(wait, _wait([r[0] for r in rows], lim, now))
            if wait > 0:
                return ThrottleClaim(wait)
            ids = tuple(self._insert("login_throttle", {"key": lim.key, "time": now}) for lim in limits)
        return ThrottleClaim(0.0, ids)

    def release_attempt(self, row_ids: Iterable[int], clear_keys: Iterable[str] = ()) -> None:
        """A successful login: its own counted rows go, and so does every row under ``clear_keys``."""
        with self.transaction():
            self.conn.executemany("DELETE FROM login_throttle WHERE id = ?", [(i,) for i in row_ids])
            self.conn.executemany("DELETE FROM login_throttle WHERE key = ?", [(k,) for k in clear_keys])

    def clear_throttle(self, account: str, actor: str) -> int:
        """Administrator's unlock: forget every counted attempt on ``account`` (all addresses, devices)."""
        patterns = [(f"pair:{account}|", True), (f"device:{account}:", True), (f"user:{account}", False)]
        removed = 0
        with self.transaction():
            for key, is_prefix in patterns:
                sql = ("DELETE FROM login_throttle WHERE substr(key, 1, ?) = ?" if is_prefix
                       else "DELETE FROM login_throttle WHERE length(key) = ? AND key = ?")
                removed += self.conn.execute(sql, (len(key), key)).rowcount
            self.audit(actor, "unlock_login", f"user:{account}", detail=f"rows={removed}")
        return removed

    # -- logout: sessions issued before it are void, also after a restart -------------------------
    def record_logout(self, username: str, at: float) -> None:
        with self.transaction():
            self.conn.execute("INSERT INTO session_logouts (username, time) VALUES (?, ?) "
                              "ON CONFLICT (username) DO UPDATE SET time = CASE WHEN excluded.time > session_logouts.time "
                              "THEN excluded.time ELSE session_logouts.time END", (username, at))

    def last_logout(self, username: str) -> float | None:
        row = self.conn.execute("SELECT time FROM session_logouts WHERE username = ?", (username,)).fetchone()
        return float(row[0]) if row else None
