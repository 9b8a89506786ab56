"""`custody demo`: the demo ledger is valid, complete, deterministic, and seeds only empty ledgers.

Real SQLite files and the real PostgreSQL; the CLI tests run the installed
``custody`` script as a process. Small demos (24 connectors) keep the suite
quick; one slow test runs the default 200 connectors end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app import queries
from app.keyfiles import read_key_file
from app.projections import compare_projections, replay
from app.services.context import LedgerContext
from app.services.demo import DemoSummary, KeyFileConflict, LedgerNotEmpty, build_demo, ledger_has_data
from app.services.fleet import expiring
from app.services.practices import erase_practice, practice_by_digest, practices
from app.services.verification import verify_ledger
from ledger.custody.records import DESTROYED, IN_OPERATION, LOST, QUARANTINED, RECEIVED, SUSPECT
from ledger.entry import Entry
from ledger.times import parse_timestamp
from tests.helpers import KEY_PASSPHRASE, LOG_PASSPHRASE, new_ledger_fixture, settings_for

N = 24
REPO = Path(__file__).resolve().parents[2]
CUSTODY = REPO / ".venv" / "bin" / "custody"
if not CUSTODY.exists():
    CUSTODY = Path(sys.executable).with_name("custody")


def demo_ledger(
    url: str, tmp_path: Path, seed: int = 1, connectors: int = N
) -> tuple[LedgerContext, DemoSummary]:
    ctx = LedgerContext.open(settings_for(url, tmp_path))
    return ctx, build_demo(ctx, connectors, seed, verify_workers=1)


def entries(ctx: LedgerContext) -> list[Entry]:
    return [Entry.parse(raw) for raw in ctx.store.entries()]


def assert_projections_match_replay(ctx: LedgerContext) -> None:
    assert compare_projections(ctx.engine, replay(ctx.store.entries())) == []


def assert_story_complete(ctx: LedgerContext, summary: DemoSummary) -> None:
    """Every element of the demo story is in the log, and the rules it shows hold."""
    log = entries(ctx)
    kinds = Counter(e.statement.kind for e in log)
    states = set(summary.connector_states)
    assert {IN_OPERATION, DESTROYED, LOST} <= states
    assert summary.connectors == N == sum(summary.connector_states.values())
    assert len(summary.vendors) == 3

    # Parties: a manufacturer, two warehouses, two carriers, five technicians,
    # thirty practices, an auditor (and the administrator), with keys of all three algorithms.
    assert summary.parties_by_role == {
        "admin": 1, "manufacturer": 1, "warehouse": 2, "carrier": 2, "technician": 5,
        "practice": 30, "auditor": 1,
    }  # fmt: skip
    assert set(summary.key_algorithms) == {"ed25519", "ecdsa-p256-sha256", "ecdsa-brainpoolp256r1-sha256"}
    state = ctx.store.trust_state()
    for party in state.parties.values():
        party_id = party.subject.partition(":")[2]
        key = read_key_file(ctx.actor_key_path(party_id), KEY_PASSPHRASE.encode())
        assert state.keys[key.keyid].party == party.subject, (
            f"key file of {party_id} is not its registered key"
        )

    # Thirty practices in master data; installations name them only by digest.
    master = {p["digest"] for p in practices(ctx)}
    assert len(master) == 30
    installed = [e for e in log if e.statement.kind == "installed"]
    assert installed
    assert {e.statement.data["practice"] for e in installed} <= master
    blob = b"\n".join(ctx.store.entries()).decode("utf-8")
    for practice in practices(ctx):
        for clear in (practice["bsnr"], practice["telematik_id"], practice["name"], practice["address"]):
            assert clear not in blob, f"{clear} of {practice['practice_id']} is in the log"

    # The lifecycle end to end, with two-party handovers and witnessed destruction.
    for kind in (
        "connector.commissioned", "smck.bound", "seal.applied", "stored", "shipped", "custody.transferred",
        "received", "seal.inspected", "installed", "ti.registered", "deregistered", "removed",
        "returned.shipped", "decommissioned", "destroyed", "lost", "firmware.updated", "service.visit",
    ):  # fmt: skip
        assert kinds[kind] > 0, kind
    for entry in log:
        if entry.statement.kind in ("custody.transferred", "destroyed"):
            assert len(entry.envelope.signatures) == 2
    offers = queries.counts(ctx.engine)["handovers"]
    assert offers == {"accepted": summary.handovers}
    assert kinds["custody.transferred"] >= summary.handovers > 0

    # LZV: runtime extensions moved the expiry of those units years ahead.
    lzv = [e for e in log if e.statement.kind == "lzv.applied"]
    assert lzv
    for entry in lzv:
        record = queries.connector(ctx.engine, entry.statement.subject)
        assert record.cert_not_after == entry.statement.data["not_after"]
        assert record.state == IN_OPERATION

    # The exchange wave: units due soon still in the field; new units with ≥ 4 years at install.
    due = expiring(ctx, timedelta(days=180), now=datetime(2026, 11, 28, tzinfo=UTC))
    listed = [c for month in due["months"] for c in month["connectors"]]
    assert any(c["state"] == IN_OPERATION for c in listed)
    for entry in installed:
        at = parse_timestamp(entry.statement.at)
        if at.year == 2026:
            assert entry.statement.data["remaining_validity_days"] >= 4 * 365

    # The seal incident: OPEN at goods-in → QUARANTINED → RELEASED by someone else, then re-sealed.
    incidents = queries.incidents(ctx.engine)
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident.category == "seal_mismatch"
    assert incident.status == "RELEASED"
    assert incident.quarantined_by is not None
    assert incident.released_by is not None
    assert incident.released_by != incident.reported_by
    record = queries.connector(ctx.engine, incident.connector)
    path = [(h.kind, h.state_after) for h in record.history]
    received = path.index(("received", SUSPECT))
    assert path[received + 1] == ("quarantined", QUARANTINED)
    assert ("quarantine.released", RECEIVED) in path[received + 2 :]
    applied = [h for h in record.history if h.kind == "seal.applied"]
    assert len(applied) == 2, "sealed at the factory, re-sealed after the incident"
    assert applied[1].by == "party:MFR-01"
    assert "manufacturer" in state.roles_of(applied[1].by)
    assert applied[1].index > next(h.index for h in record.history if h.kind == "quarantine.released")
    assert record.seal_status == "INTACT_VERIFIED"

    # Seals: used ones destroyed with their units, one retained as evidence, one lost.
    assert {"APPLIED", "DESTROYED", "RETAINED", "LOST", "IN_STOCK"} <= set(summary.seal_statuses)


def test_demo_verifies_with_projections_equal_to_replay(db_url: str, tmp_path: Path) -> None:
    ctx, summary = demo_ledger(db_url, tmp_path)
    try:
        assert summary.valid, summary.verification
        assert summary.verification["findings"] == 0
        assert summary.verification["warnings"] == 0
        assert summary.entries == ctx.store.size() == summary.verification["size"]
        report = verify_ledger(ctx, workers=1)
        assert report.valid, report.findings
        assert_projections_match_replay(ctx)
        assert_story_complete(ctx, summary)
    finally:
        ctx.engine.dispose()


def test_same_seed_same_bytes_different_seed_different(tmp_path: Path) -> None:
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        ctx, summary = demo_ledger(f"sqlite:///{tmp_path}/{name}/ledger.db", tmp_path / name, seed)
        assert summary.valid
        runs[name] = list(ctx.store.entries())
        ctx.engine.dispose()
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]
    # Not only nonces: the story differs (other serials, seals, timeline details).
    assert {Entry.parse(r).statement.subject for r in runs["a"]} != {
        Entry.parse(r).statement.subject for r in runs["c"]
    }
    for name in ("a", "b"):
        assert (tmp_path / name / "keys" / "TECH-03.pem").exists()
    key_a = read_key_file(tmp_path / "a" / "keys" / "MFR-01.pem", KEY_PASSPHRASE.encode())
    key_b = read_key_file(tmp_path / "b" / "keys" / "MFR-01.pem", KEY_PASSPHRASE.encode())
    assert key_a.keyid == key_b.keyid
    # Another seed into a key directory holding the first seed's keys: refused, nothing written.
    ctx = LedgerContext.open(settings_for(f"sqlite:///{tmp_path}/d/ledger.db", tmp_path / "a"))
    with pytest.raises(KeyFileConflict):
        build_demo(ctx, N, 8, verify_workers=1)
    assert not ledger_has_data(ctx)
    assert read_key_file(tmp_path / "a" / "keys" / "MFR-01.pem", KEY_PASSPHRASE.encode()).keyid == key_a.keyid
    ctx.engine.dispose()


def test_same_seed_same_bytes_on_postgresql_and_sqlite(pg_url: str, tmp_path: Path) -> None:
    pg, _ = demo_ledger(pg_url, tmp_path / "pg")
    lite, _ = demo_ledger(f"sqlite:///{tmp_path}/lite/ledger.db", tmp_path / "lite")
    try:
        assert list(pg.store.entries()) == list(lite.store.entries())
    finally:
        pg.engine.dispose()
        lite.engine.dispose()


def test_erasing_a_practice_keeps_the_demo_verifiable(sqlite_url: str, tmp_path: Path) -> None:
    ctx, _ = demo_ledger(sqlite_url, tmp_path)
    before = list(ctx.store.entries())
    log = entries(ctx)
    digest = next(e.statement.data["practice"] for e in log if e.statement.kind == "installed")
    row = practice_by_digest(ctx, digest)
    assert row is not None
    assert row["bsnr"]
    erase_practice(ctx, row["practice_id"])
    erased = practice_by_digest(ctx, digest)
    assert erased is not None
    assert erased["bsnr"] is None
    assert erased["name"] is None
    assert erased["erased_at"] is not None
    report = verify_ledger(ctx, workers=1)
    assert report.valid, report.findings
    assert list(ctx.store.entries()) == before
    assert any(e.statement.data.get("practice") == digest for e in entries(ctx))
    assert_projections_match_replay(ctx)


def test_demo_seeds_a_ledger_holding_only_its_genesis_and_nothing_else(
    sqlite_url: str, tmp_path: Path
) -> None:
    """`make run` runs `custody init` first: the demo continues after that genesis, and only then."""
    fixture = new_ledger_fixture(sqlite_url, tmp_path)
    ctx = fixture.ctx
    genesis = ctx.store.entry(0)
    summary = build_demo(ctx, N, 3, verify_workers=1)
    assert summary.valid, summary.verification
    assert ctx.store.entry(0) == genesis
    assert summary.parties == 42
    assert_projections_match_replay(ctx)

    size = ctx.store.size()
    keys = {p.name: p.read_bytes() for p in (tmp_path / "keys").iterdir()}
    with pytest.raises(LedgerNotEmpty, match="already has"):
        build_demo(ctx, N, 3, verify_workers=1)
    assert ctx.store.size() == size
    assert {p.name: p.read_bytes() for p in (tmp_path / "keys").iterdir()} == keys
    ctx.engine.dispose()


def test_demo_rejects_a_size_out_of_range(sqlite_url: str, tmp_path: Path) -> None:
    from ledger.errors import InvalidInput

    ctx = LedgerContext.open(settings_for(sqlite_url, tmp_path))
    with pytest.raises(InvalidInput, match="connectors"):
        build_demo(ctx, 5, 1)
    assert not (tmp_path / "keys").exists()


# --------------------------------------------------------------------------
# The command line


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
    env.update(
        CUSTODY_LOG_KEY_PASSPHRASE=LOG_PASSPHRASE,
        CUSTODY_KEY_PASSPHRASE=KEY_PASSPHRASE,
        COLUMNS="200",
        NO_COLOR="1",
        TERM="dumb",
    )
    return env


def custody(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CUSTODY), *(str(a) for a in args)],
        cwd=cwd,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def status_size(url: str, cwd: Path) -> int:
    run = custody("status", "--db", url, "--json", cwd=cwd)
    assert run.returncode == 0, run.stderr
    return int(json.loads(run.stdout)["size"])


def test_cli_make_run_sequence_seeds_once_and_if_empty_appends_nothing(tmp_path: Path) -> None:
    """As `make run`: `custody init`, then `custody demo --if-empty` seeds; later rounds change nothing."""
    url = f"sqlite:///{tmp_path}/var/custody.db"
    assert custody("init", "--db", url, cwd=tmp_path).returncode == 0
    first = custody("demo", "--db", url, "--if-empty", "--connectors", N, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "valid: " in first.stdout
    assert "Connectors by state" in first.stdout
    assert "exchange wave" in first.stderr  # progress goes to stderr
    size = status_size(url, tmp_path)
    assert size > 400

    again = custody("demo", "--db", url, "--if-empty", "--connectors", N, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
    assert status_size(url, tmp_path) == size

    refused = custody("demo", "--db", url, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "[conflict.ledger_not_empty]" in refused.stderr
    assert status_size(url, tmp_path) == size
    assert custody("verify", "--db", url, cwd=tmp_path).returncode == 0


@pytest.mark.slow
def test_cli_demo_with_200_connectors(tmp_path: Path, record_property: Any) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    started = time.perf_counter()
    run = custody("demo", "--connectors", 200, "--db", url, "--json", cwd=tmp_path)
    wall = time.perf_counter() - started
    record_property("demo_200_wall_seconds", round(wall, 1))
    print(f"custody demo --connectors 200: {wall:.1f} s wall time")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["connectors"] == 200 == sum(summary["connector_states"].values())
    assert summary["verification"]["valid"] is True
    assert summary["verification"]["findings"] == 0
    assert summary["entries"] == summary["verification"]["size"] == status_size(url, tmp_path)
    assert summary["entries"] > 3000
    assert {"IN_OPERATION", "DESTROYED", "LOST", "IN_STOCK", "DECOMMISSIONED"} <= set(
        summary["connector_states"]
    )
    assert summary["parties"] == 42
    assert summary["incidents"][0]["status"] == "RELEASED"
    assert summary["expiring_within_180d"] > 0
