"""Web sessions: one database row per signed-in browser.

The cookie carries 256 random bits; only their SHA-256 is stored, so a
database leak yields no usable session. Rows (rather than a signed cookie)
make sign-out, disabling a person and expiry take effect on the server,
not only in the browser. Each session has its own CSRF token, which pages
embed in forms and send as ``X-CSRF-Token``.

A verified session is answered from memory for a few seconds (as API
tokens are); sign-out in this process takes effect at once, in other
server processes within :data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from app.services.context import LedgerContext
from app.services.people import Person, effective_roles, get_person
from app.services.short_cache import ShortLivedCache
from app.services.tokens import Forbidden
from app.tables import WEB_SESSIONS, WEB_USERS
from ledger.encoding import b64url_encode
from ledger.times import format_timestamp, parse_timestamp

SESSION_BYTES = 32
CACHE_SECONDS = 5.0
DEFAULT_LIFETIME = timedelta(hours=12)


class CsrfRefused(Forbidden):
    """An unsafe request authenticated by a session cookie without the session's CSRF token."""

    code = "auth.csrf"


@dataclass(frozen=True)
class WebSession:
    """Who is signed in: the person, the party they act for, their effective roles, the CSRF token."""

    login: str
    display_name: str
    party: str
    roles: frozenset[str]
    csrf: str
    expires_at: str

    def has_any(self, roles: frozenset[str] | set[str]) -> bool:
        return bool(self.roles & roles)

    def csrf_matches(self, presented: str | None) -> bool:
        # Constant time: the token is a secret an attacker would like to guess byte by byte.
        return bool(presented) and hmac.compare_digest(presented.encode(), self.csrf.encode())  # type: ignore[union-attr]


def digest_of(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def create_session(
    ctx: LedgerContext, person: Person, lifetime: timedelta = DEFAULT_LIFETIME
) -> tuple[str, WebSession]:
    """A new session for ``person``; returns the cookie value (shown once) and the session."""
    session_id = b64url_encode(ctx.random_bytes(SESSION_BYTES))
    csrf = b64url_encode(ctx.random_bytes(SESSION_BYTES))
    now = ctx.clock()
    expires_at = format_timestamp(now + lifetime)
    with ctx.engine.begin() as conn:
        # Sign-ins are rare: a good moment to forget sessions that have expired.
        conn.execute(WEB_SESSIONS.delete().where(WEB_SESSIONS.c.expires_at < format_timestamp(now)))
        conn.execute(
            WEB_SESSIONS.insert(),
            {
                "digest": digest_of(session_id),
                "login": person.login,
                "csrf": csrf,
                "created_at": format_timestamp(now),
                "expires_at": expires_at,
            },
        )
    return session_id, WebSession(
        person.login,
        person.display_name,
        person.party,
        effective_roles(ctx, person),
        csrf,
        expires_at,
    )


def end_session(ctx: LedgerContext, session_id: str) -> None:
    digest = digest_of(session_id)
    with ctx.engine.begin() as conn:
        conn.execute(
            update(WEB_SESSIONS)
            .where(WEB_SESSIONS.c.digest == digest, WEB_SESSIONS.c.revoked_at.is_(None))
            .values(revoked_at=format_timestamp(ctx.clock()))
        )
    _CACHE.drop(digest)


def session_for(ctx: LedgerContext, session_id: str | None) -> WebSession | None:
    """The live session behind a cookie value, or None (unknown, ended, expired, person disabled)."""
    if not session_id or not 40 <= len(session_id) <= 64:
        return None
    digest = digest_of(session_id)
    cached = _CACHE.get(digest)
    if cached is not None:
        return cached
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(
                WEB_SESSIONS.c.login,
                WEB_SESSIONS.c.csrf,
                WEB_SESSIONS.c.expires_at,
                WEB_SESSIONS.c.revoked_at,
            )
            .select_from(WEB_SESSIONS.join(WEB_USERS, WEB_USERS.c.login == WEB_SESSIONS.c.login))
            .where(WEB_SESSIONS.c.digest == digest, WEB_USERS.c.disabled_at.is_(None))
        ).first()
    if row is None or row.revoked_at is not None or parse_timestamp(row.expires_at) <= ctx.clock():
        return None
    person = get_person(ctx, row.login)
    session = WebSession(
        person.login,
        person.display_name,
        person.party,
        effective_roles(ctx, person),
        row.csrf,
        row.expires_at,
    )
    _CACHE.put(digest, session)
    return session


def forget_cached() -> None:
    """Drop every cached session (after disabling people or changing their roles)."""
    _CACHE.clear()


_CACHE: ShortLivedCache[WebSession] = ShortLivedCache(CACHE_SECONDS)
