"""Top-level commands: init, status, verify (a database or an export bundle)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import (
    EXIT_FAILED,
    EXIT_INPUT,
    DbOption,
    JsonOption,
    KeyDirOption,
    context,
    emit_json,
    existing_context,
    fail,
)
from app.services.bundle_verify import verify_bundle
from app.services.setup import init_ledger, ledger_status
from app.services.verification import verify_ledger
from ledger.errors import Finding


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
    or a prompt at a terminal. With CUSTODY_HSM_MODULE set, the log key is the
    HSM key (`custody hsm generate` first; PIN from CUSTODY_HSM_PIN) and no log
    key file is written.
    """
    result = init_ledger(context(db, key_dir), origin=origin, admin_id=admin, admin_name=admin_name)
    if json_out:
        emit_json(result.as_dict())
        return
    verb = "created" if result.created else "already initialised"
    typer.echo(f"ledger {result.origin}: {verb}, {result.size} entries")
    typer.echo(f"log key (checkpoint signing): {result.log_key}")
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
    bundle: Annotated[
        Path | None,
        typer.Argument(
            help="An export bundle (.zip or directory) to verify offline; without it, the database.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    vkey: Annotated[
        str | None,
        typer.Option(
            help="Pin the log's verifier key instead of trusting the one genesis (or the bundle) declares."
        ),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            help="A trusted witness's cosignature vkey (repeatable; bundles only).",
            show_default=False,
        ),
    ] = None,
    require_cosignatures: Annotated[
        int, typer.Option(min=0, help="Cosignatures by --witness keys the checkpoint needs (bundles only).")
    ] = 0,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes for signature checks (default: one per core).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Verify the whole ledger, or an export bundle offline (no database, no network).

    Entries, chains, signatures, keys, roles, rules, tree (or inclusion proofs), checkpoints.
    Exit 0 if valid, 1 with every finding listed, 2 for unusable input.
    """
    if bundle is not None:
        if db is not None:
            fail("give a BUNDLE or --db, not both", "cli.usage", EXIT_INPUT)
        _verify_bundle(bundle, vkey, witness or [], require_cosignatures, workers, json_out)
        return
    if witness or require_cosignatures:
        fail("--witness and --require-cosignatures apply to bundles", "cli.usage", EXIT_INPUT)
    report = verify_ledger(existing_context(db), vkey=vkey, workers=workers)
    if json_out:
        emit_json(report.as_dict())
    else:
        _print_findings(report.findings, report.warnings)
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


def _print_findings(findings: list[Finding], warnings: list[Finding]) -> None:
    for finding in findings:
        where = "-" if finding.index is None else str(finding.index)
        line = f"FAIL index {where}: {finding.code}: {finding.message}"
        if finding.expected is not None or finding.found is not None:
            line += f" (expected {finding.expected}, found {finding.found})"
        typer.echo(line)
    for warning in warnings:
        typer.echo(f"WARN index {warning.index}: {warning.message}")


def _verify_bundle(
    path: Path, vkey: str | None, witnesses: list[str], required: int, workers: int | None, json_out: bool
) -> None:
    report = verify_bundle(
        path, vkey=vkey, witnesses=witnesses, required_cosignatures=required, workers=workers
    )
    if json_out:
        emit_json(report.as_dict())
    else:
        _print_findings(report.findings, report.warnings)
        if report.vkey_pinned:
            typer.echo(f"log key: {report.vkey} (pinned)")
        else:
            typer.echo(
                f"log key: {report.vkey} — NOT pinned: taken from the bundle's log.vkey; "
                "compare it with the published key or pass --vkey"
            )
        if report.witnesses:
            typer.echo(
                f"cosignatures: {len(report.cosignatures)} of {report.witnesses} trusted witnesses "
                f"({report.required_cosignatures} required)"
            )
        kind = "partial bundle" if report.partial else "full bundle"
        about = f" about {', '.join(report.subjects)}" if report.subjects else ""
        state = "valid" if report.valid else f"INVALID: {len(report.findings)} finding(s)"
        typer.echo(
            f"{state}; {kind}{about}: {report.entries} entries, checkpoint size {report.checkpoint_size}, "
            f"root {report.root}"
        )
    if not report.valid:
        typer.echo(
            f"error: verification failed with {len(report.findings)} finding(s) [verify.failed]", err=True
        )
        raise typer.Exit(EXIT_FAILED)
