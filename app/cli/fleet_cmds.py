"""``custody fleet …`` — the fleet's certificate status."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import DbOption, JsonOption, emit_json
from app.cli.custody_common import open_ledger, short_party
from app.services import fleet

app = typer.Typer(help="Fleet reports: gSMC-K certificates due for exchange or LZV.", no_args_is_help=True)


@app.command("expiring")
def expiring(
    within: Annotated[
        str, typer.Option(help="Window: a number with d, w, m (30 days) or y (365 days), e.g. 180d.")
    ] = "180d",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Active connectors whose earliest gSMC-K certificate expires within the window, by month.

    Already expired ones are included and marked.
    """
    window = fleet.parse_window(within.strip())
    ctx = open_ledger(db)
    found = fleet.expiring(ctx, window)
    if json_out:
        emit_json(found)
        return
    typer.echo(
        f"{found['total']} connector(s) expiring within {found['within_days']} days of {found['as_of']}"
    )
    for month in found["months"]:
        typer.echo(f"{month['month']}: {month['count']}")
        for item in month["connectors"]:
            flag = "  EXPIRED" if item["expired"] else ""
            typer.echo(
                f"  {item['not_after']}  {item['connector']:<36} {item['state']:<15} "
                f"{short_party(item['custodian'])}{flag}"
            )
