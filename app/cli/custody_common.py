"""Plumbing shared by the custody commands (connector, seal, custody, handover, incident …).

Every signing command follows the same order, so that bad input is refused
before a key file is opened and nothing is ever signed that the log would
refuse for a reason the CLI could have seen:

1. parse the values given on the command line (malformed → exit 2);
2. open the ledger (missing or not initialised → exit 2);
3. look up every id named (unknown connector, seal, party, offer → exit 2);
4. open the signer's key file (wrong passphrase → exit 2);
5. call the service, which decides every rule (refused → exit 1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from app import queries
from app.cli.common import emit_json, existing_context
from app.logstore import AppendResult
from app.services.context import LedgerContext
from app.services.custody import connector_subject, location_subject, party_ref
from ledger.custody.ids import parse_seal_id
from ledger.custody.records import ConnectorRecord, SealRecord
from ledger.errors import InvalidInput, NotFound
from ledger.ids import check_subject
from ledger.keys import SigningKey
from ledger.times import parse_timestamp

AsOption = Annotated[
    str,
    typer.Option(
        "--as", help="Party id of the signer (who performs the action), e.g. WH-ESSEN-01.", show_default=False
    ),
]
KeyFileOption = Annotated[
    Path | None,
    typer.Option("--key", help="Signer's key file (default: KEY_DIR/<party>.pem).", show_default=False),
]


# --------------------------------------------------------------------------
# Parsing command-line values (step 1).


def seal_arg(value: str) -> str:
    """A seal id as typed or scanned: spaces removed, upper-cased, check character verified."""
    ident = "".join(value.split()).upper()
    parse_seal_id(ident)
    return ident


def seal_args(values: Iterable[str]) -> list[str]:
    seals = [seal_arg(v) for v in values]
    if len(set(seals)) != len(seals):
        raise InvalidInput("a seal id is given twice")
    return seals


def connector_arg(value: str) -> str:
    """``VENDOR:SERIAL`` or ``connector:VENDOR:SERIAL`` → the validated subject."""
    return check_subject(connector_subject(value.strip()), "connector", "connector")


def location_arg(value: str) -> str:
    return check_subject(location_subject(value.strip()), "location", "location")


def party_arg(value: str) -> str:
    return check_subject(party_ref(value.strip()), "party", "party")


def timestamp_arg(value: str, what: str) -> str:
    """An RFC 3339 UTC timestamp; a bare date ``YYYY-MM-DD`` means its midnight UTC."""
    text = value.strip()
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        text += "T00:00:00Z"
    parse_timestamp(text, what)
    return text


def int_arg(value: str, what: str, low: int = 0, high: int = 2**53 - 1) -> int:
    """A whole number typed on the command line, within ``low``…``high``."""
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise InvalidInput(f"{what} {value!r}: expected a whole number from {low} to {high}")
    return int(text)


def pairs(values: Iterable[str], what: str, example: str) -> list[tuple[str, str]]:
    """``KEY=VALUE`` options (repeatable) → pairs; both sides must be non-empty unless stated."""
    out = []
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{what} {value!r}: expected {example}")
        out.append((key.strip(), rest.strip()))
    return out


# --------------------------------------------------------------------------
# The ledger and the ids it knows (steps 2 and 3).


def open_ledger(db: str | None, key_dir: Path | None = None) -> LedgerContext:
    ctx = existing_context(db, key_dir)
    ctx.require_initialised()
    return ctx


def require_party(ctx: LedgerContext, ident: str, what: str = "party") -> str:
    subject = party_arg(ident)
    if subject not in ctx.store.trust_state().parties:
        raise NotFound(f"unknown {what} {ident}: no such party is registered")
    return subject


def require_connector(ctx: LedgerContext, ident: str) -> ConnectorRecord:
    return queries.connector(ctx.engine, connector_arg(ident))


def require_seals(ctx: LedgerContext, seals: Iterable[str]) -> list[SealRecord]:
    return [queries.seal(ctx.engine, s) for s in seals]


def signer_key(ctx: LedgerContext, party: str, key_file: Path | None) -> SigningKey:
    """Step 4: the signer must be registered; then open its key file."""
    return second_key(ctx, party, key_file, "signer")


def second_key(ctx: LedgerContext, party: str, key_file: Path | None, what: str) -> SigningKey:
    """The key of a signer or co-signer (auditor, witness): explicit file or KEY_DIR/<party>.pem."""
    subject = require_party(ctx, party, what)
    return ctx.load_actor_key(subject.removeprefix("party:"), key_file)


# --------------------------------------------------------------------------
# Output.


def appended(result: AppendResult) -> dict[str, Any]:
    """JSON of an append: the last entry's index and leaf hash, the log size, every entry."""
    last = result.entries[-1]
    return {
        "index": last.index,
        "leaf_hash": last.leaf_hash.hex(),
        "size": result.size,
        "entries": [
            {
                "index": e.index,
                "kind": e.statement.kind,
                "subject": e.statement.subject,
                "leaf_hash": e.leaf_hash.hex(),
            }
            for e in result.entries
        ],
    }


def report(
    result: AppendResult,
    json_out: bool,
    extra: Mapping[str, Any] | None = None,
    lines: Iterable[str] = (),
) -> None:
    """Print what was appended (text: one line per entry, then ``lines``)."""
    if json_out:
        emit_json({**appended(result), **(extra or {})})
        return
    for entry in result.entries:
        typer.echo(f"appended {entry.statement.kind} for {entry.statement.subject} as entry {entry.index}")
    for line in lines:
        typer.echo(line)
    typer.echo(f"log size {result.size}")


def short_party(subject: str | None) -> str:
    return "-" if subject is None else subject.removeprefix("party:")
