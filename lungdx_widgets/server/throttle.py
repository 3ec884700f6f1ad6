"""Login rate limiting: slow down password guessing against one account or from one address.

Failures are counted per key (the username, and separately the client address) inside a
sliding window; once a key reaches its limit, further attempts are refused *without checking
the password* until the oldest failure leaves the window. In memory: a restart forgets the
counts, which is acceptable because restarting the server is itself slow and logged.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    def __init__(self, max_failures: int, window_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        now = self._clock()
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_seconds:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0 when it may try now)."""
        times = self._recent(key)
        if len(times) < self.max_failures:
            return 0.0
        return max(0.0, self.window_seconds - (self._clock() - times[0]))

    def record_failure(self, key: str) -> None:
        self._recent(key)
        self._failures.setdefault(key, deque()).append(self._clock())

    def forget(self, key: str) -> None:
        """A successful login clears that key's failures."""
        self._failures.pop(key, None)
