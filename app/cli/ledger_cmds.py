"""Top-level commands: init, status, verify."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import (
    EXIT_FAILED,
    DbOption,
    JsonOption,
    KeyDirOption,
    context,
    emit_json,
    existing_context,
)
from app.services.setup import init_ledger, ledger_status
from app.services.verification import verify_ledger


def register(cli: typer.Typer) -> None:
    cli.command("init")(init)
    cli.command("status")(status)
    cli.command("verify")(verify)


def init(
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    origin: Annotated[
        str | None,
        typer.Option(help="Log origin, also the checkpoint key name (e.g. custody.example.org/ledger)."),
    ] = None,
    admin: Annotated[str, typer.Option(help="Party id of the first administrator.")] = "ADMIN-01",
    admin_name: Annotated[
        str, typer.Option(help="Display name of the first administrator.")
    ] = "Ledger administration",
    json_out: JsonOption = False,
) -> None:
    """Create or migrate the ledger: schema, log key, first administrator and genesis.

    Idempotent: on an existing ledger it only migrates the schema and reports.
    Passphrases come from CUSTODY_LOG_KEY_PASSPHRASE and CUSTODY_KEY_PASSPHRASE,
    or a prompt at a terminal.
    """
    result = init_ledger(context(db, key_dir), origin=origin, admin_id=admin, admin_name=admin_name)
    if json_out:
        emit_json(result.as_dict())
        return
    verb = "created" if result.created else "already initialised"
    typer.echo(f"ledger {result.origin}: {verb}, {result.size} entries")
    typer.echo(f"log key (checkpoint signing): {result.log_key_file}")
    typer.echo(f"administrator {result.admin} key:  {result.admin_key_file}")
    typer.echo(f"verifier key: {result.vkey}")


def status(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Show origin, size, latest checkpoint and schema revision."""
    info = ledger_status(existing_context(db))
    if json_out:
        emit_json(info)
        return
    if not info["initialised"]:
        typer.echo("ledger: not initialised (run `custody init`)")
        return
    typer.echo(f"origin:     {info['origin']}")
    typer.echo(f"entries:    {info['size']}")
    cp = info["checkpoint"]
    if cp:
        typer.echo(f"checkpoint: size {cp['size']}, root {cp['root']}")
    typer.echo(f"parties:    {info['parties']} ({info['keys']} active keys)")
    typer.echo(f"vkey:       {info['vkey']}")
    typer.echo(f"schema:     {info['schema']}")


def verify(
    db: DbOption = None,
    vkey: Annotated[
        str | None,
        typer.Option(help="Pin the log's verifier key instead of trusting the one genesis declares."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes for signature checks (default: one per core).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Verify the whole ledger: entries, chains, signatures, keys, roles, rules, tree, checkpoints.

    Exit 0 if valid, 1 with every finding listed, 2 for unusable input.
    """
    report = verify_ledger(existing_context(db), vkey=vkey, workers=workers)
    if json_out:
        emit_json(report.as_dict())
    else:
        for finding in report.findings:
            where = "-" if finding.index is None else str(finding.index)
            line = f"FAIL index {where}: {finding.code}: {finding.message}"
            if finding.expected is not None or finding.found is not None:
                line += f" (expected {finding.expected}, found {finding.found})"
            typer.echo(line)
        for warning in report.warnings:
            typer.echo(f"WARN index {warning.index}: {warning.message}")
        state = "valid" if report.valid else f"INVALID: {len(report.findings)} finding(s)"
        typer.echo(
            f"{state}; {report.size} entries, {report.checkpoints_checked} checkpoints, "
            f"{report.tree_nodes_checked} tree nodes checked; root {report.root}"
        )
    if not report.valid:
        typer.echo(
            f"error: verification failed with {len(report.findings)} finding(s) [verify.failed]", err=True
        )
        raise typer.Exit(EXIT_FAILED)
