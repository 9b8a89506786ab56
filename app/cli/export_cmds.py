"""`custody export`: export bundles for auditors (and, if installed, EPCIS documents)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import EXIT_INPUT, DbOption, JsonOption, emit_json, existing_context, fail
from app.services.export import export_all, export_connectors, export_epcis


class ExportFormat(StrEnum):
    bundle = "bundle"
    epcis = "epcis"


def register(cli: typer.Typer) -> None:
    cli.command("export")(export)


def export(
    out: Annotated[
        Path, typer.Option("--out", help="File to write (a .zip for bundles).", show_default=False)
    ],
    all_entries: Annotated[bool, typer.Option("--all", help="Every entry up to the checkpoint.")] = False,
    connector: Annotated[
        list[str] | None,
        typer.Option(
            "--connector",
            help="VENDOR:SERIAL (or connector:VENDOR:SERIAL) of a connector; repeat for several. "
            "A partial bundle: what verifying them needs, with inclusion proofs.",
            show_default=False,
        ),
    ] = None,
    export_format: Annotated[
        ExportFormat, typer.Option("--format", help="bundle (docs/format.md §15) or epcis.")
    ] = ExportFormat.bundle,
    size: Annotated[
        int | None,
        typer.Option(
            "--size",
            min=1,
            help="Export at the checkpoint of this size (default: the latest).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write an export bundle an auditor verifies offline with `custody verify BUNDLE`.

    Exactly one of --all and --connector. The file is written under a
    temporary name and renamed when complete; the same ledger and checkpoint
    always give the same bytes.
    """
    connectors = list(connector or [])
    if all_entries == bool(connectors):
        fail("give exactly one of --all and --connector", "cli.usage", EXIT_INPUT)
    ctx = existing_context(db)
    if export_format is ExportFormat.epcis:
        if size is not None:
            fail("--size applies to bundles only", "cli.usage", EXIT_INPUT)
        summary = export_epcis(ctx, connectors, out)
        if json_out:
            emit_json(summary)
        else:
            typer.echo(f"EPCIS document written to {out}")
        return
    if all_entries:
        result = export_all(ctx, out, size=size, progress=lambda n: typer.echo(f"{n} entries", err=True))
    else:
        result = export_connectors(ctx, connectors, out, size=size)
    if json_out:
        emit_json(result.as_dict())
        return
    kind = "partial bundle" if result.partial else "full bundle"
    about = f" of {', '.join(result.subjects)}" if result.subjects else ""
    typer.echo(
        f"{kind}{about}: {result.entries} entries at checkpoint size {result.checkpoint_size} "
        f"(root {result.root})"
    )
    typer.echo(f"written to {result.path} ({result.size_bytes} bytes, sha256 {result.sha256})")
