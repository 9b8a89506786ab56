"""``custody audit watch`` — monitor a log server for rollbacks, forks and invalid proofs."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import EXIT_FAILED, JsonOption, emit_json
from app.errors import OperationalError
from app.services.monitor import watch_once
from ledger.monitor import MonitorFinding

app = typer.Typer(help="Auditor tools: monitor a log (rollback, fork, invalid proofs).", no_args_is_help=True)


def register(cli: typer.Typer) -> None:
    register_watch(app)
    cli.add_typer(app, name="audit")


def register_watch(group: typer.Typer) -> None:
    """Attach ``watch`` to an ``audit`` group (also one defined elsewhere)."""
    group.command("watch")(watch)


def watch(
    server: Annotated[
        str, typer.Option("--server", help="Base URL of the ledger, e.g. https://custody.example.org.")
    ],
    state: Annotated[Path, typer.Option("--state", help="Monitor state file (JSON), created on first use.")],
    vkey: Annotated[
        str | None,
        typer.Option(
            "--vkey", help="The log's vkey from a trusted channel (default: trust the server's on first use)."
        ),
    ] = None,
    witness: Annotated[
        list[str] | None, typer.Option("--witness", help="A trusted witness vkey (type 0x04; repeatable).")
    ] = None,
    require_cosignatures: Annotated[
        int,
        typer.Option(
            "--require-cosignatures", min=0, help="Cosignatures of distinct --witness keys required."
        ),
    ] = 0,
    once: Annotated[bool, typer.Option("--once", help="Check once and exit (the default).")] = False,
    interval: Annotated[
        float | None, typer.Option("--interval", min=1.0, help="Check every SECONDS until a finding.")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for the server.")] = 10.0,
    json_out: JsonOption = False,
) -> None:
    """Fetch the latest checkpoint, verify it and a consistency proof from the last one seen, record it.

    The first run records the checkpoint (trust on first use). Exit 0 ok; 1 on a rollback, a
    fork (split view), an invalid consistency proof, an invalid signature or missing
    cosignatures; 2 unusable input (bad state file, options); 3 server unreachable.
    """
    if once and interval is not None:
        raise typer.BadParameter("--once and --interval exclude each other")
    while True:
        try:
            result = watch_once(
                server,
                state,
                datetime.now(UTC),
                vkey=vkey,
                witnesses=witness or (),
                required_cosignatures=require_cosignatures,
                timeout=timeout,
            )
        except MonitorFinding as finding:
            if json_out:
                emit_json(
                    {"status": "finding", "code": finding.code, "message": finding.message, "server": server}
                )
            typer.echo(f"error: {finding.message} [{finding.code}]", err=True)
            raise typer.Exit(EXIT_FAILED) from None
        except OperationalError as exc:
            if interval is None:
                raise
            typer.echo(f"warning: {exc.message} [{exc.code}]; retrying in {interval:g}s", err=True)
        else:
            if json_out:
                emit_json(result.as_dict())
            else:
                typer.echo(result.message())
        if interval is None:
            return
        time.sleep(interval)
