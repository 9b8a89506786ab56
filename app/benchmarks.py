"""Benchmarks behind ``custody bench …``. Figures go to docs/benchmarks.md, never into tests.

Every benchmark works on a fresh ledger it creates itself (keys in a
temporary directory, random passphrases held in memory), so it can never
touch real keys or a real ledger by accident.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from app.parallel import default_workers, signature_checker
from app.services.context import LedgerContext
from app.services.setup import init_ledger
from app.services.signing import signed_statement
from app.services.trust import add_key, register_party
from app.services.verification import verify_ledger
from app.settings import Settings
from ledger.checkpoint import open_checkpoint
from ledger.custody.ids import seal_id
from ledger.envelope import Envelope
from ledger.errors import InvalidInput
from ledger.keys import Algorithm, SigningKey
from ledger.note import parse_vkey
from ledger.verify import LogVerifier

BENCH_ADMIN = "BENCH-ADMIN"
SIGNERS = 8


@dataclass
class BenchLedger:
    ctx: LedgerContext
    signers: list[tuple[str, SigningKey]]


@contextmanager
def fresh_ledger(db: str | None) -> Iterator[BenchLedger]:
    """A new ledger (SQLite in a temp dir unless ``db`` names an empty database)."""
    with tempfile.TemporaryDirectory(prefix="custody-bench-") as tmp:
        url = db or f"sqlite:///{tmp}/bench.db"
        settings = Settings(
            database_url=url,
            key_dir=Path(tmp) / "keys",
            log_key_passphrase=SecretStr(os.urandom(16).hex()),
            key_passphrase=SecretStr(os.urandom(16).hex()),
            origin="bench.custody.local/ledger",
        )
        ctx = LedgerContext.open(settings)
        from app.db import migrate

        migrate(ctx.engine)
        if ctx.store.size() != 0:
            raise InvalidInput("benchmarks need an empty database; they create their own ledger")
        init_ledger(ctx, origin=None, admin_id=BENCH_ADMIN, admin_name="Benchmark administration")
        admin = ctx.load_actor_key(BENCH_ADMIN)
        signers = []
        for number in range(SIGNERS):
            party = f"BENCH-SIGNER-{number:02d}"
            key = SigningKey.generate(Algorithm.ED25519, os.urandom(32))
            register_party(ctx, admin, BENCH_ADMIN, party, f"Benchmark warehouse {number}", ["warehouse"])
            add_key(ctx, admin, BENCH_ADMIN, party, key.public_key)
            signers.append((party, key))
        try:
            yield BenchLedger(ctx, signers)
        finally:
            ctx.engine.dispose()


def synthetic_statements(ledger: BenchLedger, n: int, offset: int = 0) -> list[Envelope]:
    """``n`` independent custody statements (a one-seal ``seal.received`` each), round-robin signed.

    Each statement has its own subject, passes the schema and the guard
    rules (the seal must be new), and writes a projection row: the full
    append path, without rules that would make statements depend on each other.
    """
    envelopes = []
    for number in range(offset, offset + n):
        party, key = ledger.signers[number % len(ledger.signers)]
        series = _SERIES[number // 10_000_000]
        first = number % 10_000_000
        envelopes.append(
            signed_statement(
                ledger.ctx,
                kind="seal.received",
                subject=f"seal:{seal_id(series, first)}",
                by=f"party:{party}",
                data={"series": series, "first": first, "count": 1, "supplier": "Benchmark seals"},
                keys=[key],
            )
        )
    return envelopes


_SERIES = ["KB", "KC", "KD", "KE", "KF", "KG", "KH", "KJ"]


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def bench_append(n: int, batch: int, db: str | None, report: Callable[[str], None]) -> dict[str, Any]:
    if n < 1 or batch < 1:
        raise InvalidInput("--n and --batch must be positive")
    with fresh_ledger(db) as ledger:
        writer = ledger.ctx.writer()
        latencies, signing_s = [], 0.0
        for begin in range(0, n, batch):
            # Statements are signed batch by batch (so a million of them never
            # sit in memory at once) and only the append itself is timed.
            t0 = time.perf_counter()
            envelopes = synthetic_statements(ledger, min(batch, n - begin), begin)
            signing_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            writer.append(envelopes)
            latencies.append((time.perf_counter() - t0) * 1000)
            if len(latencies) % 200 == 0:
                report(f"{begin + batch} statements appended")
        report(f"signing took {signing_s:.2f}s (not part of the append figure)")
        elapsed = sum(latencies) / 1000
        dialect = ledger.ctx.engine.dialect.name
        size = ledger.ctx.store.size()
    return {
        "bench": "append",
        "db": dialect,
        "n": n,
        "batch": batch,
        "seconds": round(elapsed, 3),
        "statements_per_s": round(n / elapsed, 1),
        "batch_ms_p50": round(statistics.median(latencies), 2),
        "batch_ms_p99": round(_percentile(latencies, 0.99), 2),
        "log_size": size,
    }


def ed25519_verify_rate(seconds: float = 2.0) -> float:
    """Single-core Ed25519 verifications per second (key object reused, ~300-byte message)."""
    key = SigningKey.generate(Algorithm.ED25519, os.urandom(32))
    message = os.urandom(300)
    signature = key.sign(message)
    public = key.public_key
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(500):
            public.verify(signature, message)
        count += 500
    return count / (time.perf_counter() - started)


def bench_verify(
    n: int, workers: int | None, db: str | None, report: Callable[[str], None]
) -> dict[str, Any]:
    cores = default_workers()
    workers = cores if workers is None else workers
    with fresh_ledger(db) as ledger:
        writer = ledger.ctx.writer()
        report(f"building a ledger of {n} statements …")
        for begin in range(0, n, 1000):
            writer.append(synthetic_statements(ledger, min(1000, n - begin), begin))
        store = ledger.ctx.store
        entries = list(store.entries())
        state = store.trust_state()
        assert state.log_vkey is not None
        log_key = parse_vkey(state.log_vkey)
        checkpoint = open_checkpoint(store.checkpoint().encode(), log_key).checkpoint
        rate = ed25519_verify_rate()
        report(f"raw Ed25519 verify, one core: {rate:,.0f}/s")
        checker = signature_checker(workers)
        started = time.perf_counter()
        verifier = LogVerifier(checkpoint=checkpoint, log_vkey=state.log_vkey, signature_checker=checker)
        verifier.feed_all(entries)
        verifier.finish()
        stream_s = time.perf_counter() - started
        close = getattr(checker, "close", None)
        if close:
            close()
        stream_rate = len(entries) / stream_s
        report(f"stream verification ({workers} workers): {stream_rate:,.0f} entries/s")
        started = time.perf_counter()
        result = verify_ledger(ledger.ctx, workers=workers)
        db_s = time.perf_counter() - started
        if not result.valid:
            raise InvalidInput(f"benchmark ledger failed verification: {result.findings[:3]}")
        db_rate = len(entries) / db_s
        report(f"database verification (entries, checkpoints, tree nodes): {db_rate:,.0f} entries/s")
    target = cores * rate
    return {
        "bench": "verify",
        "entries": len(entries),
        "cores": cores,
        "workers": workers,
        "ed25519_verify_per_s_one_core": round(rate, 1),
        "stream_verify_entries_per_s": round(stream_rate, 1),
        "db_verify_entries_per_s": round(db_rate, 1),
        "ratio_to_cores_x_ed25519": round(stream_rate / target, 3),
    }


def bench_proofs(db: str, samples: int, report: Callable[[str], None]) -> dict[str, Any]:
    """Latency of inclusion and consistency proofs from an existing database."""
    import random

    settings = Settings(database_url=db)
    ctx = LedgerContext.open(settings)
    ctx.require_initialised()
    store = ctx.store
    size = store.size()
    rng = random.Random(1)
    inclusion, consistency = [], []
    for _ in range(samples):
        index = rng.randrange(size)
        t0 = time.perf_counter()
        store.inclusion_proof(index, size)
        inclusion.append((time.perf_counter() - t0) * 1000)
        old = rng.randrange(1, size + 1)
        t0 = time.perf_counter()
        store.consistency_proof(old, size)
        consistency.append((time.perf_counter() - t0) * 1000)
    report(f"{samples} proofs each from a log of {size} entries")
    return {
        "bench": "proofs",
        "db": ctx.engine.dialect.name,
        "log_size": size,
        "samples": samples,
        "inclusion_ms_p50": round(statistics.median(inclusion), 3),
        "inclusion_ms_p99": round(_percentile(inclusion, 0.99), 3),
        "consistency_ms_p50": round(statistics.median(consistency), 3),
        "consistency_ms_p99": round(_percentile(consistency, 0.99), 3),
    }
