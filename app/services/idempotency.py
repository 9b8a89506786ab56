"""Idempotency keys: a retried POST returns the first response instead of appending twice."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.services.context import LedgerContext
from app.tables import IDEMPOTENCY
from ledger.errors import Conflict, InvalidInput
from ledger.times import format_timestamp

MAX_KEY_LENGTH = 200


class IdempotencyKeyReused(Conflict):
    code = "conflict.idempotency_key_reused"


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise InvalidInput(f"Idempotency-Key must be 1–{MAX_KEY_LENGTH} printable ASCII characters")
    return key


def request_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def recall(ctx: LedgerContext, party: str, key: str, digest: str) -> tuple[int, Any] | None:
    """The stored (status, body) for this key, or None; a different request under it is a conflict."""
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(IDEMPOTENCY.c.request_digest, IDEMPOTENCY.c.status, IDEMPOTENCY.c.response).where(
                IDEMPOTENCY.c.party == party, IDEMPOTENCY.c.key == key
            )
        ).first()
    if row is None:
        return None
    if row[0] != digest:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
    return int(row[1]), json.loads(row[2])


def remember(ctx: LedgerContext, party: str, key: str, digest: str, status: int, body: Any) -> None:
    try:
        with ctx.engine.begin() as conn:
            conn.execute(
                IDEMPOTENCY.insert(),
                {
                    "party": party,
                    "key": key,
                    "request_digest": digest,
                    "status": status,
                    "response": json.dumps(body),
                    "created_at": format_timestamp(ctx.clock()),
                },
            )
    except IntegrityError:
        # A concurrent retry stored it first; the first answer stands.
        pass
