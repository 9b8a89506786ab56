"""``custody report connector|seals`` — auditor reports as PDF files.

Thin: every figure comes from :mod:`app.services.reports` (and
:mod:`app.services.reconciliation`); this only parses options and prints
where the file went. On any error nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import DbOption, JsonOption, emit_json
from app.cli.custody_common import open_ledger
from app.services import reports
from app.services.reconciliation import DEFAULT_ISSUED_DAYS, DEFAULT_REMOVED_DAYS

app = typer.Typer(
    help="Auditor reports (PDF): a connector's chain of custody, the seal reconciliation.",
    no_args_is_help=True,
)

OutOption = Annotated[Path, typer.Option("--out", help="The PDF file to write (replaced atomically).")]


def _print(result: reports.ReportFile, json_out: bool) -> None:
    if json_out:
        emit_json(result.as_dict())
        return
    what = result.subject or "seals"
    typer.echo(f"wrote {result.path} ({result.pages} pages): {what}, as of {result.as_of}")
    typer.echo(f"sha256: {result.sha256}")


@app.command("connector")
def connector(
    connector_id: Annotated[
        str, typer.Argument(help="Connector: VENDOR:SERIAL (or connector:VENDOR:SERIAL).", show_default=False)
    ],
    out: OutOption,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Chain-of-custody report: timeline, seals, certificates, verification with proof digests, QR."""
    ctx = open_ledger(db)
    _print(reports.write_custody_report(ctx, connector_id, out=out), json_out)


@app.command("seals")
def seals(
    out: OutOption,
    removed_days: Annotated[
        int,
        typer.Option(min=0, help="Flag seals removed this many days ago and neither retained nor destroyed."),
    ] = DEFAULT_REMOVED_DAYS,
    issued_days: Annotated[
        int, typer.Option(min=0, help="Flag seals issued this many days ago and not applied.")
    ] = DEFAULT_ISSUED_DAYS,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Seal reconciliation: received, issued, applied, removed, retained, destroyed, lost; discrepancies."""
    ctx = open_ledger(db)
    result = reports.write_seal_report(ctx, out=out, removed_days=removed_days, issued_days=issued_days)
    _print(result, json_out)
