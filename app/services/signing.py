"""Building and signing statements on behalf of a party (CLI, demo, tests)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from app.services.context import LedgerContext
from ledger.envelope import Envelope, sign_envelope
from ledger.keys import SigningKey
from ledger.state import validate_statement
from ledger.statement import NONCE_BYTES, Statement, new_statement


def draft_statement(
    ctx: LedgerContext,
    *,
    kind: str,
    subject: str,
    by: str,
    data: Mapping[str, Any],
    place: str | None = None,
    at: datetime | None = None,
) -> Statement:
    """A new statement (time and nonce from the context unless given), schema-checked, unsigned.

    The CLI signs it at once (:func:`signed_statement`); a browser gets its bytes from
    ``POST /api/v1/drafts`` and signs them with its own WebCrypto key.
    """
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
    return statement


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
    statement = draft_statement(ctx, kind=kind, subject=subject, by=by, data=data, place=place, at=at)
    return sign_envelope(statement.to_bytes(), keys)
