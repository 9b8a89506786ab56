"""``custody handover …`` — two-party custody transfers: offer, then accept or reject."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.common import DbOption, JsonOption, KeyDirOption, emit_json
from app.cli.custody_common import (
    AsOption,
    KeyFileOption,
    appended,
    connector_arg,
    open_ledger,
    pairs,
    party_arg,
    require_connector,
    require_party,
    seal_args,
    short_party,
    signer_key,
)
from app.services import handover
from ledger.errors import InvalidInput

app = typer.Typer(
    help="Custody handovers: the releasing custodian offers, the receiver accepts (countersigns) or rejects.",
    no_args_is_help=True,
)

OfferArg = Annotated[
    str, typer.Argument(help="Offer id (as printed by `handover offer`).", show_default=False)
]
STATUSES = (handover.PENDING, handover.ACCEPTED, handover.REJECTED, "all")


def _print_offer(offer: handover.Offer) -> None:
    typer.echo(
        f"offer {offer.offer_id}: {short_party(offer.from_party)} → {short_party(offer.to_party)}, "
        f"{offer.status}, created {offer.created_at}"
        + (f", closed {offer.closed_at}" if offer.closed_at else "")
    )
    for item in offer.connectors:
        typer.echo(f"  {item['connector']:<36} {item['state']:<14} seals {', '.join(item['seals']) or '-'}")
    if offer.reason:
        typer.echo(f"  reason: {offer.reason}")


@app.command("offer")
def offer(
    connectors: Annotated[list[str], typer.Argument(help="Connectors handed over (VENDOR:SERIAL).")],
    to: Annotated[str, typer.Option(help="Receiving party (must accept to take custody).")],
    as_party: AsOption,
    delivery_note: Annotated[
        str | None, typer.Option(help="Delivery note number.", show_default=False)
    ] = None,
    shipment: Annotated[str | None, typer.Option(help="Shipment reference.", show_default=False)] = None,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Offer custody of connectors to another party; signed by you, appended when they accept.

    Prints the offer id; nothing enters the log until the receiver accepts.
    """
    ctx = open_ledger(db, key_dir)
    subjects = [require_connector(ctx, c).subject for c in connectors]
    receiver = require_party(ctx, to, "receiving party")
    signing = signer_key(ctx, as_party, key)
    created = handover.create_offer(
        ctx, as_party, signing, subjects, receiver, delivery_note=delivery_note, shipment=shipment
    )
    if json_out:
        emit_json(created.as_dict())
        return
    _print_offer(created)
    typer.echo(f"accept with: custody handover accept {created.offer_id} --as {short_party(receiver)}")


@app.command("list")
def list_offers(
    for_party: Annotated[
        str | None, typer.Option("--for", help="Only offers to this party.", show_default=False)
    ] = None,
    from_party: Annotated[
        str | None, typer.Option("--from", help="Only offers from this party.", show_default=False)
    ] = None,
    status: Annotated[str, typer.Option(help="pending, accepted, rejected or all.")] = handover.PENDING,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List handover offers (default: pending ones)."""
    wanted = status.strip().lower()
    if wanted not in STATUSES:
        raise InvalidInput(f"unknown offer status {status!r}: one of {', '.join(STATUSES)}")
    to = None if for_party is None else party_arg(for_party)
    origin = None if from_party is None else party_arg(from_party)
    ctx = open_ledger(db)
    found = handover.offers(ctx, to=to, from_party=origin, status=None if wanted == "all" else wanted)
    if json_out:
        emit_json([o.as_dict() for o in found])
        return
    for item in found:
        _print_offer(item)


@app.command("show")
def show(offer_id: OfferArg, db: DbOption = None, json_out: JsonOption = False) -> None:
    """One offer: parties, status, connectors and declared seals, outcome."""
    ctx = open_ledger(db)
    found = handover.get_offer(ctx, offer_id.strip())
    if json_out:
        emit_json(found.as_dict())
        return
    _print_offer(found)
    if found.result:
        typer.echo(f"  result: {found.result}")


@app.command("accept")
def accept(
    offer_id: OfferArg,
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Countersign an offer addressed to you: every connector changes hands at once."""
    ctx = open_ledger(db, key_dir)
    found = handover.get_offer(ctx, offer_id.strip())
    signing = signer_key(ctx, as_party, key)
    result = handover.accept_offer(ctx, as_party, signing, found.offer_id)
    if json_out:
        emit_json({**appended(result), "offer_id": found.offer_id, "status": handover.ACCEPTED})
        return
    for entry in result.entries:
        typer.echo(f"appended custody.transferred for {entry.statement.subject} as entry {entry.index}")
    typer.echo(f"offer {found.offer_id} accepted: {short_party(found.to_party)} is now the custodian")
    typer.echo(f"log size {result.size}")


@app.command("reject")
def reject(
    offer_id: OfferArg,
    reason: Annotated[str, typer.Option(help="Why the handover is refused.")],
    as_party: AsOption,
    observed: Annotated[
        list[str] | None,
        typer.Option(
            help="CONNECTOR=SEAL,SEAL: the seals you actually saw on a connector (empty after '=': "
            "none); a difference from the declared seals raises an incident. Repeatable."
        ),
    ] = None,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Refuse an offer addressed to you; a seal mismatch records an incident per connector."""
    seen: dict[str, list[str]] = {}
    for connector, seals in pairs(observed or [], "--observed", "CONNECTOR=SEAL,SEAL"):
        subject = connector_arg(connector)
        if subject in seen:
            raise InvalidInput(f"--observed names {subject} twice")
        seen[subject] = seal_args(s for s in seals.split(",") if s.strip())
    ctx = open_ledger(db, key_dir)
    found = handover.get_offer(ctx, offer_id.strip())
    signing = signer_key(ctx, as_party, key)
    closed, result = handover.reject_offer(ctx, as_party, signing, found.offer_id, reason, seen)
    incidents: list[dict[str, Any]] = [
        {"incident": f"INC-{e.index}", "connector": e.statement.subject, "index": e.index}
        for e in (result.entries if result else ())
    ]
    if json_out:
        emit_json(
            {**closed.as_dict(), "incidents": incidents, "size": None if result is None else result.size}
        )
        return
    typer.echo(f"offer {closed.offer_id} rejected: {reason}")
    for item in incidents:
        typer.echo(
            f"INCIDENT {item['incident']} recorded for {item['connector']} "
            f"(seal mismatch, entry {item['index']}); the connector is SUSPECT"
        )
