"""``custody bench …`` — measured figures for docs/benchmarks.md (one JSON line at the end)."""

from __future__ import annotations

from pathlib import Path
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


@app.command("http")
def http(
    n: Annotated[
        int, typer.Option("--n", min=1000, help="Statements pre-signed for the POST run (each sent once).")
    ] = 100_000,
    duration: Annotated[int, typer.Option(min=1, help="Seconds of the measured POST run.")] = 30,
    warmup: Annotated[int, typer.Option(min=1, help="Seconds of POSTs before measuring.")] = 5,
    connections: Annotated[int, typer.Option(min=1, help="wrk connections (closed loop).")] = 32,
    threads: Annotated[int, typer.Option(min=1, help="wrk threads.")] = 2,
    workers: Annotated[int, typer.Option(min=1, help="`custody serve --workers`.")] = 2,
    scan_rate: Annotated[float, typer.Option(min=1, help="Scan requests per second (open loop).")] = 200.0,
    scan_duration: Annotated[int, typer.Option(min=1, help="Seconds of the scan run.")] = 30,
    pg_admin: Annotated[
        str, typer.Option(help="PostgreSQL URL to create (and drop) the benchmark's fresh database with.")
    ] = benchmarks.DEFAULT_PG_ADMIN,
    db: Annotated[
        str | None, typer.Option("--db", help="Use this EMPTY database instead of a fresh PostgreSQL one.")
    ] = None,
    keep_log: Annotated[bool, typer.Option(help="Keep the server's JSON log.")] = False,
) -> None:
    """`custody serve` on a fresh PostgreSQL ledger: POSTs with wrk, then scans at a fixed rate."""
    options = benchmarks.HttpBenchOptions(
        n=n,
        duration=duration,
        warmup=warmup,
        connections=connections,
        threads=threads,
        workers=workers,
        db=db,
        pg_admin=pg_admin,
        scan_rate=scan_rate,
        scan_duration=scan_duration,
        keep=keep_log,
    )
    emit_json(benchmarks.bench_http(options, _say))


@app.command("labels")
def labels(
    n: Annotated[int, typer.Option("--n", min=1, help="Seals to issue and print into one PDF.")] = 1000,
    db: DbOption = None,
) -> None:
    """Seal labels/s into one PDF (sheet and thermal layouts) and ZPL, and the PDF sizes."""
    emit_json(benchmarks.bench_labels(n, db, _say))


@app.command("bundle")
def bundle(
    n: Annotated[int, typer.Option("--n", min=1, help="Entries of the ledger to build and export.")] = 20000,
    bundle_path: Annotated[
        Path | None,
        typer.Option(
            "--bundle",
            help="Reuse this bundle if it exists (else build an N-entry one here).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: one per core).")
    ] = None,
    db: DbOption = None,
    kclverify: Annotated[
        Path | None,
        typer.Option(
            help="Measure this kclverify binary (the Go verifier, `make kclverify`), not `custody verify`.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Offline bundle verification: entries/s, ratio to cores × Ed25519 rate, peak RSS."""
    emit_json(benchmarks.bench_bundle(n, bundle_path, workers, db, _say, kclverify))
