"""``custody bench …`` — measured figures for docs/benchmarks.md (one JSON line at the end)."""

from __future__ import annotations

from typing import Annotated

import typer

from app import benchmarks
from app.cli.common import DbOption, emit_json


def _say(message: str) -> None:
    typer.echo(message, err=True)


app = typer.Typer(
    help="Benchmarks; each prints progress on stderr and one final JSON line.", no_args_is_help=True
)


@app.command("append")
def append(
    n: Annotated[int, typer.Option("--n", min=1, help="Statements to append.")] = 20000,
    batch: Annotated[int, typer.Option(min=1, help="Statements per append transaction.")] = 500,
    db: DbOption = None,
) -> None:
    """Append N synthetic statements signed by registered keys into a fresh ledger."""
    emit_json(benchmarks.bench_append(n, batch, db, _say))


@app.command("verify")
def verify(
    n: Annotated[int, typer.Option("--n", min=1, help="Entries in the ledger to verify.")] = 20000,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Signature-check processes (default: one per core).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Full-verification throughput beside the single-core Ed25519 verify rate, and their ratio."""
    emit_json(benchmarks.bench_verify(n, workers, db, _say))


@app.command("proofs")
def proofs(
    db: Annotated[str, typer.Option("--db", help="An existing ledger to read proofs from.")],
    samples: Annotated[int, typer.Option(min=1, help="Proofs of each kind.")] = 1000,
) -> None:
    """p50/p99 latency of inclusion and consistency proofs from an existing ledger."""
    emit_json(benchmarks.bench_proofs(db, samples, _say))
