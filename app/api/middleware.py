"""One ASGI middleware for what every response needs: limits and headers.

* request bodies above a limit are refused with 413 before they are read
  whole (checked on Content-Length and while streaming);
* a token bucket per caller (API token, else client address) answers 429
  with Retry-After when exceeded;
* security headers on every response, and a structured access log line
  (method, path, status, duration, party — never a token or a body).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("custody.access")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), geolocation=(), microphone=()"),
]
# The API (/api/…) serves data, never anything a browser should run: a policy that
# allows nothing at all.
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
# Every page (everything outside /api, the interactive docs at /docs included — their
# Swagger UI is vendored under /static): our own scripts, styles and images only — no
# inline script, style or event handler can run, so an injected string cannot become
# code. Camera frames and generated images come as blob:/data: URLs (Swagger UI's CSS
# icons are data: images too). The only worker is our own service worker (/sw.js, the
# install page's offline copy).
PAGE_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    b"media-src 'self' blob:; connect-src 'self'; worker-src 'self'; frame-ancestors 'none'; "
    b"base-uri 'none'; form-action 'self'"
)


def csp_for(path: str) -> bytes:
    if path.startswith("/api/"):
        return API_CSP
    return PAGE_CSP


#: Paths that carry a secret (a one-time sign-in token): logged without it.
SECRET_PATHS = ("/login/link/",)


def loggable_path(path: str) -> str:
    for prefix in SECRET_PATHS:
        if path.startswith(prefix):
            return prefix + "…"
    return path


#: ``Authorization: Bearer kcl_…`` exactly as tokens are issued (app.services.tokens).
BEARER_TOKEN = re.compile(rb"Bearer kcl_[A-Za-z0-9_-]{43}")
#: Sign-in attempts (POST /login…) per client address: 10 at once, then one every 5 s.
SIGN_IN_RATE = 0.2
SIGN_IN_BURST = 10


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets: ``rate`` requests per second sustained, ``burst`` at once."""

    def __init__(self, rate: float, burst: int, max_keys: int = 50_000) -> None:
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def _evict(self, moment: float) -> None:
        # Never empty the table: that would hand every caller a fresh burst, and anyone
        # able to create keys could reset everyone's limits. A bucket that has refilled
        # is the same as a new one, so dropping it loses nothing; if the table is still
        # too full, the fullest buckets go next — the callers being held back (nearly
        # empty buckets) are the ones worth remembering.
        def level(bucket: _Bucket) -> float:
            return min(float(self.burst), bucket.tokens + (moment - bucket.updated) * self.rate)

        fullest_first = sorted(self._buckets, key=lambda k: level(self._buckets[k]), reverse=True)
        excess = len(self._buckets) - self.max_keys // 2
        for key in fullest_first:
            if excess <= 0 and level(self._buckets[key]) < self.burst:
                break
            del self._buckets[key]
            excess -= 1

    def take(self, key: str, now: float | None = None) -> float:
        """0 if allowed, else the seconds until the next request would be."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._evict(moment)
                bucket = self._buckets[key] = _Bucket(float(self.burst), moment)
            bucket.tokens = min(self.burst, bucket.tokens + (moment - bucket.updated) * self.rate)
            bucket.updated = moment
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate


def _problem(status: int, code: str, detail: str, path: str) -> bytes:
    return json.dumps(
        {
            "type": f"urn:kcl:problem:{code}",
            "title": detail,
            "status": status,
            "detail": detail,
            "code": code,
            "instance": path,
        }
    ).encode()


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        limiter: RateLimiter,
        hsts: bool = False,
        sign_in_limiter: RateLimiter | None = None,
    ) -> None:
        self.app, self.max_body, self.limiter, self.hsts = app, max_body, limiter, hsts
        self.sign_in_limiter = sign_in_limiter or RateLimiter(SIGN_IN_RATE, SIGN_IN_BURST)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope.get("path", "")
        headers = dict(scope.get("headers") or [])
        status_holder = {"status": 500}
        csp = csp_for(path)
        # Static assets may be revalidated from the browser cache; everything else is personal.
        cache = b"no-cache" if path.startswith("/static/") else b"no-store"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                extra = list(SECURITY_HEADERS)
                extra.append((b"content-security-policy", csp))
                extra.append((b"cache-control", cache))
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        async def refuse(
            status: int, code: str, detail: str, extra: list[tuple[bytes, bytes]] | None = None
        ) -> None:
            body = _problem(status, code, detail, path)
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(body)).encode()),
                        *(extra or []),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

        try:
            # Rate limit: per API token (hashed, never logged), else per client address.
            # Only an API request with a well-formed bearer token gets a bucket of its own:
            # any other Authorization value would let a client pick a fresh bucket per
            # request. Sign-in (scrypt, ~50 ms of CPU a try) has a tighter bucket per
            # address on top.
            client = scope.get("client") or ("?", 0)
            auth = headers.get(b"authorization", b"")
            if path.startswith("/api/") and BEARER_TOKEN.fullmatch(auth):
                key = "t:" + hashlib.sha256(auth).hexdigest()[:16]
            else:
                key = f"a:{client[0]}"
            wait = self.limiter.take(key)
            if wait == 0 and scope.get("method") == "POST" and path.startswith("/login"):
                wait = self.sign_in_limiter.take(f"a:{client[0]}")
            if wait > 0:
                await refuse(
                    429,
                    "http.rate_limited",
                    "too many requests",
                    [(b"retry-after", str(max(1, int(wait + 0.999))).encode())],
                )
                return
            # Body size: declared length first, then as it streams in.
            declared = headers.get(b"content-length")
            if declared is not None:
                try:
                    if int(declared) > self.max_body:
                        await refuse(413, "http.too_large", f"request body larger than {self.max_body} bytes")
                        return
                except ValueError:
                    await refuse(400, "http.bad_request", "invalid Content-Length")
                    return
            received = 0
            too_large = False

            async def limited_receive() -> Message:
                nonlocal received, too_large
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body:
                        too_large = True
                        raise _BodyTooLarge
                return message

            refused = False

            async def app_send(message: Message) -> None:
                # The framework turns an exception raised while it reads the body into its
                # own 400 ("error parsing the body"); the answer to an oversized body is 413
                # whatever the route made of the truncated stream, so it replaces theirs.
                nonlocal refused
                if too_large:
                    if not refused:
                        refused = True
                        await refuse(413, "http.too_large", f"request body larger than {self.max_body} bytes")
                    return
                await send_with_headers(message)

            try:
                await self.app(scope, limited_receive, app_send)
            except _BodyTooLarge:
                if not refused:
                    await refuse(413, "http.too_large", f"request body larger than {self.max_body} bytes")
        finally:
            state = scope.get("state") or {}
            log.info(
                "request",
                method=scope.get("method"),
                path=loggable_path(path),
                status=status_holder["status"],
                ms=round((time.perf_counter() - started) * 1000, 2),
                party=state.get("party"),
            )


class _BodyTooLarge(Exception):
    pass
