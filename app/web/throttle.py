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
        moment = now or time.monotonic()
        with self._lock:
            if len(self._failures) > 100_000:
                self._failures.clear()
            key = login.strip().lower()
            self._failures[key] = [*self._recent(key, moment), moment]

    def succeeded(self, login: str) -> None:
        with self._lock:
            self._failures.pop(login.strip().lower(), None)
