"""Slow down password guessing: a few failures per login, then a pause.

Per server process and in memory (a restart forgets): it bounds online
guessing against one login to :data:`MAX_FAILURES` per :data:`WINDOW`
seconds and process, on top of scrypt's cost per attempt and the edge rate
limit per address. A refused attempt looks exactly like a wrong password,
so the throttle tells an attacker nothing about the login.
"""

from __future__ import annotations

import threading
import time

MAX_FAILURES = 10
WINDOW = 15 * 60.0
#: Logins with recent failures remembered per process (memory stays bounded).
MAX_LOGINS = 100_000


class SignInThrottle:
    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW) -> None:
        self.max_failures, self.window = max_failures, window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, login: str, now: float) -> list[float]:
        recent = [t for t in self._failures.get(login, []) if now - t < self.window]
        if recent:
            self._failures[login] = recent
        else:
            self._failures.pop(login, None)
        return recent

    def allowed(self, login: str, now: float | None = None) -> bool:
        with self._lock:
            return len(self._recent(login.strip().lower(), now or time.monotonic())) < self.max_failures

    def failed(self, login: str, now: float | None = None) -> None:
        """Count a wrong password. An attempt the throttle refused is not counted again:
        else anyone could keep a known login locked for good by trying on a schedule."""
        moment = now or time.monotonic()
        with self._lock:
            key = login.strip().lower()
            recent = self._recent(key, moment)
            if len(recent) >= self.max_failures:
                return
            if key not in self._failures and len(self._failures) >= MAX_LOGINS:
                # Never forget everything at once (that would reset every lockout); expired
                # entries go first, then the logins whose last failure is oldest.
                for stale in list(self._failures):
                    self._recent(stale, moment)
                if len(self._failures) >= MAX_LOGINS:
                    oldest = sorted(self._failures, key=lambda k: self._failures[k][-1])
                    for gone in oldest[: len(self._failures) - MAX_LOGINS // 2]:
                        del self._failures[gone]
            self._failures[key] = [*recent, moment]

    def succeeded(self, login: str) -> None:
        with self._lock:
            self._failures.pop(login.strip().lower(), None)
