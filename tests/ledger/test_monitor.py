"""The monitor's decision (ledger.monitor.observe): accept honest growth, name every lie.

Each negative case applies one mutation to what an honest server would serve and
asserts the finding's class and code, and that the offending note is kept as evidence.
"""

from __future__ import annotations

import pytest

from ledger.errors import InvalidInput
from ledger.monitor import (
    ConsistencyEvidence,
    Fork,
    InvalidCheckpoint,
    InvalidConsistencyProof,
    MissingCosignatures,
    MonitorFinding,
    OriginChanged,
    Rollback,
    Seen,
    observe,
)
from ledger.witness import AddCheckpoint, WitnessState, add_checkpoint
from tests.ledger.tlog_helpers import MemLog, flip_signature_bit, witness_key, witness_verifier


def seen_at(log: MemLog, size: int | None = None) -> Seen:
    observation = observe(None, log.checkpoint(size), log.vkey)
    return observation.seen


def evidence(log: MemLog, old: int, new: int | None = None, **claims: bytes) -> ConsistencyEvidence:
    new = log.tree.size if new is None else new
    return ConsistencyEvidence(
        old,
        new,
        log.proof(old, new),
        claims.get("old_root", log.root(old)),
        claims.get("new_root", log.root(new)),
    )


def finding(error: type[MonitorFinding], code: str, call) -> MonitorFinding:  # type: ignore[no-untyped-def]
    with pytest.raises(error) as info:
        call()
    assert info.value.code == code
    assert info.value.evidence  # the offending note is kept
    return info.value


# --------------------------------------------------------------------------
# Accepted


def test_first_observation_is_trusted_on_first_use() -> None:
    log = MemLog().grow(4)
    observation = observe(None, log.checkpoint(), log.vkey)
    assert observation.first
    assert not observation.grew
    assert (observation.seen.origin, observation.seen.size, observation.seen.root) == (
        log.origin,
        4,
        log.root(),
    )


def test_honest_growth_with_a_valid_proof_is_accepted() -> None:
    log = MemLog().grow(4)
    before = seen_at(log)
    log.grow(9)
    observation = observe(before, log.checkpoint(), log.vkey, evidence(log, 4))
    assert observation.grew
    assert observation.seen.size == 13
    assert observation.previous == before


def test_growth_without_the_servers_root_claims_is_accepted() -> None:
    log = MemLog().grow(3)
    before = seen_at(log)
    log.grow(1)
    proof = ConsistencyEvidence(3, 4, log.proof(3))
    assert observe(before, log.checkpoint(), log.vkey, proof).seen.size == 4


def test_unchanged_log_is_accepted_without_a_proof() -> None:
    log = MemLog().grow(4)
    before = seen_at(log)
    observation = observe(before, log.checkpoint(), log.vkey)
    assert not observation.grew
    assert observation.seen == before


def test_k_of_n_cosignatures() -> None:
    log = MemLog().grow(2)
    w1, w2 = witness_key("w1.example/w", "w1"), witness_key("w2.example/w", "w2")
    note = log.checkpoint()
    for w in (w1, w2):
        decision = add_checkpoint(
            WitnessState(w.vkey(), {}), AddCheckpoint(0, (), log.checkpoint()), [log.vkey], w, 1
        )
        note += decision.lines.encode()
    trusted = [witness_verifier(w1), witness_verifier(w2)]
    assert len(observe(None, note, log.vkey, None, trusted, 2).opened.cosignatures) == 2
    w3 = witness_key("w3.example/w", "w3")
    error = finding(
        MissingCosignatures,
        "verify.monitor.cosignatures",
        lambda: observe(None, note, log.vkey, None, [*trusted, witness_verifier(w3)], 3),
    )
    assert "2 trusted cosignature(s)" in error.message
    assert "3 required" in error.message
    with pytest.raises(InvalidInput, match="only 2 witness key"):
        observe(None, note, log.vkey, None, trusted, 3)


# --------------------------------------------------------------------------
# Findings


def test_rollback_smaller_size() -> None:
    log = MemLog().grow(8)
    before = seen_at(log)
    error = finding(Rollback, "verify.monitor.rollback", lambda: observe(before, log.checkpoint(5), log.vkey))
    assert "size 5" in error.message
    assert "size 8" in error.message


def test_fork_same_size_different_root() -> None:
    log = MemLog().grow(6)
    before = seen_at(log)
    forked = MemLog(tag="evil").grow(6)  # same origin and log key, other leaves
    finding(Fork, "verify.monitor.fork", lambda: observe(before, forked.checkpoint(), log.vkey))


def test_fork_servers_tree_at_old_size_differs() -> None:
    """Split view: the server that serves the other branch states its own root at the old size."""
    base = MemLog().grow(3)
    honest = base.fork("honest").grow(2)
    before = seen_at(honest)  # size 5, honest branch
    evil = base.fork("evil").grow(4)  # size 7, diverging after 3
    error = finding(
        Fork, "verify.monitor.fork", lambda: observe(before, evil.checkpoint(), evil.vkey, evidence(evil, 5))
    )
    assert "split view" in error.message


def test_forked_proof_without_root_claims_fails_as_invalid_proof() -> None:
    base = MemLog().grow(3)
    before = seen_at(base.fork("honest").grow(2))
    evil = base.fork("evil").grow(4)
    proof = ConsistencyEvidence(5, 7, evil.proof(5))
    finding(
        InvalidConsistencyProof,
        "verify.monitor.consistency",
        lambda: observe(before, evil.checkpoint(), evil.vkey, proof),
    )


def test_tampered_proof_element() -> None:
    log = MemLog().grow(5)
    before = seen_at(log)
    log.grow(3)
    honest = evidence(log, 5)
    bad = (bytes([honest.proof[0][0] ^ 1]) + honest.proof[0][1:], *honest.proof[1:])
    tampered = ConsistencyEvidence(5, 8, bad, honest.old_root, honest.new_root)
    finding(
        InvalidConsistencyProof,
        "verify.monitor.consistency",
        lambda: observe(before, log.checkpoint(), log.vkey, tampered),
    )


def test_missing_proof_for_growth() -> None:
    log = MemLog().grow(5)
    before = seen_at(log)
    log.grow(1)
    finding(
        InvalidConsistencyProof,
        "verify.monitor.consistency",
        lambda: observe(before, log.checkpoint(), log.vkey),
    )


def test_proof_for_other_sizes() -> None:
    log = MemLog().grow(5)
    before = seen_at(log)
    log.grow(3)
    finding(
        InvalidConsistencyProof,
        "verify.monitor.consistency",
        lambda: observe(before, log.checkpoint(), log.vkey, evidence(log, 4)),
    )


def test_servers_new_root_claim_differs_from_the_checkpoint() -> None:
    log = MemLog().grow(5)
    before = seen_at(log)
    log.grow(3)
    claim = evidence(log, 5, new_root=log.root(7))
    finding(
        InvalidConsistencyProof,
        "verify.monitor.consistency",
        lambda: observe(before, log.checkpoint(), log.vkey, claim),
    )


def test_tampered_checkpoint_signature() -> None:
    log = MemLog().grow(3)
    note = flip_signature_bit(log.checkpoint())
    finding(InvalidCheckpoint, "verify.monitor.signature", lambda: observe(None, note, log.vkey))


def test_checkpoint_signed_by_another_key() -> None:
    log = MemLog().grow(3)
    before = seen_at(log)
    impostor = MemLog(key_label="impostor").grow(4)
    finding(
        InvalidCheckpoint,
        "verify.monitor.signature",
        lambda: observe(before, impostor.checkpoint(), log.vkey),
    )


def test_tampered_checkpoint_body() -> None:
    log = MemLog().grow(3)
    note = log.checkpoint().replace(b"\n3\n", b"\n4\n", 1)
    finding(InvalidCheckpoint, "verify.monitor.signature", lambda: observe(None, note, log.vkey))


def test_malformed_checkpoint() -> None:
    log = MemLog().grow(3)
    finding(
        InvalidCheckpoint, "verify.monitor.signature", lambda: observe(None, b"<html>oops</html>", log.vkey)
    )


def test_origin_changed() -> None:
    log = MemLog().grow(3)
    before = seen_at(log)
    other = MemLog(origin="other.example/log").grow(4)
    finding(OriginChanged, "verify.monitor.origin", lambda: observe(before, other.checkpoint(), other.vkey))
