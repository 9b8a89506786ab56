"""Building and signing statements on behalf of a party (CLI, demo, tests)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from app.services.context import LedgerContext
from ledger.envelope import Envelope, sign_envelope
from ledger.keys import SigningKey
from ledger.state import validate_statement
from ledger.statement import NONCE_BYTES, new_statement


def signed_statement(
    ctx: LedgerContext,
    *,
    kind: str,
    subject: str,
    by: str,
    data: Mapping[str, Any],
    keys: Sequence[SigningKey],
    place: str | None = None,
    at: datetime | None = None,
) -> Envelope:
    """A new statement (time and nonce from the context unless given), schema-checked, signed by ``keys``."""
    statement = new_statement(
        kind=kind,
        subject=subject,
        by=by,
        data=data,
        at=at if at is not None else ctx.clock(),
        nonce=ctx.random_bytes(NONCE_BYTES),
        place=place,
    )
    # Fail before signing: a person should not sign what the log will refuse.
    validate_statement(statement)
    return sign_envelope(statement.to_bytes(), keys)
