"""``custody seal …`` — seal inventory, issuing, applying, checking and removing seals."""

from __future__ import annotations

from typing import Annotated

import typer

from app import queries
from app.cli.common import DbOption, JsonOption, KeyDirOption, emit_json
from app.cli.custody_common import (
    AsOption,
    KeyFileOption,
    connector_arg,
    int_arg,
    location_arg,
    open_ledger,
    pairs,
    report,
    require_connector,
    require_party,
    require_seals,
    seal_arg,
    seal_args,
    short_party,
    signer_key,
)
from app.services import custody
from ledger.custody.connector import SEAL_RESULTS
from ledger.custody.ids import seal_id
from ledger.custody.records import (
    SEAL_STATUSES,
)
from ledger.errors import InvalidInput

app = typer.Typer(
    help="Seal inventory and use: receive, issue, apply, inspect, remove, retain, destroy, void, lost.",
    no_args_is_help=True,
)

ConnectorArg = Annotated[
    str, typer.Argument(help="Connector: VENDOR:SERIAL (or connector:VENDOR:SERIAL).", show_default=False)
]
SealsArg = Annotated[list[str], typer.Argument(help="Seal ids (e.g. KC00001237).", show_default=False)]
SealOption = Annotated[
    list[str], typer.Option("--seal", help="Seal id; repeat for several.", show_default=False)
]


@app.command("receive")
def receive(
    as_party: AsOption,
    series: Annotated[str, typer.Option(help="Two-letter series, e.g. KC.")],
    first: Annotated[str, typer.Option(metavar="N", help="Number of the first seal (0–9999999).")],
    count: Annotated[str, typer.Option(metavar="N", help="How many consecutive seals (1–10000).")],
    supplier: Annotated[str, typer.Option(help="Supplier of the batch.")],
    lot: Annotated[str | None, typer.Option(help="Supplier's lot number.", show_default=False)] = None,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """A numbered batch of seals enters inventory (seal.received)."""
    series = series.strip().upper()
    start, number = int_arg(first, "--first", 0, 9_999_999), int_arg(count, "--count", 1, 10_000)
    low = seal_id(series, start)
    high = seal_id(series, start + number - 1)
    ctx = open_ledger(db, key_dir)
    signing = signer_key(ctx, as_party, key)
    result = custody.receive_seals(
        ctx, as_party, signing, series=series, first=start, count=number, supplier=supplier, lot=lot
    )
    report(
        result,
        json_out,
        {"first_seal": low, "last_seal": high, "count": number},
        [f"seals {low} … {high} ({number}) in stock"],
    )


@app.command("issue")
def issue(
    seals: SealsArg,
    to: Annotated[str, typer.Option(help="Party the seals are issued to (who alone may apply them).")],
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Issue seals from stock to a named party (seal.issued, one per seal, all or nothing)."""
    wanted = seal_args(seals)
    ctx = open_ledger(db, key_dir)
    require_seals(ctx, wanted)
    receiver = require_party(ctx, to, "recipient")
    signing = signer_key(ctx, as_party, key)
    report(custody.issue_seals(ctx, as_party, signing, wanted, receiver), json_out)


@app.command("apply")
def apply(
    connector: ConnectorArg,
    seal: SealOption,
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Apply seals issued to you to a connector's housing (seal.applied)."""
    wanted = seal_args(seal)
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    require_seals(ctx, wanted)
    signing = signer_key(ctx, as_party, key)
    report(custody.apply_seals(ctx, as_party, signing, record.subject, wanted), json_out)


@app.command("inspect")
def inspect(
    connector: ConnectorArg,
    as_party: AsOption,
    observed: Annotated[
        list[str] | None,
        typer.Option(help="Seal id read on the housing; repeat for each seal (none: no seal found)."),
    ] = None,
    result: Annotated[
        list[str] | None,
        typer.Option(
            help=f"SEAL=RESULT for a seal that is not simply intact ({', '.join(SEAL_RESULTS)}); "
            "default: intact if expected and observed, else missing/mismatch."
        ),
    ] = None,
    checklist: Annotated[str, typer.Option(help="Checklist followed.")] = "VVTT-1",
    place: Annotated[
        str | None, typer.Option(help="Where the check was done (location id).", show_default=False)
    ] = None,
    photo: Annotated[
        list[str] | None, typer.Option(help="SHA-256 (hex) of a photo taken; repeatable.")
    ] = None,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record a seal check against the seals the ledger expects (seal.inspected).

    A non-conformant check is recorded too and exits 0: it says so on stdout.
    """
    seen = seal_args(observed or [])
    results = {}
    for seal, verdict in pairs(result or [], "--result", f"SEAL=RESULT ({', '.join(SEAL_RESULTS)})"):
        if verdict not in SEAL_RESULTS:
            raise InvalidInput(f"--result {seal}={verdict}: result must be one of {', '.join(SEAL_RESULTS)}")
        results[seal_arg(seal)] = verdict
    where = None if place is None else location_arg(place)
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    signing = signer_key(ctx, as_party, key)
    appended, conformant = custody.inspect_seals(
        ctx,
        as_party,
        signing,
        record.subject,
        seen,
        place=where,
        results=results,
        checklist=checklist,
        photos=[p.strip().lower() for p in photo or []],
    )
    after = queries.connector(ctx.engine, record.subject)
    expected, found = ", ".join(sorted(record.seals)) or "none", ", ".join(seen) or "none"
    verdict_line = (
        f"seal check of {record.subject}: conformant (seal status {after.seal_status})"
        if conformant
        else f"seal check of {record.subject}: NOT conformant (seal status {after.seal_status}); "
        f"expected {expected}, observed {found}"
    )
    report(appended, json_out, {"conformant": conformant, "seal_status": after.seal_status}, [verdict_line])


@app.command("remove")
def remove(
    connector: ConnectorArg,
    seal: SealOption,
    reason: Annotated[str, typer.Option(help="Why the seals are removed.")],
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Remove seals from a connector's housing, with the reason (seal.removed)."""
    wanted = seal_args(seal)
    ctx = open_ledger(db, key_dir)
    record = require_connector(ctx, connector)
    require_seals(ctx, wanted)
    signing = signer_key(ctx, as_party, key)
    report(custody.remove_seals(ctx, as_party, signing, record.subject, wanted, reason), json_out)


def _seal_batch(
    kind: str,
    seals: list[str],
    data: dict[str, str],
    as_party: str,
    key: KeyFileOption,
    db: str | None,
    key_dir: KeyDirOption,
    json_out: bool,
) -> None:
    wanted = seal_args(seals)
    ctx = open_ledger(db, key_dir)
    require_seals(ctx, wanted)
    signing = signer_key(ctx, as_party, key)
    report(custody.seal_statements(ctx, as_party, signing, kind, wanted, data), json_out)


@app.command("retain")
def retain(
    seals: SealsArg,
    location: Annotated[str, typer.Option(help="Where the removed seals are kept as evidence.")],
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Keep removed seals as evidence (seal.retained)."""
    data = {"location": location_arg(location)}
    _seal_batch("seal.retained", seals, data, as_party, key, db, key_dir, json_out)


@app.command("destroy")
def destroy(
    seals: SealsArg,
    method: Annotated[str, typer.Option(help="How the seals were destroyed (e.g. shredded).")],
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Destroy removed, retained or void seals (seal.destroyed)."""
    _seal_batch("seal.destroyed", seals, {"method": method}, as_party, key, db, key_dir, json_out)


@app.command("void")
def void(
    seals: SealsArg,
    reason: Annotated[str, typer.Option(help="Why (damaged, misprinted …).")],
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Declare unused seals void (seal.voided; by the party holding them)."""
    _seal_batch("seal.voided", seals, {"reason": reason}, as_party, key, db, key_dir, json_out)


@app.command("lost")
def lost(
    seals: SealsArg,
    circumstances: Annotated[str, typer.Option(help="What is known about the loss.")],
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Report seals as lost (seal.lost)."""
    _seal_batch("seal.lost", seals, {"circumstances": circumstances}, as_party, key, db, key_dir, json_out)


@app.command("show")
def show(
    seal: Annotated[str, typer.Argument(help="Seal id.", show_default=False)],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """A seal's status, holder, connector and its history."""
    ident = seal_arg(seal)
    ctx = open_ledger(db)
    record = queries.seal(ctx.engine, ident)
    view = {**record.to_json(), "history": [h.as_dict() for h in queries.seal_history(ctx.engine, ident)]}
    if json_out:
        emit_json(view)
        return
    typer.echo(f"{'seal:':<12}{record.seal_id}")
    typer.echo(f"{'status:':<12}{record.status}")
    typer.echo(f"{'holder:':<12}{short_party(record.holder)}")
    typer.echo(f"{'issued to:':<12}{short_party(record.issued_to)}")
    typer.echo(f"{'connector:':<12}{record.connector or '-'}")
    typer.echo("history:")
    for item in view["history"]:
        typer.echo(f"  {item['index']:>6}  {item['at']}  {item['kind']:<16} {short_party(item['by'])}")


@app.command("list")
def list_seals(
    status: Annotated[
        str | None, typer.Option(help=f"Only this status ({', '.join(SEAL_STATUSES)}).")
    ] = None,
    connector: Annotated[str | None, typer.Option(help="Only seals applied to this connector.")] = None,
    limit: Annotated[str, typer.Option(metavar="N", help="At most this many rows (1–100000).")] = "1000",
    offset: Annotated[str, typer.Option(metavar="N", help="Skip this many rows.")] = "0",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List seals with status, holder and connector."""
    wanted = None
    if status is not None:
        wanted = status.strip().upper()
        if wanted not in SEAL_STATUSES:
            raise InvalidInput(f"unknown seal status {status!r}: one of {', '.join(SEAL_STATUSES)}")
    subject = None if connector is None else connector_arg(connector)
    rows_limit, rows_offset = int_arg(limit, "--limit", 1, 100_000), int_arg(offset, "--offset")
    ctx = open_ledger(db)
    rows = queries.seals(ctx.engine, status=wanted, connector=subject, limit=rows_limit, offset=rows_offset)
    if json_out:
        emit_json(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['seal_id']:<12} {row['status']:<10} {short_party(row['holder']):<20} "
            f"{short_party(row['issued_to']):<20} {row['connector'] or '-'}"
        )
