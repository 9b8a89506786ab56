"""``custody log …`` — the transparency-log interface (same JSON shapes as the API)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from app.cli.common import DbOption, emit_json, existing_context
from app.services.cosign import cosigned_checkpoint
from ledger.entry import Entry

app = typer.Typer(help="Read the log: verifier key, checkpoints, entries, proofs.", no_args_is_help=True)
proof_app = typer.Typer(help="Inclusion and consistency proofs (RFC 9162).", no_args_is_help=True)
app.add_typer(proof_app, name="proof")


@app.command("vkey")
def vkey(db: DbOption = None) -> None:
    """Print the checkpoint verifier key line (name+keyid+key), as declared in genesis."""
    ctx = existing_context(db)
    ctx.require_initialised()
    genesis = Entry.parse(ctx.store.entry(0))
    typer.echo(genesis.statement.data["log_vkey"])


@app.command("checkpoint")
def checkpoint(
    db: DbOption = None,
    size: Annotated[
        int | None, typer.Option(min=1, help="The checkpoint issued at this size (default: latest).")
    ] = None,
) -> None:
    """Print the signed checkpoint note as stored, with every stored witness cosignature line."""
    ctx = existing_context(db)
    ctx.require_initialised()
    sys.stdout.write(cosigned_checkpoint(ctx, size))


@app.command("entries")
def entries(
    db: DbOption = None,
    start: Annotated[int, typer.Option(min=0, help="First index.")] = 0,
    end: Annotated[
        int | None, typer.Option(min=0, help="One past the last index (default: the end).")
    ] = None,
) -> None:
    """Print entry bytes, one entry per line (JSON Lines; the bytes are verbatim)."""
    ctx = existing_context(db)
    ctx.require_initialised()
    out = sys.stdout.buffer
    for raw in ctx.store.entries(start, end):
        out.write(raw + b"\n")
    out.flush()


@proof_app.command("inclusion")
def inclusion(
    index: Annotated[int, typer.Option("--index", min=0, help="Leaf index.")],
    size: Annotated[int | None, typer.Option(min=1, help="Tree size (default: latest checkpoint).")] = None,
    db: DbOption = None,
) -> None:
    """JSON {"index", "size", "leaf_hash", "root", "proof"} (lowercase hex)."""
    ctx = existing_context(db)
    ctx.require_initialised()
    emit_json(ctx.store.inclusion_proof(index, size))


@proof_app.command("consistency")
def consistency(
    old: Annotated[int, typer.Option("--old", min=1, help="Older tree size.")],
    new: Annotated[
        int | None, typer.Option("--new", min=1, help="Newer tree size (default: latest checkpoint).")
    ] = None,
    db: DbOption = None,
) -> None:
    """JSON {"old_size", "old_root", "new_size", "new_root", "proof"} (lowercase hex)."""
    ctx = existing_context(db)
    ctx.require_initialised()
    emit_json(ctx.store.consistency_proof(old, new))
