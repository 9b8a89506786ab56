"""Practice master data: clear identifiers behind the salted digests in the log.

Only :func:`practice_digest` values ever enter statements. Erasing a practice
deletes its clear values and its salt; the digest stays meaningless to
anyone without the salt, and the log still verifies because it never held
anything else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.services.context import LedgerContext
from app.tables import PRACTICES
from ledger.custody.privacy import SALT_BYTES, practice_digest
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.times import format_timestamp


def add_practice(
    ctx: LedgerContext,
    practice_id: str,
    *,
    name: str,
    bsnr: str,
    telematik_id: str,
    address: str | None = None,
) -> str:
    """Register a practice's master data; return its digest."""
    if not practice_id or len(practice_id) > 64:
        raise InvalidInput("practice id must be 1–64 characters")
    salt = ctx.random_bytes(SALT_BYTES)
    digest = practice_digest(salt, bsnr, telematik_id)
    try:
        with ctx.engine.begin() as conn:
            conn.execute(
                PRACTICES.insert(),
                {
                    "practice_id": practice_id,
                    "digest": digest,
                    "name": name,
                    "bsnr": bsnr,
                    "telematik_id": telematik_id,
                    "address": address,
                    "salt": salt.hex(),
                },
            )
    except IntegrityError:
        raise Conflict(f"practice {practice_id} already exists") from None
    return digest


def digest_of(ctx: LedgerContext, practice_id: str) -> str:
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(PRACTICES.c.digest, PRACTICES.c.erased_at).where(PRACTICES.c.practice_id == practice_id)
        ).first()
    if row is None:
        raise NotFound(f"unknown practice {practice_id}")
    if row[1] is not None:
        raise InvalidInput(f"practice {practice_id} was erased on {row[1]}")
    return str(row[0])


def erase_practice(ctx: LedgerContext, practice_id: str) -> None:
    """Delete the clear identifiers and the salt (GDPR erasure); keep only the digest."""
    with ctx.engine.begin() as conn:
        result = conn.execute(
            update(PRACTICES)
            .where(PRACTICES.c.practice_id == practice_id, PRACTICES.c.erased_at.is_(None))
            .values(
                name=None,
                bsnr=None,
                telematik_id=None,
                address=None,
                salt=None,
                erased_at=format_timestamp(ctx.clock()),
            )
        )
    if result.rowcount == 0:
        digest_of(ctx, practice_id)  # raises the precise error: unknown or already erased
        raise NotFound(f"unknown practice {practice_id}")


def practices(ctx: LedgerContext) -> list[dict[str, Any]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(PRACTICES).order_by(PRACTICES.c.practice_id)).all()
    return [{k: v for k, v in r._mapping.items() if k != "salt"} for r in rows]


def practice_by_digest(ctx: LedgerContext, digest: str) -> dict[str, Any] | None:
    with ctx.engine.connect() as conn:
        row = conn.execute(select(PRACTICES).where(PRACTICES.c.digest == digest)).first()
    return None if row is None else {k: v for k, v in row._mapping.items() if k != "salt"}
