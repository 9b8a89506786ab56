"""``custody connector …`` — commissioning, gSMC-K binding, and reading a connector's state."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app import queries
from app.cli.common import DbOption, JsonOption, KeyDirOption, emit_json
from app.cli.custody_common import (
    AsOption,
    KeyFileOption,
    int_arg,
    location_arg,
    open_ledger,
    pairs,
    party_arg,
    report,
    require_connector,
    short_party,
    signer_key,
    timestamp_arg,
)
from app.services import custody
from app.services.context import LedgerContext
from app.services.custody_views import connector_fields, inspection_view
from ledger.custody.records import CONNECTOR_STATES, ConnectorRecord
from ledger.errors import InvalidInput

app = typer.Typer(
    help="Commission and bind connectors; show one connector or list them.", no_args_is_help=True
)

ConnectorArg = Annotated[
    str, typer.Argument(help="Connector: VENDOR:SERIAL (or connector:VENDOR:SERIAL).", show_default=False)
]


@app.command("commission")
def commission(
    as_party: AsOption,
    vendor: Annotated[str, typer.Option(help="Vendor code, upper case (e.g. SECUNET).")],
    serial: Annotated[str, typer.Option(help="Serial number, upper case.")],
    product_code: Annotated[str, typer.Option(help="Product code.")],
    hw: Annotated[str, typer.Option("--hw", help="Hardware version.")],
    fw: Annotated[str, typer.Option("--fw", help="Firmware version at production.")],
    production_date: Annotated[str, typer.Option(help="Production date YYYY-MM-DD.")],
    smck: Annotated[
        list[str],
        typer.Option(
            help="gSMC-K card ICCSN=NOTAFTER (certificate expiry, RFC 3339 UTC or YYYY-MM-DD); "
            "repeat for each card."
        ),
    ],
    certification_id: Annotated[str, typer.Option(help="BSI/gematik certification id.")],
    place: Annotated[
        str | None, typer.Option(help="Production site (location id).", show_default=False)
    ] = None,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """A connector leaves production (connector.commissioned, signed by a manufacturer)."""
    cards = [
        (iccsn, timestamp_arg(not_after, f"--smck {iccsn}"))
        for iccsn, not_after in pairs(
            smck, "--smck", "ICCSN=NOTAFTER, e.g. 80276883110000012345=2031-05-31T23:59:59Z"
        )
    ]
    if not cards:
        raise InvalidInput("name at least one gSMC-K card with --smck ICCSN=NOTAFTER")
    ctx = open_ledger(db, key_dir)
    signing = signer_key(ctx, as_party, key)
    result = custody.commission(
        ctx,
        as_party,
        signing,
        vendor=vendor,
        serial=serial,
        product_code=product_code,
        hw_version=hw,
        fw_version=fw,
        production_date=production_date,
        smck=cards,
        certification_id=certification_id,
        place=None if place is None else location_arg(place),
    )
    subject = result.entries[-1].statement.subject
    report(result, json_out, {"connector": subject, "state": "PRODUCED"})


@app.command("bind")
def bind(
    connector: ConnectorArg,
    environment: Annotated[
        str, typer.Option(help="Secure environment where the cards were bound (location).")
    ],
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Bind the commissioned gSMC-K cards to the connector (smck.bound): PRODUCED → PERSONALISED."""
    location = location_arg(environment)
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    signing = signer_key(ctx, as_party, key)
    report(custody.bind_smck(ctx, as_party, signing, record.subject, location), json_out)


def connector_view(ctx: LedgerContext, record: ConnectorRecord) -> dict[str, Any]:
    """Everything ``connector show`` prints: current state, seals, certificates, incident, history."""
    incident = queries.incident(ctx.engine, record.open_incident).to_json() if record.open_incident else None
    items = {h.index: h for h in record.history}
    history = []
    for entry in queries.history(ctx.engine, record.subject):
        item = items.get(entry.index)
        history.append(
            {
                **entry.as_dict(),
                "state_before": item.state_before if item else None,
                "state_after": item.state_after if item else None,
                "corrected_by": item.corrected_by if item else None,
            }
        )
    return {
        **connector_fields(record),
        "certificates": [{"iccsn": c.iccsn, "not_after": c.not_after} for c in record.certificates],
        "cert_not_after": record.cert_not_after,
        "open_incident": incident,
        "last_inspection": inspection_view(record),
        "history": history,
    }


@app.command("show")
def show(connector: ConnectorArg, db: DbOption = None, json_out: JsonOption = False) -> None:
    """State, custodian, location, seals and seal status, certificates, open incident and history."""
    ctx = open_ledger(db)
    view = connector_view(ctx, require_connector(ctx, connector))
    if json_out:
        emit_json(view)
        return
    for label, value in (
        ("connector", view["connector"]),
        ("state", view["state"]),
        ("custodian", short_party(view["custodian"])),
        ("location", view["location"] or "-"),
        ("bin", view["bin"] or "-"),
        ("practice", view["practice"] or "-"),
        ("firmware", view["firmware"]),
        ("seals", ", ".join(view["seals"]) or "-"),
        ("seal status", view["seal_status"]),
    ):
        typer.echo(f"{label + ':':<14}{value}")
    for card in view["certificates"]:
        typer.echo(f"{'gSMC-K:':<14}{card['iccsn']} valid until {card['not_after']}")
    incident = view["open_incident"]
    if incident:
        typer.echo(
            f"{'incident:':<14}{incident['incident_id']} {incident['status']} "
            f"({incident['category']}): {incident['description']}"
        )
    inspection = view["last_inspection"]
    if inspection:
        verdict = "conformant" if inspection["conformant"] else "NOT conformant"
        typer.echo(
            f"{'seal check:':<14}entry {inspection['index']} by {short_party(inspection['by'])} "
            f"at {inspection['place'] or '-'}: {verdict}"
        )
    typer.echo("history:")
    for item in view["history"]:
        change = ""
        if item["state_after"] and item["state_after"] != item["state_before"]:
            change = f"  {item['state_before'] or '-'} → {item['state_after']}"
        corrected = f"  (corrected by entry {item['corrected_by']})" if item["corrected_by"] else ""
        typer.echo(
            f"  {item['index']:>6}  {item['at']}  {item['kind']:<22} {short_party(item['by'])}"
            f"{change}{corrected}"
        )


@app.command("list")
def list_connectors(
    state: Annotated[
        str | None, typer.Option(help=f"Only this state ({', '.join(CONNECTOR_STATES)}).")
    ] = None,
    custodian: Annotated[str | None, typer.Option(help="Only connectors held by this party.")] = None,
    limit: Annotated[str, typer.Option(metavar="N", help="At most this many rows (1–100000).")] = "1000",
    offset: Annotated[str, typer.Option(metavar="N", help="Skip this many rows.")] = "0",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List connectors with their state, custodian and earliest certificate expiry."""
    wanted_state = None
    if state is not None:
        wanted_state = state.strip().upper()
        if wanted_state not in CONNECTOR_STATES:
            raise InvalidInput(f"unknown state {state!r}: one of {', '.join(CONNECTOR_STATES)}")
    holder = None if custodian is None else party_arg(custodian)
    rows_limit, rows_offset = int_arg(limit, "--limit", 1, 100_000), int_arg(offset, "--offset")
    ctx = open_ledger(db)
    rows = queries.connectors(
        ctx.engine, state=wanted_state, custodian=holder, limit=rows_limit, offset=rows_offset
    )
    if json_out:
        emit_json(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['subject']:<36} {row['state']:<15} {row['seal_status']:<16} "
            f"{short_party(row['custodian']):<20} {row['cert_not_after'] or '-'}"
            + (f"  {row['open_incident']}" if row["open_incident"] else "")
        )
