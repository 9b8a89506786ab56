"""The tamper matrix: change a real ledger behind the triggers' back, then verify it.

Each case bypasses the append-only triggers on purpose (SQLite: the triggers
are dropped for one transaction; PostgreSQL: ``DISABLE TRIGGER USER``) or
forges an entry as a compromised server holding the log key would, and then
asserts that ``verify_ledger`` reports each break at the index where it is,
with what was expected and what was found.

The base ledger (both engines)::

    0 genesis            5,6 GONE (admin) + key    12..15 P-05..P-08
    1,2 ALICE (admin)    7 GONE's key revoked       16 role.granted P-03
    3,4 WH-01 (warehouse) 8..10 P-01..P-03          17,18 P-09, P-10
                          11 P-04

Checkpoints at 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 16, 17, 19.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.services.trust import grant_role, revoke_key
from app.services.verification import VerifyReport, verify_ledger
from app.tables import CHECKPOINTS, ENTRIES
from ledger.entry import Entry, encode_entry
from ledger.envelope import Envelope, Signature
from ledger.keys import Algorithm, SigningKey
from ledger.merkle import hash_leaf
from ledger.times import parse_timestamp
from tests.app.findings_helpers import Expect, assert_findings
from tests.app.storage_helpers import (
    active_triggers,
    append_only_bypassed,
    checkpoint_note,
    flip_bit,
    forge_append,
    stored_entry,
)
from tests.helpers import ADMIN, KEY_PASSPHRASE, LOG_PASSPHRASE, LedgerFixture

SIZE = 19
CHECKPOINT_SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 16, 17, 19]
BOGUS = b"\x5a" * 32


@dataclass
class Base:
    ledger: LedgerFixture
    leaves: dict[int, bytes]
    roots: dict[int, bytes]

    @property
    def engine(self):  # type: ignore[no-untyped-def]
        return self.ledger.ctx.engine


@pytest.fixture
def base(ledger: LedgerFixture) -> Base:
    ledger.party("ALICE", ["admin"])
    ledger.party("WH-01", ["warehouse"])
    gone = ledger.party("GONE", ["admin"])
    revoke_key(ledger.ctx, ledger.admin_key, ADMIN, "GONE", gone.keyid, "laptop stolen")
    ledger.append(*(ledger.register_envelope(f"P-{i:02d}") for i in (1, 2, 3)))
    ledger.append(ledger.register_envelope("P-04"))
    ledger.append(*(ledger.register_envelope(f"P-{i:02d}") for i in (5, 6, 7, 8)))
    grant_role(ledger.ctx, ledger.admin_key, ADMIN, "P-03", "auditor")
    ledger.append(ledger.register_envelope("P-09"), ledger.register_envelope("P-10"))
    store = ledger.ctx.store
    assert store.size() == SIZE
    assert store.checkpoint_sizes() == CHECKPOINT_SIZES
    report = verify_ledger(ledger.ctx, workers=1)
    assert report.valid, report.findings
    leaves = {i: hash_leaf(raw) for i, raw in enumerate(store.entries())}
    roots = {size: store.root(size) for size in CHECKPOINT_SIZES}
    return Base(ledger, leaves, roots)


@dataclass
class Tampered:
    expect: list[Expect]
    #: Exactly these findings and no others (else: at least these, none before the first).
    exact: bool = True


def _checkpoints_after(base: Base, index: int) -> list[Expect]:
    """Every checkpoint covering ``index`` no longer matches the log's root."""
    expect = [
        Expect(size - 1, "checkpoint.root", base.roots[size].hex())
        for size in CHECKPOINT_SIZES[:-1]
        if size > index
    ]
    return [*expect, Expect(None, "checkpoint.root", base.roots[SIZE].hex())]


def _set_raw(base: Base, idx: int, raw: bytes, *, leaf_column: bool = False) -> None:
    with append_only_bypassed(base.engine) as conn:
        values: dict[str, object] = {"raw": raw}
        if leaf_column:
            values["leaf_hash"] = hash_leaf(raw)
        conn.execute(ENTRIES.update().where(ENTRIES.c.idx == idx).values(**values))


def _checkpoint(base: Base, size: int) -> tuple[str, bytes]:
    with base.engine.connect() as conn:
        note, root = conn.execute(
            select(CHECKPOINTS.c.note, CHECKPOINTS.c.root).where(CHECKPOINTS.c.size == size)
        ).one()
    return str(note), bytes(root)


def _set_checkpoint(base: Base, size: int, **values: object) -> None:
    with append_only_bypassed(base.engine) as conn:
        conn.execute(CHECKPOINTS.update().where(CHECKPOINTS.c.size == size).values(**values))


# --------------------------------------------------------------------------
# The cases, one per mutation


def flipped_byte_in_entry(base: Base) -> Tampered:
    """One bit of entry 9's recorded_at: still valid JSON, not signed, but hashed."""
    raw = stored_entry(base.engine, 9)["raw"]
    start = raw.index(b'"recorded_at":"') + len(b'"recorded_at":"')
    tampered = flip_bit(raw, raw.index(b'Z"', start) - 1)
    assert Entry.parse(tampered).recorded_at != Entry.parse(raw).recorded_at
    _set_raw(base, 9, tampered)
    new_leaf, old_leaf = hash_leaf(tampered).hex(), base.leaves[9].hex()
    return Tampered(
        [
            Expect(9, "tree_node.mismatch", new_leaf, old_leaf),
            Expect(9, "column.mismatch", new_leaf, old_leaf),
            *_checkpoints_after(base, 9),
        ]
    )


def flipped_byte_unreadable_entry(base: Base) -> Tampered:
    raw = stored_entry(base.engine, 9)["raw"]
    _set_raw(base, 9, flip_bit(raw, 0))  # '{' becomes 'z'
    return Tampered(
        [
            Expect(9, "input.*"),
            Expect(9, "tree_node.mismatch", hash_leaf(flip_bit(raw, 0)).hex(), base.leaves[9].hex()),
            *_checkpoints_after(base, 9),
        ]
    )


def flipped_byte_in_signature(base: Base) -> Tampered:
    """Entry 12 re-encoded (valid JSON) with one signature byte flipped; leaf column kept in step."""
    entry = Entry.parse(stored_entry(base.engine, 12)["raw"])

    def encoded(envelope: Envelope) -> bytes:
        return encode_entry(
            index=entry.index,
            prev=None if entry.prev is None else bytes.fromhex(entry.prev),
            recorded_at=parse_timestamp(entry.recorded_at),
            envelope=envelope,
        )

    assert encoded(entry.envelope) == entry.raw  # re-encoding alone changes nothing
    (signature,) = entry.envelope.signatures
    forged = Envelope(
        entry.envelope.payload_type,
        entry.envelope.payload,
        (Signature(signature.keyid, flip_bit(signature.sig, 7)),),
    )
    tampered = encoded(forged)
    _set_raw(base, 12, tampered, leaf_column=True)
    return Tampered(
        [
            Expect(12, "auth.signature_invalid"),
            Expect(12, "tree_node.mismatch", hash_leaf(tampered).hex(), base.leaves[12].hex()),
            *_checkpoints_after(base, 12),
        ]
    )


def deleted_middle_entry(base: Base) -> Tampered:
    with append_only_bypassed(base.engine) as conn:
        conn.execute(ENTRIES.delete().where(ENTRIES.c.idx == 13))
    return Tampered(
        [
            Expect(14, "entry.index", "13", "14"),
            Expect(13, "tree_node.extra"),
            Expect(15, "checkpoint.root", base.roots[16].hex()),
            Expect(16, "checkpoint.root", base.roots[17].hex()),
            Expect(18, "checkpoint.size", "19", "18"),
        ]
    )


def truncated_tail(base: Base) -> Tampered:
    with append_only_bypassed(base.engine) as conn:
        conn.execute(ENTRIES.delete().where(ENTRIES.c.idx >= 16))
    return Tampered(
        [
            Expect(16, "checkpoint.size", "19", "16"),  # the latest checkpoint
            Expect(17, "checkpoint.size", "17", "16"),  # an earlier one beyond the log
            Expect(16, "tree_node.extra"),
            Expect(17, "tree_node.extra"),
            Expect(18, "tree_node.extra"),
        ]
    )


def swapped_entries(base: Base) -> Tampered:
    rows = {i: stored_entry(base.engine, i) for i in (12, 13)}
    with append_only_bypassed(base.engine) as conn:
        conn.execute(ENTRIES.delete().where(ENTRIES.c.idx.in_([12, 13])))
        conn.execute(ENTRIES.insert(), [{**rows[13], "idx": 12}, {**rows[12], "idx": 13}])
    return Tampered(
        [
            Expect(12, "column.mismatch", "13", "12"),
            Expect(13, "column.mismatch", "12", "13"),
            Expect(12, "tree_node.mismatch", base.leaves[13].hex(), base.leaves[12].hex()),
            Expect(13, "tree_node.mismatch", base.leaves[12].hex(), base.leaves[13].hex()),
            Expect(13, "entry.index", "12", "13"),
            Expect(12, "entry.index", "14", "12"),
            *_checkpoints_after(base, 12),
        ],
        # The core verifier resynchronises on the index an entry claims, so
        # after a swap it also flags entry 14 ("expected 13"): noisy, not wrong.
        exact=False,
    )


def duplicated_entry(base: Base) -> Tampered:
    """A copy of entry 10 under the new idx 19 (its nonce column altered: it is unique)."""
    row = stored_entry(base.engine, 10)
    nonce = row["nonce"]
    with base.engine.begin() as conn:  # an INSERT needs no bypass
        conn.execute(ENTRIES.insert(), {**row, "idx": 19, "nonce": nonce[::-1]})
    return Tampered(
        [
            Expect(19, "column.mismatch", "10", "19"),
            Expect(19, "column.mismatch", nonce, nonce[::-1]),
            Expect(10, "entry.index", "19", "10"),
            Expect(10, "statement.replayed", None, nonce),
            Expect(19, "tree_node.missing"),
            Expect(19, "checkpoint.size", "19", "20"),
            # The copy also breaks P-03's chain (its head is entry 16 by now)
            # and registers P-03 again; the core verifier reports what an
            # entry says under the index it claims (10).
            Expect(10, "chain.prev", base.leaves[16].hex(), "null"),
            Expect(10, "rule.party_unique"),
        ],
    )


def spliced_into_another_chain(base: Base) -> Tampered:
    """A new entry about P-05 whose prev points into P-07's chain (forged, fully signed)."""
    envelope = base.ledger.statement(
        "role.granted", "party:P-05", ADMIN, {"role": "carrier"}, keys=[base.ledger.admin_key]
    )
    index, _ = forge_append(base.ledger.ctx, envelope, prev=base.leaves[14])
    assert index == SIZE
    return Tampered([Expect(SIZE, "chain.prev", base.leaves[12].hex(), base.leaves[14].hex())])


def signed_by_unregistered_key(base: Base) -> Tampered:
    stranger = SigningKey.generate(Algorithm.ED25519, os.urandom(64))
    forge_append(base.ledger.ctx, base.ledger.register_envelope("P-X", key=stranger))
    return Tampered([Expect(SIZE, "auth.key_unknown")])


def signed_by_revoked_key(base: Base) -> Tampered:
    """GONE's key was revoked at 7; a server forges an entry with it after that."""
    forge_append(base.ledger.ctx, base.ledger.register_envelope("P-Y", by="GONE"))
    return Tampered([Expect(SIZE, "auth.key_revoked")])


def signer_without_the_role(base: Base) -> Tampered:
    """WH-01 is a warehouse; registering parties needs admin."""
    forge_append(base.ledger.ctx, base.ledger.register_envelope("P-Z", by="WH-01"))
    return Tampered([Expect(SIZE, "auth.role_missing")])


def _set_node(base: Base, level: int, idx: int) -> str:
    with append_only_bypassed(base.engine) as conn:
        old = conn.execute(
            text("SELECT hash FROM tree_nodes WHERE level = :l AND idx = :i"), {"l": level, "i": idx}
        ).scalar_one()
        conn.execute(
            text("UPDATE tree_nodes SET hash = :h WHERE level = :l AND idx = :i"),
            {"h": BOGUS, "l": level, "i": idx},
        )
    return bytes(old).hex()


def tampered_leaf_node(base: Base) -> Tampered:
    old = _set_node(base, 0, 5)
    assert old == base.leaves[5].hex()
    return Tampered([Expect(5, "tree_node.mismatch", old, BOGUS.hex())])


def tampered_interior_node(base: Base) -> Tampered:
    """Node (2, 1) covers entries 4..7: reported once, at 4, not again in its ancestors."""
    old = _set_node(base, 2, 1)
    return Tampered([Expect(4, "tree_node.mismatch", old, BOGUS.hex())])


def checkpoint_root_changed(base: Base) -> Tampered:
    """Checkpoint 11 re-signed with the real log key over a different root."""
    note = checkpoint_note(base.ledger.ctx, 11, BOGUS)
    _set_checkpoint(base, 11, note=note, root=BOGUS)
    return Tampered([Expect(10, "checkpoint.root", BOGUS.hex(), base.roots[11].hex())])


def latest_checkpoint_root_changed(base: Base) -> Tampered:
    note = checkpoint_note(base.ledger.ctx, SIZE, BOGUS)
    _set_checkpoint(base, SIZE, note=note, root=BOGUS)
    # A finding about the whole log: the core verifier gives it no index.
    return Tampered([Expect(None, "checkpoint.root", BOGUS.hex(), base.roots[SIZE].hex())])


def checkpoint_signature_broken(base: Base) -> Tampered:
    note, _ = _checkpoint(base, 11)
    text_part, _, signature_line = note.rstrip("\n").rpartition("\n")
    prefix, _, blob = signature_line.rpartition(" ")
    broken = base64.b64encode(flip_bit(base64.b64decode(blob), 10)).decode()
    _set_checkpoint(base, 11, note=f"{text_part}\n{prefix} {broken}\n")
    return Tampered([Expect(10, "checkpoint.signature")])


def checkpoint_root_column_changed(base: Base) -> Tampered:
    _set_checkpoint(base, 11, root=BOGUS)
    return Tampered([Expect(10, "column.mismatch", base.roots[11].hex(), BOGUS.hex())])


def decoded_column_changed(base: Base) -> Tampered:
    """The kind column of entry 9 says key.added; its bytes say party.registered."""
    with append_only_bypassed(base.engine) as conn:
        conn.execute(ENTRIES.update().where(ENTRIES.c.idx == 9).values(kind="key.added"))
    return Tampered([Expect(9, "column.mismatch", "party.registered", "key.added")])


def several_at_once(base: Base) -> Tampered:
    parts = [
        decoded_column_changed(base),
        tampered_interior_node(base),
        checkpoint_signature_broken(base),
        signed_by_unregistered_key(base),
    ]
    return Tampered([e for part in parts for e in part.expect])


CASES = [
    flipped_byte_in_entry,
    flipped_byte_unreadable_entry,
    flipped_byte_in_signature,
    deleted_middle_entry,
    truncated_tail,
    swapped_entries,
    duplicated_entry,
    spliced_into_another_chain,
    signed_by_unregistered_key,
    signed_by_revoked_key,
    signer_without_the_role,
    tampered_leaf_node,
    tampered_interior_node,
    checkpoint_root_changed,
    latest_checkpoint_root_changed,
    checkpoint_signature_broken,
    checkpoint_root_column_changed,
    decoded_column_changed,
    several_at_once,
]


def assert_reported(report: VerifyReport, tampered: Tampered) -> None:
    assert_findings(report, tampered.expect, tampered.exact)


@pytest.mark.parametrize("case", CASES, ids=[c.__name__.replace("_", "-") for c in CASES])
def test_tampering_is_reported_where_it_happened(base: Base, case: Callable[[Base], Tampered]) -> None:
    triggers = active_triggers(base.engine)
    tampered = case(base)
    assert active_triggers(base.engine) == triggers  # the bypass ended with the tampering
    report = verify_ledger(base.ledger.ctx, workers=1)
    assert_reported(report, tampered)


def test_several_tampers_are_all_reported_with_parallel_signature_checks(base: Base) -> None:
    signature = flipped_byte_in_signature(base)
    several = several_at_once(base)
    # The forged entry of ``several`` adds checkpoint 20: checkpoint 19 is no
    # longer the latest, so its mismatch now has an index.
    expect = [e for e in signature.expect if e.index is not None]
    expect += [Expect(18, "checkpoint.root", base.roots[SIZE].hex()), Expect(None, "checkpoint.root")]
    report = verify_ledger(base.ledger.ctx, workers=2)
    assert_reported(report, Tampered(expect + several.expect))


# --------------------------------------------------------------------------
# The command line


def _custody_verify(base: Base, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
    env["CUSTODY_LOG_KEY_PASSPHRASE"] = LOG_PASSPHRASE
    env["CUSTODY_KEY_PASSPHRASE"] = KEY_PASSPHRASE
    custody = Path(sys.executable).with_name("custody")
    return subprocess.run(
        [str(custody), "verify", "--db", base.ledger.ctx.settings.database_url, "--json", "--workers", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def test_custody_verify_exits_1_and_lists_the_findings(base: Base, tmp_path: Path) -> None:
    clean = _custody_verify(base, tmp_path)
    assert clean.returncode == 0, clean.stderr
    report = json.loads(clean.stdout)
    assert report["valid"] is True
    assert report["size"] == SIZE
    assert report["findings"] == []

    decoded_column_changed(base)
    signed_by_revoked_key(base)
    broken = _custody_verify(base, tmp_path)
    assert broken.returncode == 1, broken.stderr
    report = json.loads(broken.stdout)
    assert report["valid"] is False
    findings = {(f["index"], f["code"]): f for f in report["findings"]}
    assert set(findings) == {(9, "column.mismatch"), (SIZE, "auth.key_revoked")}
    column = findings[(9, "column.mismatch")]
    assert (column["expected"], column["found"]) == ("party.registered", "key.added")
    assert "revoked" in findings[(SIZE, "auth.key_revoked")]["message"] + str(
        findings[(SIZE, "auth.key_revoked")]["found"]
    )
    assert "verify.failed" in broken.stderr
