"""``custody incident …`` — report, quarantine, release (four eyes), list."""

from __future__ import annotations

from typing import Annotated

import typer

from app import queries
from app.cli.common import DbOption, JsonOption, KeyDirOption, emit_json
from app.cli.custody_common import (
    AsOption,
    KeyFileOption,
    connector_arg,
    location_arg,
    open_ledger,
    report,
    require_connector,
    short_party,
    signer_key,
)
from app.services import custody
from app.services.context import LedgerContext
from ledger.custody.incidents import INCIDENT_CATEGORIES
from ledger.custody.records import INCIDENT_OPEN, INCIDENT_QUARANTINED, INCIDENT_RELEASED, IncidentRecord
from ledger.errors import InvalidInput

app = typer.Typer(
    help="Incidents: a reported unit is SUSPECT, can be quarantined, and is released by someone else.",
    no_args_is_help=True,
)

ConnectorArg = Annotated[
    str, typer.Argument(help="Connector: VENDOR:SERIAL (or connector:VENDOR:SERIAL).", show_default=False)
]
IncidentOption = Annotated[str, typer.Option(help="Incident id, e.g. INC-42.")]
INCIDENT_STATUSES = (INCIDENT_OPEN, INCIDENT_QUARANTINED, INCIDENT_RELEASED)
OUTCOMES = ("cleared", "reseal_required", "decommission")


def _incident_of(ctx: LedgerContext, incident: str) -> IncidentRecord:
    """The incident named, which must exist (unknown ids are bad input; the core checks it is open)."""
    return queries.incident(ctx.engine, incident.strip().upper())


@app.command("report")
def report_incident(
    connector: ConnectorArg,
    category: Annotated[str, typer.Option(help=f"One of {', '.join(INCIDENT_CATEGORIES)}.")],
    description: Annotated[str, typer.Option(help="What was observed (no personal data).")],
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Report an incident (incident.reported): the connector becomes SUSPECT under INC-<index>."""
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    signing = signer_key(ctx, as_party, key)
    result = custody.connector_statement(
        ctx,
        as_party,
        signing,
        "incident.reported",
        record.subject,
        {"category": category, "description": description},
    )
    incident = f"INC-{result.entries[-1].index}"
    after = queries.connector(ctx.engine, record.subject)
    report(
        result,
        json_out,
        {"incident": incident, "connector": after.subject, "state": after.state},
        [f"incident {incident} opened; {after.subject} is {after.state}"],
    )


@app.command("quarantine")
def quarantine(
    connector: ConnectorArg,
    incident: IncidentOption,
    as_party: AsOption,
    location: Annotated[str | None, typer.Option(help="Quarantine location id.", show_default=False)] = None,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Put a SUSPECT connector in quarantine under its open incident (quarantined)."""
    where = None if location is None else location_arg(location)
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    found = _incident_of(ctx, incident)
    signing = signer_key(ctx, as_party, key)
    data = {"incident": found.incident_id, **({"location": where} if where else {})}
    result = custody.connector_statement(ctx, as_party, signing, "quarantined", record.subject, data)
    after = queries.connector(ctx.engine, record.subject)
    report(
        result,
        json_out,
        {"incident": found.incident_id, "connector": after.subject, "state": after.state},
        [f"state: {after.state}"],
    )


@app.command("release")
def release(
    connector: ConnectorArg,
    incident: IncidentOption,
    investigation: Annotated[str, typer.Option(help="The investigation note (at least 10 characters).")],
    outcome: Annotated[str, typer.Option(help=f"One of {', '.join(OUTCOMES)}.")],
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Release a quarantined connector (quarantine.released); not by the reporter (four eyes)."""
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    found = _incident_of(ctx, incident)
    signing = signer_key(ctx, as_party, key)
    data = {"incident": found.incident_id, "investigation": investigation, "outcome": outcome}
    result = custody.connector_statement(ctx, as_party, signing, "quarantine.released", record.subject, data)
    after = queries.connector(ctx.engine, record.subject)
    report(
        result,
        json_out,
        {"incident": found.incident_id, "connector": after.subject, "state": after.state},
        [f"incident {found.incident_id} released ({outcome}); state: {after.state}"],
    )


@app.command("show")
def show(
    incident: Annotated[str, typer.Argument(help="Incident id, e.g. INC-42.", show_default=False)],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """One incident: connector, category, status, reporter, investigation."""
    ctx = open_ledger(db)
    found = _incident_of(ctx, incident)
    if json_out:
        emit_json(found.to_json())
        return
    for label, value in found.to_json().items():
        typer.echo(f"{label + ':':<16}{'-' if value is None else value}")


@app.command("list")
def list_incidents(
    status: Annotated[
        str | None, typer.Option(help=f"Only this status ({', '.join(INCIDENT_STATUSES)}).")
    ] = None,
    connector: Annotated[str | None, typer.Option(help="Only incidents of this connector.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List incidents in the order they were opened."""
    wanted = None
    if status is not None:
        wanted = status.strip().upper()
        if wanted not in INCIDENT_STATUSES:
            raise InvalidInput(f"unknown incident status {status!r}: one of {', '.join(INCIDENT_STATUSES)}")
    subject = None if connector is None else connector_arg(connector)
    ctx = open_ledger(db)
    found = [i for i in queries.incidents(ctx.engine, status=wanted) if subject in (None, i.connector)]
    if json_out:
        emit_json([i.to_json() for i in found])
        return
    for item in found:
        typer.echo(
            f"{item.incident_id:<12} {item.status:<12} {item.category:<18} {item.connector:<36} "
            f"reported by {short_party(item.reported_by)}"
        )
