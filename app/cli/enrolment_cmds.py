"""``custody enrolment …`` — device-key enrolments: list, approve (appends ``key.added``), reject.

The same service as ``/api/v1/enrolments`` and the ``/admin`` page; here the
administrator signs with a key file. This is how the first administrator's
browser key gets approved, before any browser key could sign an approval.
"""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import DbOption, JsonOption, KeyDirOption, emit_json
from app.cli.custody_common import AsOption, KeyFileOption, open_ledger, report, require_party, signer_key
from app.services import enrolment
from app.services.signing import signed_statement

app = typer.Typer(help="Device-key enrolments of browsers: list, approve, reject.", no_args_is_help=True)
EnrolmentArg = Annotated[str, typer.Argument(help="Enrolment id (32 hex digits).", show_default=False)]


@app.command("list")
def list_enrolments(
    status: Annotated[
        str, typer.Option(help=f"One of {', '.join(enrolment.STATUSES)}, or all.")
    ] = enrolment.PENDING,
    party: Annotated[str | None, typer.Option(help="Only this party's enrolments.")] = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Enrolments, oldest first (default: the pending ones)."""
    if status != "all" and status not in enrolment.STATUSES:
        raise typer.BadParameter(f"--status must be one of {', '.join(enrolment.STATUSES)} or all")
    ctx = open_ledger(db, key_dir)
    rows = enrolment.enrolments(
        ctx,
        party=require_party(ctx, party) if party else None,
        status=None if status == "all" else status,
        limit=10_000,
    )
    if json_out:
        emit_json([row.as_dict() for row in rows])
        return
    for row in rows:
        typer.echo(
            f"{row.enrolment_id}  {row.status:<8}  {row.party:<24}  {row.algorithm:<20}  "
            f"{row.keyid[:16]}…  {row.label}"
        )
    typer.echo(f"{len(rows)} enrolment(s)")


@app.command("approve")
def approve(
    enrolment_id: EnrolmentArg,
    as_party: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Approve: the administrator signs ``key.added`` for the enrolled key, which is appended."""
    ctx = open_ledger(db, key_dir)
    pending = enrolment.get_enrolment(ctx, enrolment_id.strip().lower())
    admin = require_party(ctx, as_party, "administrator")
    envelope = signed_statement(
        ctx,
        kind="key.added",
        subject=pending.party,
        by=admin,
        data=pending.key_added_data(),
        keys=[signer_key(ctx, as_party, key)],
    )
    decided, result = enrolment.approve_enrolment(ctx, admin, pending.enrolment_id, envelope)
    report(result, json_out, {"enrolment": decided.as_dict()}, [f"enrolment {decided.enrolment_id} approved"])


@app.command("reject")
def reject(
    enrolment_id: EnrolmentArg,
    as_party: AsOption,
    reason: Annotated[str, typer.Option(help="Why (shown to the enrolling party).")],
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Reject with a reason; nothing is appended."""
    ctx = open_ledger(db, key_dir)
    admin = require_party(ctx, as_party, "administrator")
    decided = enrolment.reject_enrolment(ctx, admin, enrolment_id.strip().lower(), reason)
    if json_out:
        emit_json(decided.as_dict())
        return
    typer.echo(f"enrolment {decided.enrolment_id} rejected")
