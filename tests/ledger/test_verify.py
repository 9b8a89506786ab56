"""Verifying a log from its bytes: a valid log, fail-closed, and named tampers."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger import canonical
from ledger.checkpoint import Checkpoint
from ledger.entry import encode_entry
from ledger.envelope import sign_envelope
from ledger.errors import Finding, VerificationFailed
from ledger.keys import Algorithm, SigningKey
from ledger.merkle import MemoryTree, hash_leaf
from ledger.note import Ed25519NoteSigner
from ledger.statement import new_statement
from ledger.trust import key_description
from ledger.verify import LogSummary, LogVerifier, verify_entries

ORIGIN = "verify.custody.local/ledger"
ADMIN = "party:ADMIN-01"
LOG_KEY = SigningKey.generate(Algorithm.ED25519, b"\x31" * 32)
LOG_VKEY = Ed25519NoteSigner(ORIGIN, LOG_KEY).vkey()
ADMIN_KEY = SigningKey.generate(Algorithm.ED25519, b"\x32" * 32)
WH_KEY = SigningKey.generate(Algorithm.ECDSA_P256_SHA256, b"\x33" * 32)
CARRIER_KEY = SigningKey.generate(Algorithm.ECDSA_BP256R1_SHA256, b"\x34" * 32)
ROGUE_KEY = SigningKey.generate(Algorithm.ED25519, b"\x35" * 32)
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@dataclass
class LogBuilder:
    """Entries as the store writes them: index, prev per subject, recorded_at, envelope."""

    entries: list[bytes] = field(default_factory=list)
    heads: dict[str, bytes] = field(default_factory=dict)
    subjects: list[str] = field(default_factory=list)

    def add(self, kind: str, subject: str, by: str, data: dict[str, Any], keys: list[SigningKey]) -> int:
        index = len(self.entries)
        statement = new_statement(
            kind=kind,
            subject=subject,
            by=by,
            data=data,
            at=T0 + timedelta(minutes=index),
            nonce=(1000 + index).to_bytes(16, "big"),
        )
        raw = encode_entry(
            index=index,
            prev=self.heads.get(subject),
            recorded_at=T0 + timedelta(minutes=index, seconds=1),
            envelope=sign_envelope(statement.to_bytes(), keys),
        )
        self.entries.append(raw)
        self.heads[subject] = hash_leaf(raw)
        self.subjects.append(subject)
        return index

    def checkpoint(self, size: int | None = None) -> Checkpoint:
        size = len(self.entries) if size is None else size
        tree = MemoryTree(hash_leaf(raw) for raw in self.entries[:size])
        return Checkpoint(ORIGIN, size, tree.root())


def base_log() -> LogBuilder:
    log = LogBuilder()
    log.add(
        "ledger.genesis",
        f"ledger:{ORIGIN}",
        ADMIN,
        {
            "origin": ORIGIN,
            "log_vkey": LOG_VKEY,
            "admin": ADMIN,
            "name": "Verification test administration",
            "key": key_description(ADMIN_KEY.public_key),
        },
        [ADMIN_KEY],
    )
    log.add(
        "party.registered", "party:WH-01", ADMIN, {"name": "Lager Essen", "roles": ["warehouse"]}, [ADMIN_KEY]
    )
    log.add("key.added", "party:WH-01", ADMIN, key_description(WH_KEY.public_key), [ADMIN_KEY])
    log.add(
        "party.registered",
        "party:CARRIER-01",
        ADMIN,
        {"name": "Spedition", "roles": ["carrier"]},
        [ADMIN_KEY],
    )
    log.add("key.added", "party:CARRIER-01", ADMIN, key_description(CARRIER_KEY.public_key), [ADMIN_KEY])
    log.add("role.granted", "party:WH-01", ADMIN, {"role": "auditor"}, [ADMIN_KEY])
    log.add(
        "party.registered", "party:PRACTICE-01", ADMIN, {"name": "Praxis", "roles": ["practice"]}, [ADMIN_KEY]
    )
    log.add("role.granted", "party:CARRIER-01", ADMIN, {"role": "warehouse"}, [ADMIN_KEY])
    return log


BASE = base_log()
FULL_CHECKPOINT = BASE.checkpoint()
LEAVES = [hash_leaf(raw) for raw in BASE.entries]


def _failures(entries: list[bytes], checkpoint: Checkpoint | None = FULL_CHECKPOINT) -> list[Finding]:
    with pytest.raises(VerificationFailed) as caught:
        verify_entries(entries, checkpoint=checkpoint, log_vkey=LOG_VKEY)
    assert caught.value.code == "verify.failed"
    return caught.value.findings


def _rewrite(raw: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    value = canonical.decode(raw)
    change(value)
    return canonical.encode(value)


def _has(
    findings: list[Finding],
    index: int | None,
    code: str,
    expected: str | None = None,
    found: str | None = None,
) -> Finding:
    for finding in findings:
        if finding.index == index and finding.code == code:
            if expected is not None:
                assert finding.expected == expected, finding
            if found is not None:
                assert finding.found == found, finding
            return finding
    raise AssertionError(f"no finding ({index}, {code}) in {[f.as_dict() for f in findings]}")


def _nothing_before(findings: list[Finding], index: int) -> None:
    early = [f for f in findings if f.index is not None and f.index < index]
    assert not early, [f.as_dict() for f in early]


# --------------------------------------------------------------------------
# A valid log.


def test_a_valid_log_verifies_and_returns_the_root() -> None:
    summary = verify_entries(BASE.entries, checkpoint=FULL_CHECKPOINT, log_vkey=LOG_VKEY)
    assert isinstance(summary, LogSummary)
    assert summary.size == 8
    assert summary.root == FULL_CHECKPOINT.root == MemoryTree(LEAVES).root()
    assert summary.origin == ORIGIN
    assert summary.warnings == ()
    # Without a checkpoint or log key the same log verifies on its own.
    assert verify_entries(BASE.entries).root == summary.root


def test_the_streaming_verifier_matches_and_tracks_state() -> None:
    verifier = LogVerifier(
        checkpoint=FULL_CHECKPOINT,
        earlier_checkpoints=[BASE.checkpoint(1), BASE.checkpoint(5)],
        log_vkey=LOG_VKEY,
        chunk_size=2,
    )
    for position, raw in enumerate(BASE.entries):
        verifier.feed(raw)
        assert verifier.size == position + 1
    summary = verifier.finish()
    assert summary.root == FULL_CHECKPOINT.root
    assert verifier.state.roles_of("party:WH-01") == {"warehouse", "auditor"}
    assert verifier.state.roles_of("party:CARRIER-01") == {"carrier", "warehouse"}
    assert verifier.state.keys[CARRIER_KEY.keyid].party == "party:CARRIER-01"


def test_a_prefix_verifies_against_its_own_checkpoint() -> None:
    for size in range(1, 9):
        summary = verify_entries(BASE.entries[:size], checkpoint=BASE.checkpoint(size), log_vkey=LOG_VKEY)
        assert summary.root == MemoryTree(LEAVES[:size]).root()


# --------------------------------------------------------------------------
# Fail closed.


@pytest.mark.parametrize("checkpoint", [None, FULL_CHECKPOINT], ids=["no-checkpoint", "with-checkpoint"])
def test_an_empty_log_fails_closed(checkpoint: Checkpoint | None) -> None:
    with pytest.raises(VerificationFailed) as caught:
        verify_entries([], checkpoint=checkpoint, log_vkey=LOG_VKEY)
    codes = [f.code for f in caught.value.findings]
    assert "log.empty" in codes
    assert caught.value.findings[0].index is None
    with pytest.raises(VerificationFailed):
        LogVerifier().finish()


def test_entries_beyond_the_checkpoint_are_flagged() -> None:
    findings = _failures(BASE.entries, BASE.checkpoint(6))
    _has(findings, 6, "checkpoint.size", expected="6", found="8")


def test_a_different_log_key_is_flagged() -> None:
    other = Ed25519NoteSigner(ORIGIN, ROGUE_KEY).vkey()
    with pytest.raises(VerificationFailed) as caught:
        verify_entries(BASE.entries, checkpoint=FULL_CHECKPOINT, log_vkey=other)
    _has(caught.value.findings, 0, "genesis.log_key", expected=other, found=LOG_VKEY)


def test_a_checkpoint_of_another_origin_is_flagged() -> None:
    foreign = Checkpoint("other.origin/ledger", 8, FULL_CHECKPOINT.root)
    findings = _failures(BASE.entries, foreign)
    _has(findings, 0, "checkpoint.origin", expected=ORIGIN, found="other.origin/ledger")


def test_an_earlier_checkpoint_that_disagrees_is_a_fork() -> None:
    forked = Checkpoint(ORIGIN, 4, hash_leaf(b"fork"))
    verifier = LogVerifier(checkpoint=FULL_CHECKPOINT, earlier_checkpoints=[forked])
    verifier.feed_all(BASE.entries)
    with pytest.raises(VerificationFailed) as caught:
        verifier.finish()
    _has(
        caught.value.findings,
        3,
        "checkpoint.root",
        expected=forked.root.hex(),
        found=MemoryTree(LEAVES[:4]).root().hex(),
    )


# --------------------------------------------------------------------------
# Named tampers. Each returns the entries to verify (against FULL_CHECKPOINT).


def _flip_hex(text: str, position: int) -> str:
    digit = text[position]
    return text[:position] + ("1" if digit == "0" else "0") + text[position + 1 :]


def flipped_byte_in_entry() -> list[bytes]:
    entries = list(BASE.entries)
    entries[5] = _rewrite(entries[5], lambda v: v.update(prev=_flip_hex(v["prev"], 10)))
    return entries


def flipped_byte_in_signature() -> list[bytes]:
    def change(value: dict[str, Any]) -> None:
        sig = bytearray(base64.b64decode(value["envelope"]["signatures"][0]["sig"]))
        sig[20] ^= 0x01
        value["envelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()

    entries = list(BASE.entries)
    entries[3] = _rewrite(entries[3], change)
    return entries


def deleted_middle_entry() -> list[bytes]:
    return BASE.entries[:3] + BASE.entries[4:]


def truncated_tail() -> list[bytes]:
    return BASE.entries[:6]


def swapped_entries() -> list[bytes]:
    entries = list(BASE.entries)
    entries[5], entries[6] = entries[6], entries[5]
    return entries


def duplicated_entry() -> list[bytes]:
    return [*BASE.entries[:4], BASE.entries[3], *BASE.entries[4:]]


def spliced_into_other_chain() -> list[bytes]:
    entries = list(BASE.entries)
    entries[5] = _rewrite(entries[5], lambda v: v.update(prev=LEAVES[4].hex()))
    return entries


def _extended(*extra: tuple[str, str, str, dict[str, Any], list[SigningKey]]) -> LogBuilder:
    log = copy.deepcopy(BASE)
    for args in extra:
        log.add(*args)
    return log


UNREGISTERED = _extended(("party.registered", "party:ROGUE-01", ADMIN, {"name": "Rogue"}, [ROGUE_KEY]))
REVOKED = _extended(
    ("key.revoked", "party:WH-01", ADMIN, {"keyid": WH_KEY.keyid, "reason": "stolen"}, [ADMIN_KEY]),
    ("role.granted", "party:PRACTICE-01", "party:WH-01", {"role": "auditor"}, [WH_KEY]),
)
MISSING_ROLE = _extended(("party.registered", "party:X-01", "party:WH-01", {"name": "X"}, [WH_KEY]))


def _check_flipped_byte_in_entry(findings: list[Finding]) -> None:
    _has(findings, 5, "chain.prev", expected=LEAVES[2].hex(), found=_flip_hex(LEAVES[2].hex(), 10))
    _has(findings, None, "checkpoint.root", expected=FULL_CHECKPOINT.root.hex())
    _nothing_before(findings, 5)


def _check_flipped_byte_in_signature(findings: list[Finding]) -> None:
    _has(findings, 3, "auth.signature_invalid")
    _has(findings, None, "checkpoint.root", expected=FULL_CHECKPOINT.root.hex())
    assert [f.index for f in findings if f.code == "auth.signature_invalid"] == [3]
    _nothing_before(findings, 3)


def _check_deleted_middle_entry(findings: list[Finding]) -> None:
    _has(findings, 4, "entry.index", expected="3", found="4")
    _has(findings, 4, "chain.prev", expected="null", found=LEAVES[3].hex())
    _has(findings, 4, "rule.party_registered")
    _has(findings, 7, "checkpoint.size", expected="8", found="7")
    _nothing_before(findings, 4)


def _check_truncated_tail(findings: list[Finding]) -> None:
    assert [f.as_dict() for f in findings] == [
        {
            "index": 6,
            "code": "checkpoint.size",
            "message": "the log is shorter than its checkpoint (truncated)",
            "expected": "8",
            "found": "6",
        }
    ]


def _check_swapped_entries(findings: list[Finding]) -> None:
    _has(findings, 6, "entry.index", expected="5", found="6")
    _has(findings, 5, "entry.index", expected="7", found="5")
    _has(findings, None, "checkpoint.root", expected=FULL_CHECKPOINT.root.hex())
    _nothing_before(findings, 5)


def _check_duplicated_entry(findings: list[Finding]) -> None:
    _has(findings, 3, "entry.index", expected="4", found="3")
    _has(findings, 3, "chain.prev", expected=LEAVES[3].hex(), found="null")
    replay = _has(findings, 3, "statement.replayed")
    assert (
        replay.found
        == canonical.decode(base64.b64decode(canonical.decode(BASE.entries[3])["envelope"]["payload"]))[
            "nonce"
        ]
    )
    _has(findings, 3, "rule.party_unique")
    _has(findings, None, "checkpoint.root", expected=FULL_CHECKPOINT.root.hex())
    _has(findings, 8, "checkpoint.size", expected="8", found="9")
    _nothing_before(findings, 3)


def _check_spliced_into_other_chain(findings: list[Finding]) -> None:
    _has(findings, 5, "chain.prev", expected=LEAVES[2].hex(), found=LEAVES[4].hex())
    _has(findings, None, "checkpoint.root")
    _nothing_before(findings, 5)


def _check_only(index: int, code: str) -> Callable[[list[Finding]], None]:
    def check(findings: list[Finding]) -> None:
        assert [(f.index, f.code) for f in findings] == [(index, code)], [f.as_dict() for f in findings]

    return check


TAMPERS: dict[str, tuple[Callable[[], list[bytes]], Checkpoint, Callable[[list[Finding]], None]]] = {
    "flipped-byte-in-entry": (flipped_byte_in_entry, FULL_CHECKPOINT, _check_flipped_byte_in_entry),
    "flipped-byte-in-signature": (
        flipped_byte_in_signature,
        FULL_CHECKPOINT,
        _check_flipped_byte_in_signature,
    ),
    "deleted-middle-entry": (deleted_middle_entry, FULL_CHECKPOINT, _check_deleted_middle_entry),
    "truncated-tail": (truncated_tail, FULL_CHECKPOINT, _check_truncated_tail),
    "swapped-entries": (swapped_entries, FULL_CHECKPOINT, _check_swapped_entries),
    "duplicated-entry": (duplicated_entry, FULL_CHECKPOINT, _check_duplicated_entry),
    "spliced-into-other-chain": (spliced_into_other_chain, FULL_CHECKPOINT, _check_spliced_into_other_chain),
    # The next three are logs a dishonest or buggy writer could have produced
    # and checkpointed itself: the checkpoint matches, the rules do not.
    "unregistered-key": (
        lambda: UNREGISTERED.entries,
        UNREGISTERED.checkpoint(),
        _check_only(8, "auth.key_unknown"),
    ),
    "revoked-key": (lambda: REVOKED.entries, REVOKED.checkpoint(), _check_only(9, "auth.key_revoked")),
    "missing-role": (
        lambda: MISSING_ROLE.entries,
        MISSING_ROLE.checkpoint(),
        _check_only(8, "auth.role_missing"),
    ),
}


@pytest.mark.parametrize("tamper", TAMPERS.keys())
def test_tamper_is_reported_at_its_index(tamper: str) -> None:
    make, checkpoint, check = TAMPERS[tamper]
    findings = _failures(make(), checkpoint)
    check(findings)
    # Findings come sorted: the unlocated ones first, then by index.
    order = [-1 if f.index is None else f.index for f in findings]
    assert order == sorted(order)


def _later_recorded_at(value: dict[str, Any]) -> None:
    value["recorded_at"] = value["recorded_at"].replace(".000Z", ".001Z")


def test_a_flipped_byte_that_still_parses_is_caught_by_the_root() -> None:
    # Entry 6 is the last about its subject: only the Merkle root can tell.
    entries = list(BASE.entries)
    entries[6] = _rewrite(entries[6], _later_recorded_at)
    assert entries[6] != BASE.entries[6]
    findings = _failures(entries)
    assert [(f.index, f.code) for f in findings] == [(None, "checkpoint.root")]
    assert findings[0].expected == FULL_CHECKPOINT.root.hex()
    assert findings[0].found == MemoryTree(hash_leaf(raw) for raw in entries).root().hex()
    # Entry 2 is linked from entry 5, so the chain shows where the change sits too.
    entries = list(BASE.entries)
    entries[2] = _rewrite(entries[2], _later_recorded_at)
    findings = _failures(entries)
    _has(findings, 5, "chain.prev", expected=hash_leaf(entries[2]).hex(), found=LEAVES[2].hex())
    _has(findings, None, "checkpoint.root")


def test_an_unreadable_entry_is_reported_and_verification_goes_on() -> None:
    entries = list(BASE.entries)
    entries[6] = b"\x7b" + entries[6][1:-1]  # drop the closing brace
    findings = _failures(entries)
    _has(findings, 6, "input.json.malformed")
    _has(findings, None, "checkpoint.root")
    _nothing_before(findings, 6)
    assert [f for f in findings if f.index == 7] == []  # the next entry is checked normally


def test_several_tampers_at_once_are_all_reported() -> None:
    log = _extended(
        ("party.registered", "party:ROGUE-01", ADMIN, {"name": "Rogue"}, [ROGUE_KEY]),
        ("party.registered", "party:X-01", "party:WH-01", {"name": "X"}, [WH_KEY]),
    )
    checkpoint = log.checkpoint()
    entries = list(log.entries)

    def flip_signature(value: dict[str, Any]) -> None:
        sig = bytearray(base64.b64decode(value["envelope"]["signatures"][0]["sig"]))
        sig[0] ^= 0x80
        value["envelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()

    entries[1] = _rewrite(entries[1], flip_signature)
    entries[5] = _rewrite(entries[5], lambda v: v.update(prev=LEAVES[4].hex()))
    del entries[6]  # PRACTICE-01's registration
    with pytest.raises(VerificationFailed) as caught:
        verify_entries(entries, checkpoint=checkpoint, log_vkey=LOG_VKEY)
    findings = caught.value.findings
    _has(findings, 1, "auth.signature_invalid")
    _has(findings, 5, "chain.prev", expected=LEAVES[2].hex(), found=LEAVES[4].hex())
    _has(findings, 7, "entry.index", expected="6", found="7")
    _has(findings, 8, "auth.key_unknown")
    _has(findings, 9, "auth.role_missing")
    _has(findings, 9, "checkpoint.size", expected="10", found="9")
    assert str(caught.value).startswith(f"{len(findings)} finding(s)")
    assert len(findings) >= 6
