"""Many processes, one log; and processes killed in the middle of appending.

Writers are separate OS processes (multiprocessing "spawn": a fresh
interpreter each, no inherited connections or locks), each with its own
party, key and admin role, appending in batches of 1-20 to ONE database —
once an SQLite file, once PostgreSQL. A writer acknowledges an append only
after it returned; every acknowledged statement must be in the log at the
acknowledged index, the log must be dense, verify, and its checkpoints must
be consistent with each other.
"""

from __future__ import annotations

import itertools
import multiprocessing
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from app.services.verification import verify_ledger
from app.tables import ENTRIES
from ledger.checkpoint import open_checkpoint
from ledger.merkle import verify_consistency
from ledger.note import parse_vkey
from tests.app.storage_helpers import node_count, read_acks, register_writer, row_counts, writer_process
from tests.helpers import LedgerFixture

pytestmark = pytest.mark.slow

WRITERS = 4
PER_WRITER = 500
KILLS = 4
SPAWN = multiprocessing.get_context("spawn")


def assert_whole_log(ledger: LedgerFixture, acks: list[tuple[int, str]], size: int) -> None:
    """The log verifies, is dense, has no partial append, and holds every acknowledged statement."""
    ctx, store = ledger.ctx, ledger.ctx.store
    report = verify_ledger(ctx, workers=2)
    assert report.valid, report.findings[:10]
    assert report.size == size
    with ctx.engine.connect() as conn:
        stored = conn.execute(select(ENTRIES.c.idx, ENTRIES.c.nonce).order_by(ENTRIES.c.idx)).all()
    assert [int(idx) for idx, _ in stored] == list(range(size))
    # Entries, tree nodes and the latest checkpoint describe the same log:
    # nothing of an interrupted append survived.
    assert row_counts(ctx.engine)["entries"] == size
    assert row_counts(ctx.engine)["tree_nodes"] == node_count(size)
    latest = store.latest_checkpoint()
    assert latest is not None
    assert latest[0] == size
    # Each checkpoint is a prefix of the next one.
    log_key = parse_vkey(store.trust_state().log_vkey or "")
    checkpoints = [
        open_checkpoint(store.checkpoint(s).encode(), log_key).checkpoint for s in store.checkpoint_sizes()
    ]
    assert [c.size for c in checkpoints] == sorted({c.size for c in checkpoints})
    for older, newer in itertools.pairwise(checkpoints):
        proof = [bytes.fromhex(p) for p in store.consistency_proof(older.size, newer.size)["proof"]]
        verify_consistency(older.size, newer.size, proof, older.root, newer.root)
    # Every acknowledged statement is where its writer was told it is.
    nonce_at = {int(idx): str(nonce) for idx, nonce in stored}
    wrong = [(idx, nonce, nonce_at.get(idx)) for idx, nonce in acks if nonce_at.get(idx) != nonce]
    assert not wrong, wrong[:5]


def test_concurrent_writer_processes_share_one_log(ledger: LedgerFixture, tmp_path: Path) -> None:
    url = ledger.ctx.settings.database_url
    writers = [f"WRITER-{n}" for n in range(WRITERS)]
    for party_id in writers:
        register_writer(ledger, party_id)
    setup_size = ledger.ctx.store.size()
    ready = SPAWN.Barrier(WRITERS)  # all start appending at the same moment
    ack_files = {party_id: tmp_path / f"acks-{party_id}.txt" for party_id in writers}
    processes = [
        SPAWN.Process(
            target=writer_process,
            args=(url, str(tmp_path), party_id, party_id, PER_WRITER, seed, str(ack_files[party_id]), ready),
        )
        for seed, party_id in enumerate(writers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * WRITERS

    acks = {party_id: read_acks(path) for party_id, path in ack_files.items()}
    assert {party_id: len(a) for party_id, a in acks.items()} == dict.fromkeys(writers, PER_WRITER)
    size = setup_size + WRITERS * PER_WRITER
    assert_whole_log(ledger, [a for writer_acks in acks.values() for a in writer_acks], size)

    with ledger.ctx.engine.connect() as conn:
        authors = [
            str(a)
            for a in conn.execute(
                select(ENTRIES.c.author).where(ENTRIES.c.idx >= setup_size).order_by(ENTRIES.c.idx)
            ).scalars()
        ]
    assert Counter(authors) == {f"party:{w}": PER_WRITER for w in writers}
    # Each writer's acknowledgements come in log order, and the writers
    # really ran at the same time: their batches interleave.
    for writer_acks in acks.values():
        indices = [idx for idx, _ in writer_acks]
        assert indices == sorted(indices)
    # One writer after another would switch authors WRITERS - 1 times. (On
    # SQLite the write lock is not fair, so expect tens of switches, not one
    # per batch as on PostgreSQL.)
    switches = sum(1 for a, b in itertools.pairwise(authors) if a != b)
    assert switches > WRITERS, switches


def test_writers_killed_mid_append_leave_a_consistent_log(ledger: LedgerFixture, tmp_path: Path) -> None:
    url = ledger.ctx.settings.database_url
    register_writer(ledger, "CRASHER")
    seed = random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    acks: list[tuple[int, str]] = []
    for run in range(KILLS):
        ack_file = tmp_path / f"acks-{run}.txt"
        process = SPAWN.Process(
            target=writer_process,
            args=(url, str(tmp_path), "CRASHER", f"RUN-{run}", None, rng.randrange(2**32), str(ack_file)),
        )
        process.start()
        deadline = time.monotonic() + 60
        while not read_acks(ack_file):  # appending is under way
            assert process.is_alive(), f"writer died on its own (exit {process.exitcode})"
            assert time.monotonic() < deadline, "writer never acknowledged an append"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.5))
        process.kill()  # SIGKILL: no cleanup, no rollback by the client
        process.join(timeout=30)
        assert process.exitcode == -signal.SIGKILL, f"seed {seed}"
        acks += read_acks(ack_file)
        size = ledger.ctx.store.size()
        assert row_counts(ledger.ctx.engine) == {
            "entries": size,
            "tree_nodes": node_count(size),
            "checkpoints": len(ledger.ctx.store.checkpoint_sizes()),
        }, f"seed {seed}, run {run}"
        assert ledger.ctx.store.checkpoint_sizes()[-1] == size, f"seed {seed}, run {run}"

    size = ledger.ctx.store.size()
    assert len(acks) > 0
    assert size >= 1 + 2 + len(acks)
    assert_whole_log(ledger, acks, size)
    # Nothing is left holding the log's lock: the next append goes through.
    result = ledger.append(ledger.register_envelope("AFTER-THE-CRASHES"))
    assert result.entries[0].index == size
