"""Top-level custody actions: ``custody store|ship|receive|install|… CONNECTOR``.

One command per statement kind of the connector lifecycle (DESIGN §5); each
is a thin wrapper over :mod:`app.services.custody`, which leaves every rule to
the ledger core. Also ``custody rebuild-projections``.
"""

from __future__ import annotations

from pathlib import Path
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
    report,
    require_connector,
    require_party,
    seal_args,
    second_key,
    signer_key,
    timestamp_arg,
)
from app.projections import rebuild_projections as rebuild
from app.services import custody, practices
from ledger.custody.records import SUSPECT
from ledger.errors import InvalidInput
from ledger.times import parse_timestamp

ConnectorArg = Annotated[
    str, typer.Argument(help="Connector: VENDOR:SERIAL (or connector:VENDOR:SERIAL).", show_default=False)
]
ConnectorsArg = Annotated[
    list[str], typer.Argument(help="Connectors (VENDOR:SERIAL), one statement each.", show_default=False)
]
ReasonOption = Annotated[str, typer.Option(help="Why (free text, no personal data).")]
CircumstancesOption = Annotated[str, typer.Option(help="What is known (free text, no personal data).")]
PlaceOption = Annotated[str | None, typer.Option(help="Where it happened (location id).", show_default=False)]


def register(cli: typer.Typer) -> None:
    """Add the custody actions as top-level commands of ``custody``."""
    for name, command in (
        ("store", store),
        ("ship", ship),
        ("receive", receive),
        ("install", install),
        ("ti-register", ti_register),
        ("firmware", firmware),
        ("lzv", lzv),
        ("service-visit", service_visit),
        ("deregister", deregister),
        ("remove", remove),
        ("return-ship", return_ship),
        ("decommission", decommission),
        ("destroy", destroy),
        ("lost", lost),
        ("stolen", stolen),
        ("correct", correct),
        ("rebuild-projections", rebuild_projections),
    ):
        cli.command(name)(command)


def _simple(
    kind: str,
    connector: str,
    data: dict[str, Any],
    as_party: str,
    key: Path | None,
    db: str | None,
    key_dir: Path | None,
    json_out: bool,
    place: str | None = None,
) -> None:
    """A connector statement whose data is given in full on the command line."""
    where = None if place is None else location_arg(place)
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    signing = signer_key(ctx, as_party, key)
    result = custody.connector_statement(ctx, as_party, signing, kind, record.subject, data, place=where)
    after = queries.connector(ctx.engine, record.subject)
    report(result, json_out, {"connector": after.subject, "state": after.state}, [f"state: {after.state}"])


# --------------------------------------------------------------------------
# Warehouse and transport.


def store(
    connector: ConnectorArg,
    location: Annotated[str, typer.Option(help="Storage location id, e.g. WH-ESSEN-01.")],
    as_party: AsOption,
    bin_label: Annotated[
        str | None, typer.Option("--bin", help="Bin or shelf label.", show_default=False)
    ] = None,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Put a connector away in a storage location (stored; by its custodian)."""
    where = location_arg(location)
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    signing = signer_key(ctx, as_party, key)
    result = custody.store(ctx, as_party, signing, record.subject, where, bin_label)
    report(result, json_out, {"connector": record.subject})


def _shipment(
    kind: str,
    connectors: list[str],
    destination: str,
    to: str,
    delivery_note: str,
    as_party: str,
    key: Path | None,
    db: str | None,
    key_dir: Path | None,
    json_out: bool,
) -> None:
    where = location_arg(destination)
    ctx = open_ledger(db, key_dir)
    subjects = [require_connector(ctx, c).subject for c in connectors]
    receiver = require_party(ctx, to, "recipient")
    signing = signer_key(ctx, as_party, key)
    result = custody.ship(
        ctx,
        as_party,
        signing,
        subjects,
        destination=where,
        to=receiver,
        delivery_note=delivery_note,
        kind=kind,
    )
    report(result, json_out, {"connectors": subjects})


def ship(
    connectors: ConnectorsArg,
    destination: Annotated[str, typer.Option(help="Destination location id.")],
    to: Annotated[str, typer.Option(help="Party the shipment is for.")],
    delivery_note: Annotated[str, typer.Option(help="Delivery note number.")],
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Goods-out of sealed connectors in stock (shipped; one per connector, all or nothing)."""
    _shipment("shipped", connectors, destination, to, delivery_note, as_party, key, db, key_dir, json_out)


def receive(
    connector: ConnectorArg,
    as_party: AsOption,
    observed: Annotated[
        list[str] | None,
        typer.Option(help="Seal id read on the housing; repeat for each (none: no seals found)."),
    ] = None,
    delivery_note: Annotated[
        str | None, typer.Option(help="Delivery note number.", show_default=False)
    ] = None,
    place: PlaceOption = None,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Goods-in by the custodian, with the seal ids observed (received).

    Seals other than those shipped are recorded and raise an incident by
    themselves: the connector becomes SUSPECT (the command still exits 0).
    """
    seen = seal_args(observed or [])
    where = None if place is None else location_arg(place)
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    signing = signer_key(ctx, as_party, key)
    result = custody.receive(
        ctx, as_party, signing, record.subject, seen, delivery_note=delivery_note, place=where
    )
    after = queries.connector(ctx.engine, record.subject)
    raised = after.open_incident if after.open_incident != record.open_incident else None
    lines = [f"state: {after.state}"]
    if raised:
        lines.append(
            f"INCIDENT {raised} raised automatically: the seals observed ({', '.join(seen) or 'none'}) "
            f"differ from those shipped ({', '.join(record.seals) or 'none'}); "
            f"{after.subject} is {after.state}"
        )
    report(
        result,
        json_out,
        {
            "connector": after.subject,
            "state": after.state,
            "incident": raised,
            "suspect": after.state == SUSPECT,
        },
        lines,
    )


# --------------------------------------------------------------------------
# At the practice.


def install(
    connector: ConnectorArg,
    practice: Annotated[str, typer.Option(help="Practice id (master data; only its digest is logged).")],
    place: Annotated[str, typer.Option(help="The practice's location id (where the seal check was done).")],
    as_party: AsOption,
    firmware: Annotated[
        str | None, typer.Option(help="Firmware running (default: as recorded).", show_default=False)
    ] = None,
    seal_check: Annotated[
        str | None,
        typer.Option(help="Nonce of the seal check to cite (default: the latest).", show_default=False),
    ] = None,
    override_reason: Annotated[
        str | None,
        typer.Option(help="Install despite < 4 years of gSMC-K validity: the reason.", show_default=False),
    ] = None,
    auditor: Annotated[
        str | None, typer.Option(help="Auditor co-signing the override.", show_default=False)
    ] = None,
    auditor_key: Annotated[
        Path | None,
        typer.Option(help="The auditor's key file (default: KEY_DIR/<auditor>.pem).", show_default=False),
    ] = None,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Install at a practice after a conformant on-site seal check (installed; technician)."""
    where = location_arg(place)
    if auditor_key is not None and auditor is None:
        raise InvalidInput("--auditor-key needs --auditor")
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    digest = practices.digest_of(ctx, practice)
    signing = signer_key(ctx, as_party, key)
    cosign = None if auditor is None else second_key(ctx, auditor, auditor_key, "auditor")
    result = custody.install(
        ctx,
        as_party,
        signing,
        record.subject,
        practice_digest=digest,
        place=where,
        firmware=firmware,
        seal_check=seal_check,
        override_reason=override_reason,
        auditor=auditor,
        auditor_key=cosign,
    )
    after = queries.connector(ctx.engine, record.subject)
    report(result, json_out, {"connector": after.subject, "state": after.state}, [f"state: {after.state}"])


def ti_register(
    connector: ConnectorArg,
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Registered in the Telematikinfrastruktur at its practice (ti.registered): IN_OPERATION."""
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    signing = signer_key(ctx, as_party, key)
    result = custody.register_ti(ctx, as_party, signing, record.subject)
    after = queries.connector(ctx.engine, record.subject)
    report(result, json_out, {"connector": after.subject, "state": after.state}, [f"state: {after.state}"])


def firmware(
    connector: ConnectorArg,
    to: Annotated[str, typer.Option(help="New firmware version.")],
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Firmware update from the recorded version to --to (firmware.updated)."""
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    signing = signer_key(ctx, as_party, key)
    result = custody.update_firmware(ctx, as_party, signing, record.subject, to)
    report(result, json_out, {"connector": record.subject, "from": record.firmware, "to": to})


def lzv(
    connector: ConnectorArg,
    iccsn: Annotated[str, typer.Option(help="ICCSN of the gSMC-K card extended.")],
    not_after: Annotated[str, typer.Option(help="New certificate expiry (RFC 3339 UTC or YYYY-MM-DD).")],
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Runtime extension (LZV) of a gSMC-K certificate (lzv.applied)."""
    expiry = parse_timestamp(timestamp_arg(not_after, "--not-after"), "--not-after")
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    signing = signer_key(ctx, as_party, key)
    result = custody.apply_lzv(ctx, as_party, signing, record.subject, iccsn.strip(), expiry)
    after = queries.connector(ctx.engine, record.subject)
    report(result, json_out, {"connector": after.subject, "cert_not_after": after.cert_not_after})


def service_visit(
    connector: ConnectorArg,
    reason: ReasonOption,
    as_party: AsOption,
    notes: Annotated[str | None, typer.Option(help="What was done.", show_default=False)] = None,
    place: PlaceOption = None,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """A technician's visit to an installed unit (service.visit)."""
    data = {"reason": reason, **({"notes": notes} if notes else {})}
    _simple("service.visit", connector, data, as_party, key, db, key_dir, json_out, place)


# --------------------------------------------------------------------------
# Exchange, return, end of life.


def deregister(
    connector: ConnectorArg,
    reason: ReasonOption,
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Deregistered from the Telematikinfrastruktur (deregistered), before removal."""
    _simple("deregistered", connector, {"reason": reason}, as_party, key, db, key_dir, json_out)


def remove(
    connector: ConnectorArg,
    reason: ReasonOption,
    as_party: AsOption,
    place: PlaceOption = None,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Removed from the practice (removed; by the custodian, only after deregistration)."""
    _simple("removed", connector, {"reason": reason}, as_party, key, db, key_dir, json_out, place)


def return_ship(
    connectors: ConnectorsArg,
    destination: Annotated[str, typer.Option(help="Destination location id (e.g. the warehouse).")],
    to: Annotated[str, typer.Option(help="Party the return is for.")],
    delivery_note: Annotated[str, typer.Option(help="Delivery note number.")],
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Send removed units back (returned.shipped; one per connector, all or nothing)."""
    _shipment(
        "returned.shipped", connectors, destination, to, delivery_note, as_party, key, db, key_dir, json_out
    )


def decommission(
    connector: ConnectorArg,
    reason: ReasonOption,
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Take a unit out of service for good (decommissioned), before destruction."""
    _simple("decommissioned", connector, {"reason": reason}, as_party, key, db, key_dir, json_out)


def destroy(
    connector: ConnectorArg,
    method: Annotated[str, typer.Option(help="shredded, crushed, incinerated or other.")],
    witness: Annotated[str, typer.Option(help="Party witnessing (co-signs the statement).")],
    as_party: AsOption,
    witness_key: Annotated[
        Path | None,
        typer.Option(help="The witness's key file (default: KEY_DIR/<witness>.pem).", show_default=False),
    ] = None,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Physical destruction of a decommissioned unit, co-signed by a witness (destroyed)."""
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    signing = signer_key(ctx, as_party, key)
    cosign = second_key(ctx, witness, witness_key, "witness")
    result = custody.destroy(
        ctx, as_party, signing, record.subject, method=method, witness=witness, witness_key=cosign
    )
    after = queries.connector(ctx.engine, record.subject)
    report(result, json_out, {"connector": after.subject, "state": after.state}, [f"state: {after.state}"])


def lost(
    connector: ConnectorArg,
    circumstances: CircumstancesOption,
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """The unit is missing (lost): state LOST."""
    _simple("lost", connector, {"circumstances": circumstances}, as_party, key, db, key_dir, json_out)


def stolen(
    connector: ConnectorArg,
    circumstances: CircumstancesOption,
    as_party: AsOption,
    police_report: Annotated[
        str | None, typer.Option(help="Police report reference.", show_default=False)
    ] = None,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """The unit was stolen (stolen): state LOST."""
    data = {"circumstances": circumstances, **({"police_report": police_report} if police_report else {})}
    _simple("stolen", connector, data, as_party, key, db, key_dir, json_out)


def correct(
    connector: ConnectorArg,
    index: Annotated[str, typer.Option(metavar="N", help="Index of the entry that is wrong.")],
    reason: Annotated[str, typer.Option(help="did_not_occur or incorrect_data.")],
    explanation: Annotated[str, typer.Option(help="What was wrong.")],
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Declare an earlier entry of the connector erroneous (correction); nothing is edited."""
    wrong = int_arg(index, "--index")
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    signing = signer_key(ctx, as_party, key)
    result = custody.correct(
        ctx, as_party, signing, record.subject, index=wrong, reason=reason, explanation=explanation
    )
    after = queries.connector(ctx.engine, record.subject)
    report(
        result,
        json_out,
        {"connector": after.subject, "state": after.state, "corrects": wrong},
        [f"state: {after.state}"],
    )


# --------------------------------------------------------------------------
# Maintenance.


def rebuild_projections(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Throw away the current-state tables and rebuild them by replaying the log."""
    ctx = open_ledger(db)
    size = rebuild(ctx.engine)
    if json_out:
        emit_json({"size": size})
    else:
        typer.echo(f"projections rebuilt from {size} entries")
