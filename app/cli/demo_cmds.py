"""``custody demo`` — seed an empty ledger with a realistic, deterministic demo story."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli.common import EXIT_FAILED, DbOption, JsonOption, KeyDirOption, context, emit_json, stderr
from app.services import labels
from app.services.demo import (
    DEFAULT_CONNECTORS,
    MAX_CONNECTORS,
    MIN_CONNECTORS,
    DemoSummary,
    LedgerNotEmpty,
    build_demo,
    ledger_has_data,
)


def register(cli: typer.Typer) -> None:
    cli.command("demo")(demo)


def demo(
    connectors: Annotated[
        int,
        typer.Option("--connectors", min=MIN_CONNECTORS, max=MAX_CONNECTORS, help="Connectors in the story."),
    ] = DEFAULT_CONNECTORS,
    seed: Annotated[int, typer.Option(help="Seed: the same seed appends byte-identical entries.")] = 1,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    if_empty: Annotated[
        bool,
        typer.Option(
            "--if-empty", help="If the ledger already has data, do nothing and exit 0 (for `make run`)."
        ),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Build a demo ledger: parties, practices, connectors from factory to shredder, an exchange wave.

    Creates the ledger if needed (or seeds one holding only its genesis) and writes every
    demo party's key file to the key directory (passphrase CUSTODY_KEY_PASSPHRASE), so you
    can carry on with the CLI as any party. Refuses (exit 2) a ledger that already has data.
    Ends with a full verification; exit 1 if it fails.
    """
    ctx = context(db, key_dir)
    if ledger_has_data(ctx):
        if if_empty:
            return
        raise LedgerNotEmpty(
            f"the ledger already has {ctx.store.size()} entries; the demo only seeds an empty ledger"
        )
    started = time.perf_counter()

    def progress(message: str) -> None:
        stderr(f"[{time.perf_counter() - started:6.1f}s] {message}")

    summary = build_demo(ctx, connectors, seed, progress)
    # The label key too, so that the demo's labels verify from the start and the public
    # GET /api/v1/labels/vkey answers (it is otherwise created by the first print).
    label_key = labels.init_label_key(ctx)
    progress(f"label key {labels.key_ref(label_key.vkey)} at {label_key.path}")
    if json_out:
        emit_json(summary.as_dict())
    else:
        _print_summary(summary)
    if not summary.valid:
        typer.echo(
            f"error: the demo ledger failed verification with {summary.verification['findings']} "
            "finding(s) [verify.failed]",
            err=True,
        )
        raise typer.Exit(EXIT_FAILED)


def _print_summary(summary: DemoSummary) -> None:
    console = Console(highlight=False)
    overview = Table(title=f"Demo ledger {summary.origin} (seed {summary.seed})", show_header=False)
    overview.add_column(style="bold")
    overview.add_column()
    verification = summary.verification
    rows = [
        ("entries", f"{summary.entries} in {summary.appends} appends"),
        ("timeline", f"{summary.first_event} … {summary.last_event}"),
        ("connectors", f"{summary.connectors} ({_pairs(summary.vendors)})"),
        ("parties", f"{summary.parties} ({_pairs(summary.parties_by_role)})"),
        ("keys", _pairs(summary.key_algorithms)),
        ("practices", str(summary.practices)),
        ("handovers", f"{summary.handovers} two-party handovers"),
        ("incidents", "; ".join(f"{i['incident']} {i['category']} {i['status']}" for i in summary.incidents)),
        (
            "expiring ≤ 180 d",
            f"{summary.expiring_within_180d} connectors (custody fleet expiring --within 180d)",
        ),
        ("key files", summary.key_dir),
        ("elapsed", f"{summary.elapsed_seconds:.1f} s"),
        (
            "verification",
            f"{'valid' if summary.valid else 'INVALID'}: {verification['size']} entries, "
            f"{verification['checkpoints_checked']} checkpoints, {verification['findings']} findings, "
            f"{verification['warnings']} warnings",
        ),
        ("root", str(verification["root"])),
    ]
    for name, value in rows:
        overview.add_row(name, value)
    console.print(overview)
    states = Table(title="Connectors by state")
    states.add_column("state")
    states.add_column("count", justify="right")
    for state, count in sorted(summary.connector_states.items(), key=lambda item: -item[1]):
        states.add_row(state, str(count))
    seals = Table(title="Seals by status")
    seals.add_column("status")
    seals.add_column("count", justify="right")
    for status, count in sorted(summary.seal_statuses.items(), key=lambda item: -item[1]):
        seals.add_row(status, str(count))
    console.print(states)
    console.print(seals)


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
