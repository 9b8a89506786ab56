"""Which roles a party holds, and the subset of them a credential may carry.

API tokens and web people are both bound to one party and a subset of the
roles the ledger gives it; both are checked here, the same way.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from app.services.context import LedgerContext
from app.services.custody import party_ref
from app.tables import PARTIES
from ledger.errors import InvalidInput, NotFound
from ledger.kinds import ROLES


def held_roles(ctx: LedgerContext, subject: str) -> set[str] | None:
    """The roles the party holds now, or None if there is no such party."""
    with ctx.engine.connect() as conn:
        roles = conn.execute(select(PARTIES.c.roles).where(PARTIES.c.subject == subject)).scalar()
    return None if roles is None else set(json.loads(roles))


def granted_roles(ctx: LedgerContext, party: str, roles: list[str] | None) -> tuple[str, list[str]]:
    """``party``'s subject and the sorted roles a credential of it may carry (default: all it holds).

    Refuses an unknown party, an unknown role, or a role the party does not hold.
    """
    subject = party_ref(party)
    held = held_roles(ctx, subject)
    if held is None:
        raise NotFound(f"unknown party {subject}")
    wanted = sorted(set(roles) if roles else held)
    unknown = [r for r in wanted if r not in ROLES]
    if unknown:
        raise InvalidInput(f"unknown roles {unknown}")
    missing = [r for r in wanted if r not in held]
    if missing:
        raise InvalidInput(f"{subject} does not hold {missing}")
    return subject, wanted
