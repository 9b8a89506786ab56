"""``custody practice …`` — practice master data behind the salted digests in the log.

The log holds only a salted digest of a practice's BSNR and Telematik-ID;
the clear values live in an erasable table. ``practice erase`` deletes them
and the salt (GDPR erasure): the log stays intact and verifiable.
"""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import DbOption, JsonOption, emit_json
from app.cli.custody_common import open_ledger
from app.services import practices

app = typer.Typer(help="Practice master data: add, list, erase (GDPR).", no_args_is_help=True)

PracticeArg = Annotated[str, typer.Argument(help="Practice id (your own reference, 1–64 characters).")]


@app.command("add")
def add(
    practice_id: PracticeArg,
    name: Annotated[str, typer.Option(help="Practice name.")],
    bsnr: Annotated[str, typer.Option(help="Betriebsstättennummer (nine digits).")],
    telematik_id: Annotated[str, typer.Option(help="Telematik-ID of the practice (SMC-B).")],
    address: Annotated[str | None, typer.Option(help="Postal address.", show_default=False)] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Register a practice's master data; prints the digest statements will carry."""
    ctx = open_ledger(db)
    digest = practices.add_practice(
        ctx, practice_id, name=name, bsnr=bsnr.strip(), telematik_id=telematik_id.strip(), address=address
    )
    if json_out:
        emit_json({"practice_id": practice_id, "digest": digest})
    else:
        typer.echo(f"practice {practice_id} added; digest {digest}")


@app.command("list")
def list_practices(db: DbOption = None, json_out: JsonOption = False) -> None:
    """List practices (erased ones show only their id, digest and erasure time)."""
    ctx = open_ledger(db)
    rows = practices.practices(ctx)
    if json_out:
        emit_json(rows)
        return
    for row in rows:
        if row["erased_at"]:
            typer.echo(f"{row['practice_id']:<20} {row['digest']}  erased {row['erased_at']}")
        else:
            typer.echo(
                f"{row['practice_id']:<20} {row['digest']}  {row['name']}, BSNR {row['bsnr']}, "
                f"{row['telematik_id']}"
            )


@app.command("erase")
def erase(practice_id: PracticeArg, db: DbOption = None, json_out: JsonOption = False) -> None:
    """Erase a practice's clear identifiers and salt (GDPR); the log is untouched and still verifies."""
    ctx = open_ledger(db)
    practices.erase_practice(ctx, practice_id)
    if json_out:
        emit_json({"practice_id": practice_id, "erased": True})
    else:
        typer.echo(
            f"practice {practice_id}: master data erased; its digest in the log can no longer be linked"
        )
