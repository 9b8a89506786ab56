"""API tokens for machines and scripts: bound to a party and a set of its roles.

A token is ``kcl_`` + 43 characters of base64url (256 random bits). Only
its SHA-256 and a short prefix are stored, so a database leak yields no
usable token; the token itself is shown once, when it is created.

A token's effective roles are the roles it was given *that the party still
holds in the ledger*: revoking a role (a ledger entry) also narrows every
token of that party, without anyone remembering to revoke tokens.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.services.context import LedgerContext
from app.services.custody import party_ref
from app.services.party_roles import granted_roles
from app.services.short_cache import ShortLivedCache
from app.tables import API_TOKENS, PARTIES
from ledger.encoding import b64url_encode
from ledger.errors import AuthorizationError, Conflict, LedgerError, NotFound, UnknownKind
from ledger.kinds import REGISTRY
from ledger.times import format_timestamp, parse_timestamp

TOKEN_PREFIX = "kcl_"  # noqa: S105 - a public prefix that marks tokens, not a secret
TOKEN_BYTES = 32
#: How long a verified token is trusted without looking at the database again.
CACHE_SECONDS = 5.0


class TokenMissing(LedgerError):
    code = "auth.token_missing"


class TokenInvalid(LedgerError):
    code = "auth.token_invalid"


class Forbidden(AuthorizationError):
    code = "auth.forbidden"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a party and the roles its token may use."""

    party: str
    roles: frozenset[str]
    token_id: str

    def has_any(self, roles: frozenset[str] | set[str]) -> bool:
        return bool(self.roles & roles)

    def require_role_for(self, kind: str, *, countersign: bool = False) -> None:
        """Refuse unless this credential carries a role that may sign (or countersign) ``kind``.

        The ledger checks the *party's* roles when it admits a statement; a token or a
        person may carry only a subset of them, and that subset must bound what they can
        submit — else an auditor-only credential of a party that also holds `admin` could
        append administrator statements signed by the party's keys.
        """
        try:
            spec = REGISTRY.get(kind)
        except UnknownKind:
            return  # not ours to judge: the ledger refuses it with its own error code
        allowed = spec.counterparty_roles if countersign else spec.roles
        if not self.roles & allowed:
            action = "countersign" if countersign else "submit"
            raise Forbidden(
                f"this credential's roles ({', '.join(sorted(self.roles)) or 'none'}) cannot {action} "
                f"{kind}: it needs one of {', '.join(sorted(allowed))}"
            )


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    ctx: LedgerContext,
    party: str,
    *,
    roles: list[str] | None = None,
    label: str = "",
    expires_at: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """A new token for ``party`` (a subset of its current roles); returns (token, info)."""
    subject, wanted = granted_roles(ctx, party, roles)
    if expires_at is not None:
        parse_timestamp(expires_at, "expires_at")
    token = TOKEN_PREFIX + b64url_encode(ctx.random_bytes(TOKEN_BYTES))
    info = {
        "token_id": ctx.random_bytes(16).hex(),
        "prefix": token[:12],
        "party": subject,
        "roles": wanted,
        "label": label[:200],
        "created_at": format_timestamp(ctx.clock()),
        "expires_at": expires_at,
    }
    try:
        with ctx.engine.begin() as conn:
            conn.execute(
                API_TOKENS.insert(), {**info, "roles": json.dumps(wanted), "digest": digest_of(token)}
            )
    except IntegrityError:
        raise Conflict("token collision; try again") from None
    return token, info


def revoke_token(ctx: LedgerContext, token_id: str) -> None:
    with ctx.engine.begin() as conn:
        changed = conn.execute(
            update(API_TOKENS)
            .where(API_TOKENS.c.token_id == token_id, API_TOKENS.c.revoked_at.is_(None))
            .values(revoked_at=format_timestamp(ctx.clock()))
        ).rowcount
    if changed != 1:
        raise NotFound(f"no active token {token_id}")
    _CACHE.clear()


def list_tokens(ctx: LedgerContext, party: str | None = None) -> list[dict[str, Any]]:
    query = select(API_TOKENS).order_by(API_TOKENS.c.created_at)
    if party is not None:
        query = query.where(API_TOKENS.c.party == party_ref(party))
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {**{k: v for k, v in r._mapping.items() if k != "digest"}, "roles": json.loads(r._mapping["roles"])}
        for r in rows
    ]


_CACHE: ShortLivedCache[Principal] = ShortLivedCache(CACHE_SECONDS)


def cached_principal(token: str | None) -> Principal | None:
    """The principal of a token verified in the last few seconds, without touching the database."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) != len(TOKEN_PREFIX) + 43:
        return None
    return _CACHE.get(digest_of(token))


def authenticate(ctx: LedgerContext, token: str | None) -> Principal:
    """The principal behind a bearer token; raise TokenMissing / TokenInvalid."""
    if not token:
        raise TokenMissing("this endpoint needs an API token (Authorization: Bearer kcl_…)")
    if not token.startswith(TOKEN_PREFIX) or len(token) != len(TOKEN_PREFIX) + 43:
        raise TokenInvalid("malformed API token")
    digest = digest_of(token)
    cached = _CACHE.get(digest)
    if cached is not None:
        return cached
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(
                API_TOKENS.c.token_id,
                API_TOKENS.c.party,
                API_TOKENS.c.roles,
                API_TOKENS.c.expires_at,
                API_TOKENS.c.revoked_at,
                PARTIES.c.roles,
            )
            .select_from(API_TOKENS.join(PARTIES, PARTIES.c.subject == API_TOKENS.c.party))
            .where(API_TOKENS.c.digest == digest)
        ).first()
    if row is None:
        raise TokenInvalid("unknown API token")
    token_id, party, token_roles, expires_at, revoked_at, party_roles = row
    if revoked_at is not None:
        raise TokenInvalid("this API token was revoked")
    if expires_at is not None and parse_timestamp(expires_at) <= ctx.clock():
        raise TokenInvalid("this API token has expired")
    principal = Principal(
        str(party), frozenset(json.loads(token_roles)) & frozenset(json.loads(party_roles)), token_id
    )
    _CACHE.put(digest, principal)
    return principal
