"""People who sign in to the web pages: a login bound to a party and some of its roles.

Machines use API tokens (:mod:`app.services.tokens`); people use a password
or a one-time sign-in link, and then a session cookie
(:mod:`app.services.sessions`). A person acts for exactly one party, with a
subset of the roles that party holds *in the ledger now*: revoking a role
in the ledger narrows every person of that party at once, as for tokens.

Passwords are hashed with scrypt; the parameters are stored with the hash
so they can be raised later without breaking old hashes. A one-time link
token is stored only as its SHA-256, expires, and is consumed atomically
(an UPDATE that matches only while it is still there), so two clicks on
the same link sign in at most once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.services.context import LedgerContext
from app.services.custody import party_ref
from app.services.party_roles import granted_roles, held_roles
from app.tables import PARTIES, WEB_SESSIONS, WEB_USERS
from ledger.encoding import b64url_encode
from ledger.errors import Conflict, InvalidInput, LedgerError, NotFound
from ledger.kinds import ROLES
from ledger.times import format_timestamp, parse_timestamp

LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
#: scrypt cost: 2^14 × 8 × 1 takes ~50 ms and 16 MiB — slow for guessing, fine for a sign-in.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_LEN = 32
LINK_BYTES = 32
DEFAULT_LINK_TTL = timedelta(minutes=30)


class SignInFailed(LedgerError):
    """Wrong login, wrong password, disabled person or a used/expired link — deliberately one error,
    so that a caller learns nothing about which logins exist."""

    code = "auth.sign_in_failed"


@dataclass(frozen=True)
class Person:
    login: str
    display_name: str
    party: str
    roles: frozenset[str]
    disabled: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "display_name": self.display_name,
            "party": self.party,
            "roles": sorted(self.roles),
            "disabled": self.disabled,
        }


# --------------------------------------------------------------------------
# Password hashing


def hash_password(password: str, salt: bytes | None = None) -> str:
    _check_password(password)
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64url_encode(salt)}${b64url_encode(digest)}"


def check_password(password: str, stored: str | None) -> bool:
    """Constant-time comparison; an unusable stored hash still costs one scrypt (no timing oracle)."""
    try:
        scheme, n, r, p, salt_text, digest_text = (stored or "").split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        salt, expected = _b64url_decode(salt_text), _b64url_decode(digest_text)
        params = int(n), int(r), int(p)
    except ValueError:
        _scrypt(password, b"\0" * 16, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        return False
    if not 0 < len(password) <= MAX_PASSWORD:
        return False
    return hmac.compare_digest(_scrypt(password, salt, *params), expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8")[: MAX_PASSWORD * 4],
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=64 * 1024 * 1024,
        dklen=SCRYPT_LEN,
    )


def _b64url_decode(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"a password needs {MIN_PASSWORD}–{MAX_PASSWORD} characters")


# --------------------------------------------------------------------------
# People


def _person(row: Any) -> Person:
    m = row._mapping
    return Person(
        m["login"],
        m["display_name"],
        m["party"],
        frozenset(json.loads(m["roles"])),
        m["disabled_at"] is not None,
    )


def check_login(login: str) -> str:
    value = login.strip().lower()
    if not LOGIN_PATTERN.match(value):
        raise InvalidInput(
            "a login is 2–64 characters: a–z, 0–9, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def add_person(
    ctx: LedgerContext,
    login: str,
    party: str,
    *,
    display_name: str = "",
    roles: list[str] | None = None,
    password: str | None = None,
) -> Person:
    """A new person for ``party`` with some of its roles (default: all it holds)."""
    name = check_login(login)
    subject, wanted = granted_roles(ctx, party, roles)
    display = (display_name or name).strip()
    if not 1 <= len(display) <= 200 or not display.isprintable():
        raise InvalidInput("a display name is 1–200 printable characters")
    row = {
        "login": name,
        "display_name": display,
        "party": subject,
        "roles": json.dumps(wanted),
        "password_hash": None if password is None else hash_password(password),
        "created_at": format_timestamp(ctx.clock()),
    }
    try:
        with ctx.engine.begin() as conn:
            conn.execute(WEB_USERS.insert(), row)
    except IntegrityError:
        raise Conflict(f"the login {name} exists already") from None
    return get_person(ctx, name)


def get_person(ctx: LedgerContext, login: str) -> Person:
    with ctx.engine.connect() as conn:
        row = conn.execute(select(WEB_USERS).where(WEB_USERS.c.login == login.strip().lower())).first()
    if row is None:
        raise NotFound(f"unknown login {login}")
    return _person(row)


def list_people(ctx: LedgerContext, party: str | None = None) -> list[Person]:
    query = select(WEB_USERS).order_by(WEB_USERS.c.login)
    if party is not None:
        query = query.where(WEB_USERS.c.party == party_ref(party))
    with ctx.engine.connect() as conn:
        return [_person(r) for r in conn.execute(query)]


def set_password(ctx: LedgerContext, login: str, password: str) -> None:
    """Set a new password; every session of the person ends and a pending sign-in link is void.

    A password is changed because the old one may be known to someone else: whoever signed
    in with it, or holds an unused link, must not stay signed in.
    """
    hashed = hash_password(password)
    _update(ctx, login, password_hash=hashed, link_digest=None, link_expires_at=None)
    _end_sessions(ctx, login, format_timestamp(ctx.clock()))


def disable_person(ctx: LedgerContext, login: str) -> None:
    """Disable a person and end every session of theirs at once."""
    now = format_timestamp(ctx.clock())
    _update(ctx, login, disabled_at=now, link_digest=None, link_expires_at=None)
    _end_sessions(ctx, login, now)


def _end_sessions(ctx: LedgerContext, login: str, now: str) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(
            update(WEB_SESSIONS)
            .where(WEB_SESSIONS.c.login == check_login(login), WEB_SESSIONS.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    from app.services import sessions

    # Other processes drop their cached sessions within the cache's few seconds.
    sessions.forget_cached()


def enable_person(ctx: LedgerContext, login: str) -> None:
    _update(ctx, login, disabled_at=None)


def _update(ctx: LedgerContext, login: str, **values: Any) -> None:
    with ctx.engine.begin() as conn:
        changed = conn.execute(
            update(WEB_USERS).where(WEB_USERS.c.login == check_login(login)).values(**values)
        ).rowcount
    if changed != 1:
        raise NotFound(f"unknown login {login}")


def effective_roles(ctx: LedgerContext, person: Person) -> frozenset[str]:
    """The person's roles that their party still holds in the ledger."""
    held = held_roles(ctx, person.party) or set()
    return frozenset(person.roles & held)


# --------------------------------------------------------------------------
# Signing in


def authenticate_password(ctx: LedgerContext, login: str, password: str) -> Person:
    """The person, if the password matches and they are enabled; else SignInFailed (one message)."""
    try:
        name = check_login(login)
    except InvalidInput:
        name = None
    row = None
    if name is not None:
        with ctx.engine.connect() as conn:
            row = conn.execute(select(WEB_USERS).where(WEB_USERS.c.login == name)).first()
    stored = None if row is None else row._mapping["password_hash"]
    # check_password runs scrypt even for unknown logins: equal timing either way.
    if not check_password(password, stored) or row is None or row._mapping["disabled_at"] is not None:
        raise SignInFailed("wrong login or password")
    return _person(row)


def create_link(ctx: LedgerContext, login: str, ttl: timedelta = DEFAULT_LINK_TTL) -> tuple[str, str]:
    """A one-time sign-in token for ``login`` (replacing an earlier one); returns (token, expires_at)."""
    person = get_person(ctx, login)
    if person.disabled:
        raise InvalidInput(f"{person.login} is disabled")
    if ttl <= timedelta(0) or ttl > timedelta(days=7):
        raise InvalidInput("a sign-in link lives between a second and 7 days")
    token = b64url_encode(ctx.random_bytes(LINK_BYTES))
    expires_at = format_timestamp(ctx.clock() + ttl)
    _update(ctx, person.login, link_digest=_digest(token), link_expires_at=expires_at)
    return token, expires_at


def redeem_link(ctx: LedgerContext, token: str) -> Person:
    """Consume a one-time link: valid once, before it expires, for an enabled person."""
    if not 20 <= len(token) <= 100:
        raise SignInFailed("this sign-in link is invalid or was used already")
    digest = _digest(token)
    with ctx.engine.begin() as conn:
        row = conn.execute(select(WEB_USERS).where(WEB_USERS.c.link_digest == digest)).first()
        if row is None:
            raise SignInFailed("this sign-in link is invalid or was used already")
        # Consume first, whatever follows: a link is single use even if it turns out expired.
        consumed = conn.execute(
            update(WEB_USERS)
            .where(WEB_USERS.c.login == row._mapping["login"], WEB_USERS.c.link_digest == digest)
            .values(link_digest=None, link_expires_at=None)
        ).rowcount
    expires = row._mapping["link_expires_at"]
    if consumed != 1 or expires is None or parse_timestamp(expires) <= ctx.clock():
        raise SignInFailed("this sign-in link is invalid, expired or was used already")
    if row._mapping["disabled_at"] is not None:
        raise SignInFailed("this sign-in link is invalid or was used already")
    return _person(row)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------
# Demo people


def demo_people(ctx: LedgerContext) -> list[dict[str, str]]:
    """DEMO LEDGERS ONLY: one person per role (login = the role), with a fresh random password.

    The first party holding the role (in subject order) is the person's party, as for
    ``custody token demo``. Returns login, password, party and role for printing.
    """
    with ctx.engine.connect() as conn:
        parties = [
            (r.subject, set(json.loads(r.roles)))
            for r in conn.execute(select(PARTIES.c.subject, PARTIES.c.roles))
        ]
    parties.sort()
    issued = []
    for role in ROLES:
        holder = next((subject for subject, held in parties if role in held), None)
        if holder is None:
            continue
        password = b64url_encode(ctx.random_bytes(12))
        with ctx.engine.begin() as conn:
            conn.execute(WEB_USERS.delete().where(WEB_USERS.c.login == role))
            conn.execute(WEB_SESSIONS.delete().where(WEB_SESSIONS.c.login == role))
        add_person(ctx, role, holder, display_name=f"Demo {role}", roles=[role], password=password)
        issued.append({"login": role, "password": password, "party": holder, "role": role})
    from app.services import sessions

    sessions.forget_cached()
    return issued
