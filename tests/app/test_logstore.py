"""The log store's contract, run once on an SQLite file and once on PostgreSQL.

Batches are all-or-nothing, replays are refused, every batch gets a signed
checkpoint, ``prev`` chains per subject, and proofs served from the stored
tree verify with the RFC 9162 verifier while reading O(log n) nodes in one
query.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

import app.logstore
from app.errors import DatabaseUnavailable
from app.logstore import AppendResult, LogStore
from app.services.context import LedgerContext
from app.services.signing import signed_statement
from app.services.trust import revoke_key
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.custody.ids import seal_id
from ledger.entry import Entry
from ledger.envelope import Envelope, sign_envelope
from ledger.errors import (
    InvalidInput,
    KeyRevoked,
    LedgerError,
    MalformedStatement,
    MissingRole,
    MissingSignature,
    NotFound,
    ReplayedStatement,
    RuleViolation,
    UnknownKey,
)
from ledger.keys import Algorithm, SigningKey
from ledger.merkle import MemoryTree, hash_leaf, verify_consistency, verify_inclusion
from ledger.note import parse_vkey
from ledger.statement import new_statement
from ledger.times import parse_timestamp
from ledger.trust import key_description
from tests.app.storage_helpers import QueryRecorder, node_bound, table_rows
from tests.helpers import ADMIN, LedgerFixture, SteppingClock, settings_for

HEX64 = re.compile(r"[0-9a-f]{64}")
#: Batches after genesis: 40 entries in all, checkpoints at 11 different sizes.
BATCHES = (1, 3, 2, 5, 1, 4, 6, 2, 7, 8)


@dataclass
class BuiltLog:
    ledger: LedgerFixture
    store: LogStore
    results: list[AppendResult]
    size: int

    @property
    def checkpoint_sizes(self) -> list[int]:
        return [1] + [r.size for r in self.results]


@pytest.fixture
def built(ledger: LedgerFixture) -> BuiltLog:
    results = []
    number = 0
    for batch in BATCHES:
        envelopes = []
        for _ in range(batch):
            number += 1
            envelopes.append(ledger.register_envelope(f"P-{number:03d}"))
        results.append(ledger.append(*envelopes))
    store = ledger.ctx.writer()
    assert store.size() == 1 + sum(BATCHES) == 40
    return BuiltLog(ledger, store, results, 40)


def all_entries(store: LogStore) -> list[Entry]:
    return [Entry.parse(raw) for raw in store.entries()]


def log_key(ledger: LedgerFixture):  # type: ignore[no-untyped-def]
    return parse_vkey(ledger.ctx.store.trust_state().log_vkey or "")


def opened(ledger: LedgerFixture, note: str) -> Checkpoint:
    return open_checkpoint(note.encode(), log_key(ledger)).checkpoint


# --------------------------------------------------------------------------
# Batches: all or nothing


def _malformed(ledger: LedgerFixture) -> Envelope:
    return sign_envelope(b'{"v":"kcl/statement/v1"}', [ledger.admin_key])


def _unknown_key(ledger: LedgerFixture) -> Envelope:
    stranger = SigningKey.generate(Algorithm.ED25519, os.urandom(64))
    return ledger.register_envelope("BAD-1", key=stranger)


def _rule_violation(ledger: LedgerFixture) -> Envelope:
    return ledger.register_envelope(ADMIN)  # registered by genesis already


def _missing_role(ledger: LedgerFixture) -> Envelope:
    ledger.party("WH-01", ["warehouse"])
    return ledger.register_envelope("BAD-1", by="WH-01")


BAD_STATEMENTS: dict[str, tuple[Callable[[LedgerFixture], Envelope], type[LedgerError]]] = {
    "malformed-statement": (_malformed, MalformedStatement),
    "unknown-key": (_unknown_key, UnknownKey),
    "rule-violation": (_rule_violation, RuleViolation),
    "missing-role": (_missing_role, MissingRole),
}


@pytest.mark.parametrize("bad", list(BAD_STATEMENTS))
def test_a_bad_statement_rejects_the_whole_batch(ledger: LedgerFixture, bad: str) -> None:
    make_bad, error = BAD_STATEMENTS[bad]
    bad_envelope = make_bad(ledger)
    store = ledger.ctx.writer()
    for position in (0, 2, 4):
        good = [ledger.register_envelope(f"GOOD-{position}-{i}") for i in range(4)]
        batch = [*good[:position], bad_envelope, *good[position:]]
        before = table_rows(ledger.ctx.engine)
        size, latest = store.size(), store.checkpoint()

        with pytest.raises(error) as excinfo:
            store.append(batch)

        assert excinfo.value.batch_position == position  # type: ignore[attr-defined]
        assert f"statement {position + 1} of 5" in excinfo.value.message
        assert table_rows(ledger.ctx.engine) == before, position
        assert store.size() == size
        assert store.checkpoint() == latest
        # The good statements before the bad one were admitted into the cached
        # trust state and rolled back with the transaction: they append now.
        result = store.append(good)
        assert [e.index for e in result.entries] == list(range(size, size + 4))


def test_a_single_bad_statement_names_position_zero(ledger: LedgerFixture) -> None:
    with pytest.raises(UnknownKey) as excinfo:
        ledger.append(_unknown_key(ledger))
    assert excinfo.value.batch_position == 0  # type: ignore[attr-defined]


def test_an_empty_batch_is_rejected(ledger: LedgerFixture) -> None:
    store = ledger.ctx.writer()
    before = table_rows(ledger.ctx.engine)
    with pytest.raises(InvalidInput, match="empty"):
        store.append([])
    assert table_rows(ledger.ctx.engine) == before


# --------------------------------------------------------------------------
# Replays


def test_the_same_envelope_twice_is_a_replay(ledger: LedgerFixture) -> None:
    envelope = ledger.register_envelope("ONCE")
    ledger.append(envelope)
    before = table_rows(ledger.ctx.engine)
    fresh = ledger.register_envelope("FRESH")

    with pytest.raises(ReplayedStatement):
        ledger.append(envelope)
    with pytest.raises(ReplayedStatement):
        ledger.append(fresh, envelope)

    assert table_rows(ledger.ctx.engine) == before
    assert ledger.append(fresh).entries[0].index == len(before["entries"])


def test_the_same_envelope_twice_in_one_batch_is_a_replay(ledger: LedgerFixture) -> None:
    envelope = ledger.register_envelope("TWICE")
    before = table_rows(ledger.ctx.engine)
    with pytest.raises(ReplayedStatement):
        ledger.append(envelope, envelope)
    assert table_rows(ledger.ctx.engine) == before


def _with_nonce(ledger: LedgerFixture, party_id: str, nonce: bytes) -> Envelope:
    statement = new_statement(
        kind="party.registered",
        subject=f"party:{party_id}",
        by=f"party:{ADMIN}",
        data={"name": party_id},
        at=datetime(2026, 11, 28, 11, 0, tzinfo=UTC),
        nonce=nonce,
    )
    return sign_envelope(statement.to_bytes(), [ledger.admin_key])


def test_two_statements_with_one_nonce_in_a_batch_are_a_replay(ledger: LedgerFixture) -> None:
    nonce = os.urandom(16)
    first, second = _with_nonce(ledger, "FIRST", nonce), _with_nonce(ledger, "SECOND", nonce)
    before = table_rows(ledger.ctx.engine)
    with pytest.raises(ReplayedStatement):
        ledger.append(first, second)
    assert table_rows(ledger.ctx.engine) == before


def test_a_new_statement_reusing_a_logged_nonce_is_a_replay(ledger: LedgerFixture) -> None:
    nonce = os.urandom(16)
    ledger.append(_with_nonce(ledger, "FIRST", nonce))
    before = table_rows(ledger.ctx.engine)
    with pytest.raises(ReplayedStatement):
        ledger.append(_with_nonce(ledger, "SECOND", nonce))
    assert table_rows(ledger.ctx.engine) == before


# --------------------------------------------------------------------------
# Checkpoints, chains, times, ranges


def test_every_batch_gets_a_signed_checkpoint(built: BuiltLog) -> None:
    store = built.store
    assert store.checkpoint_sizes() == built.checkpoint_sizes
    tree = MemoryTree(hash_leaf(raw) for raw in store.entries())
    for result in built.results:
        assert store.checkpoint(result.size) == result.checkpoint
        checkpoint = opened(built.ledger, result.checkpoint)
        assert checkpoint.size == result.size
        assert checkpoint.root == result.root == store.root(result.size) == tree.root(result.size)
    assert store.checkpoint() == built.results[-1].checkpoint
    assert store.latest_checkpoint() == (40, built.results[-1].checkpoint)
    for size in (0, 3, 41):
        with pytest.raises(NotFound):
            store.checkpoint(size)


def test_prev_links_each_entry_to_the_previous_one_about_its_subject(ledger: LedgerFixture) -> None:
    admin = [ledger.admin_key]
    key_a = SigningKey.generate(Algorithm.ED25519, os.urandom(64))
    ledger.append(ledger.register_envelope("A"), ledger.register_envelope("B"))
    ledger.append(
        ledger.statement("role.granted", "party:A", ADMIN, {"role": "carrier"}, keys=admin),
        ledger.statement("key.added", "party:A", ADMIN, key_description(key_a.public_key), keys=admin),
        ledger.statement("role.granted", "party:B", ADMIN, {"role": "carrier"}, keys=admin),
        ledger.statement("role.granted", "party:A", ADMIN, {"role": "auditor"}, keys=admin),
    )
    entries = all_entries(ledger.ctx.store)
    heads: dict[str, str] = {}
    for entry in entries:
        assert entry.prev == heads.get(entry.statement.subject), entry.index
        heads[entry.statement.subject] = entry.leaf_hash.hex()
    by_index = {e.index: e for e in entries}
    first_a, first_b = by_index[1], by_index[2]
    assert (first_a.statement.subject, first_b.statement.subject) == ("party:A", "party:B")
    assert first_a.prev is None
    assert first_b.prev is None
    # Inside one batch, too, each entry links to the one just before it.
    assert [by_index[i].prev for i in (3, 4, 6)] == [
        first_a.leaf_hash.hex(),
        by_index[3].leaf_hash.hex(),
        by_index[4].leaf_hash.hex(),
    ]
    assert by_index[5].prev == first_b.leaf_hash.hex()


def test_recorded_at_never_decreases(built: BuiltLog) -> None:
    store = built.store
    times = [parse_timestamp(e.recorded_at) for e in all_entries(store)]
    assert times == sorted(times)
    # Entries of one batch share the moment of their transaction.
    last = Entry.parse(store.entry(39))
    assert Entry.parse(store.entry(32)).recorded_at == last.recorded_at
    # A writer whose clock lags the log's latest entry does not go back in time.
    lagging = store.append([built.ledger.register_envelope("LATE")], now=datetime(2020, 1, 1, tzinfo=UTC))
    assert Entry.parse(lagging.entries[0].raw).recorded_at == last.recorded_at
    later = store.append([built.ledger.register_envelope("LATER")], now=datetime(2030, 1, 1, tzinfo=UTC))
    assert Entry.parse(later.entries[0].raw).recorded_at == "2030-01-01T00:00:00.000Z"


RANGES = [
    (0, None, list(range(40))),
    (0, 40, list(range(40))),
    (3, 7, [3, 4, 5, 6]),
    (5, 5, []),
    (38, 100, [38, 39]),
    (40, None, []),
    (39, None, [39]),
]


@pytest.mark.parametrize("chunk", [2000, 3], ids=["one-read", "chunked-reads"])
def test_entries_returns_exactly_the_range(
    built: BuiltLog, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(app.logstore, "_READ_CHUNK", chunk)
    for start, end, expected in RANGES:
        raws = list(built.store.entries(start, end))
        assert [Entry.parse(raw).index for raw in raws] == expected, (start, end)
        assert raws == [built.store.entry(i) for i in expected]


# --------------------------------------------------------------------------
# Proofs


def test_inclusion_proofs_verify_for_every_index_and_size(built: BuiltLog) -> None:
    store = built.store
    leaves = [hash_leaf(raw) for raw in store.entries()]
    tree = MemoryTree(leaves)
    for size in range(1, built.size + 1):
        root = tree.root(size)
        for index in range(size):
            answer = store.inclusion_proof(index, size)
            proof = [bytes.fromhex(p) for p in answer["proof"]]
            assert answer["leaf_hash"] == leaves[index].hex()
            assert answer["root"] == root.hex()
            assert proof == tree.inclusion_proof(index, size)
            verify_inclusion(leaves[index], index, size, proof, root)


def test_consistency_proofs_verify_for_every_pair_of_sizes(built: BuiltLog) -> None:
    store = built.store
    tree = MemoryTree(hash_leaf(raw) for raw in store.entries())
    for new in range(1, built.size + 1):
        for old in range(1, new + 1):
            answer = store.consistency_proof(old, new)
            proof = [bytes.fromhex(p) for p in answer["proof"]]
            assert (answer["old_root"], answer["new_root"]) == (tree.root(old).hex(), tree.root(new).hex())
            assert proof == tree.consistency_proof(old, new)
            verify_consistency(old, new, proof, tree.root(old), tree.root(new))


def test_proofs_verify_against_the_stored_checkpoints(built: BuiltLog) -> None:
    store = built.store
    checkpoints = [opened(built.ledger, store.checkpoint(size)) for size in store.checkpoint_sizes()]
    raws = list(store.entries())
    for checkpoint in checkpoints:
        for index in range(checkpoint.size):
            answer = store.inclusion_proof(index, checkpoint.size)
            proof = [bytes.fromhex(p) for p in answer["proof"]]
            verify_inclusion(hash_leaf(raws[index]), index, checkpoint.size, proof, checkpoint.root)
        for older in checkpoints:
            if older.size <= checkpoint.size:
                answer = store.consistency_proof(older.size, checkpoint.size)
                proof = [bytes.fromhex(p) for p in answer["proof"]]
                verify_consistency(older.size, checkpoint.size, proof, older.root, checkpoint.root)
    # Without a size, proofs are against the latest checkpoint.
    latest = checkpoints[-1]
    assert store.inclusion_proof(7)["size"] == latest.size
    assert store.inclusion_proof(7)["root"] == latest.root.hex()
    assert store.consistency_proof(5)["new_size"] == latest.size
    assert store.consistency_proof(5)["new_root"] == latest.root.hex()


def test_proof_json_shapes(built: BuiltLog) -> None:
    inclusion = built.store.inclusion_proof(9, 33)
    assert set(inclusion) == {"index", "size", "leaf_hash", "root", "proof"}
    assert (inclusion["index"], inclusion["size"]) == (9, 33)
    consistency = built.store.consistency_proof(13, 33)
    assert set(consistency) == {"old_size", "old_root", "new_size", "new_root", "proof"}
    assert (consistency["old_size"], consistency["new_size"]) == (13, 33)
    hashes = [
        inclusion["leaf_hash"],
        inclusion["root"],
        *inclusion["proof"],
        consistency["old_root"],
        consistency["new_root"],
        *consistency["proof"],
    ]
    assert inclusion["proof"]
    assert consistency["proof"]
    assert all(isinstance(h, str) and HEX64.fullmatch(h) for h in hashes), hashes
    for answer in (inclusion, consistency):
        assert all(type(answer[k]) is int for k in answer if k.endswith(("size", "index")))
        assert json.loads(json.dumps(answer)) == answer


def _check_one_node_query(recorder: QueryRecorder, size: int, proof_length: int) -> None:
    node_queries = recorder.node_selects
    assert len(node_queries) == 1, [q.statement for q in recorder.selects]
    rows = recorder.rows_returned(node_queries[0])
    assert proof_length <= rows <= node_bound(size), (size, rows)
    # Besides the node fetch only the log size and the latest checkpoint size
    # are read (aggregates, one row each): never entries or whole levels.
    others = [q for q in recorder.selects if not q.reads_tree_nodes]
    assert len(others) <= 2, [q.statement for q in others]
    assert all("max(" in q.statement for q in others), [q.statement for q in others]


def test_proofs_read_log_n_nodes_in_one_query(built: BuiltLog) -> None:
    store, engine = built.store, built.ledger.ctx.engine
    for size in range(1, built.size + 1):
        for index in sorted({0, size // 3, size // 2, size - 1}):
            with QueryRecorder(engine) as recorder:
                answer = store.inclusion_proof(index, size)
            _check_one_node_query(recorder, size, len(answer["proof"]))
        for old in sorted({1, size // 2 or 1, size - 1 or 1, size}):
            with QueryRecorder(engine) as recorder:
                answer = store.consistency_proof(old, size)
            _check_one_node_query(recorder, size, len(answer["proof"]))
    with QueryRecorder(engine) as recorder:
        answer = store.inclusion_proof(21)
    _check_one_node_query(recorder, built.size, len(answer["proof"]))


BAD_ARGUMENTS: dict[str, tuple[Callable[[LogStore], object], type[InvalidInput]]] = {
    "inclusion-negative-index": (lambda s: s.inclusion_proof(-1), InvalidInput),
    "inclusion-index-equals-size": (lambda s: s.inclusion_proof(40, 40), InvalidInput),
    "inclusion-index-beyond-latest": (lambda s: s.inclusion_proof(40), InvalidInput),
    "inclusion-size-zero": (lambda s: s.inclusion_proof(0, 0), InvalidInput),
    "inclusion-size-negative": (lambda s: s.inclusion_proof(0, -1), InvalidInput),
    "inclusion-size-beyond-log": (lambda s: s.inclusion_proof(0, 41), NotFound),
    "consistency-old-zero": (lambda s: s.consistency_proof(0, 40), InvalidInput),
    "consistency-old-negative": (lambda s: s.consistency_proof(-3, 40), InvalidInput),
    "consistency-old-above-new": (lambda s: s.consistency_proof(5, 3), InvalidInput),
    "consistency-old-above-latest": (lambda s: s.consistency_proof(41), InvalidInput),
    "consistency-new-beyond-log": (lambda s: s.consistency_proof(1, 41), NotFound),
    "root-beyond-log": (lambda s: s.root(41), NotFound),
    "entry-beyond-log": (lambda s: s.entry(40), NotFound),
    "entries-negative-start": (lambda s: list(s.entries(-1)), InvalidInput),
    "entries-end-before-start": (lambda s: list(s.entries(5, 3)), InvalidInput),
}


def test_bad_arguments_are_refused(built: BuiltLog) -> None:
    for name, (call, error) in BAD_ARGUMENTS.items():
        with pytest.raises(InvalidInput) as excinfo:
            call(built.store)
        # NotFound is an InvalidInput: the exact class tells "no such thing" apart.
        assert excinfo.type is error, (name, excinfo.value)


# --------------------------------------------------------------------------
# Who may sign: checked at append, and a refusal appends nothing


def _revoked_key(ledger: LedgerFixture) -> list[Envelope]:
    key = ledger.party("SIGNER", ["admin"])
    revoke_key(ledger.ctx, ledger.admin_key, ADMIN, "SIGNER", key.keyid, "key lost")
    return [ledger.register_envelope("NEW-1", by="SIGNER")]


def _revoked_in_the_same_batch(ledger: LedgerFixture) -> list[Envelope]:
    key = ledger.party("SIGNER", ["admin"])
    revocation = ledger.statement(
        "key.revoked",
        "party:SIGNER",
        ADMIN,
        {"keyid": key.keyid, "reason": "key lost"},
        keys=[ledger.admin_key],
    )
    return [revocation, ledger.register_envelope("NEW-1", by="SIGNER")]


def _unregistered_key(ledger: LedgerFixture) -> list[Envelope]:
    return [_unknown_key(ledger)]


def _key_of_another_party(ledger: LedgerFixture) -> list[Envelope]:
    key = ledger.party("SIGNER", ["admin"])
    return [ledger.register_envelope("NEW-1", by=ADMIN, key=key)]


def _no_admin_role(ledger: LedgerFixture) -> list[Envelope]:
    ledger.party("WH-01", ["warehouse", "carrier"])
    return [ledger.register_envelope("NEW-1", by="WH-01")]


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (_revoked_key, KeyRevoked),
        (_revoked_in_the_same_batch, KeyRevoked),
        (_unregistered_key, UnknownKey),
        (_key_of_another_party, MissingSignature),
        (_no_admin_role, MissingRole),
    ],
    ids=[
        "revoked-key",
        "key-revoked-earlier-in-the-batch",
        "unregistered-key",
        "another-partys-key",
        "no-admin-role",
    ],
)
def test_signers_are_checked_at_append(ledger: LedgerFixture, make, error: type[LedgerError]) -> None:  # type: ignore[no-untyped-def]
    bad = make(ledger)
    good = [ledger.register_envelope("GOOD-1"), ledger.register_envelope("GOOD-2")]
    store = ledger.ctx.writer()
    before = table_rows(ledger.ctx.engine)
    batch = [good[0], *bad, good[1]]

    with pytest.raises(error) as excinfo:
        store.append(batch)

    assert excinfo.value.batch_position == len(bad)  # type: ignore[attr-defined]
    assert table_rows(ledger.ctx.engine) == before
    result = store.append(good)
    assert result.size == len(before["entries"]) + 2


def test_a_failed_commit_does_not_hide_trust_changes_appended_later(ledger: LedgerFixture, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The store caches trust state up to a size; a batch whose COMMIT fails must not advance it.

    Otherwise entries another process appends at the same indices (here a
    key revocation) are never replayed into the cache, and a revoked key
    keeps signing.
    """
    warehouse = ledger.party("WH-01", ["warehouse"])
    signer = ledger.party("SIGNER", ["admin"])
    store, engine = ledger.ctx.writer(), ledger.ctx.engine
    seals = signed_statement(
        ledger.ctx,
        kind="seal.received",  # not a trust kind: the cache is kept, not rebuilt
        subject=f"seal:{seal_id('AB', 1)}",
        by="party:WH-01",
        data={"series": "AB", "first": 1, "count": 1, "supplier": "ACME"},
        keys=[warehouse],
    )
    before = table_rows(engine)

    def connection_lost_at_commit(conn) -> None:  # type: ignore[no-untyped-def]
        raise OperationalError("COMMIT", None, Exception("server closed the connection unexpectedly"))

    event.listen(engine, "commit", connection_lost_at_commit)
    try:
        with pytest.raises(DatabaseUnavailable):
            store.append([seals])
    finally:
        event.remove(engine, "commit", connection_lost_at_commit)
    assert table_rows(engine) == before

    # Another writer (own context, own store) revokes SIGNER's key at that index.
    other = LedgerContext.open(
        settings_for(ledger.ctx.settings.database_url, tmp_path), clock=SteppingClock()
    )
    try:
        revoked = revoke_key(other, ledger.admin_key, ADMIN, "SIGNER", signer.keyid, "key lost")
    finally:
        other.engine.dispose()
    assert revoked.entries[0].index == len(before["entries"])

    with pytest.raises(KeyRevoked):
        store.append([ledger.register_envelope("NEW-1", by="SIGNER")])
