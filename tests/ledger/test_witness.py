"""The witness's decision (ledger.witness): C2SP tlog-witness add-checkpoint, tlog-cosignature v1.

Positive cases cosign and the cosignature verifies with ledger.note / open_checkpoint;
every negative case is named after the mutation it applies to an honest request and
asserts the refusal class, its HTTP status and (for 409) the size the witness reports.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.checkpoint import open_checkpoint
from ledger.errors import InvalidInput, LedgerError
from ledger.keys import Algorithm, SigningKey
from ledger.note import parse_vkey
from ledger.witness import (
    MAX_PROOF_LINES,
    AddCheckpoint,
    CheckpointSignatureRefused,
    ConsistencyRefused,
    Cosigned,
    ForkRefused,
    RollbackRefused,
    StaleOldSize,
    UnknownLog,
    WitnessKey,
    WitnessRecord,
    WitnessRequestMalformed,
    WitnessState,
    add_checkpoint,
    parse_add_checkpoint,
)
from tests.ledger.tlog_helpers import MemLog, flip_signature_bit, witness_key, witness_verifier

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
V = json.loads((VECTORS / "derived-checkpoint-cosignature-proof.json").read_text(encoding="utf-8"))
NOW = 1_795_861_200
W = witness_key()


def empty() -> WitnessState:
    return WitnessState(W.vkey(), {})


def cosign(
    state: WitnessState, log: MemLog, old: int, proof: tuple[bytes, ...] = (), note: bytes | None = None
) -> Cosigned:
    request = AddCheckpoint(old, proof, note if note is not None else log.checkpoint())
    return add_checkpoint(state, request, [log.vkey], W, NOW)


def witnessed(log: MemLog, size: int | None = None) -> WitnessState:
    """The state of a witness that has cosigned ``log`` at ``size`` (default: now)."""
    decision = cosign(empty(), log, 0, note=log.checkpoint(size))
    return empty().with_record(decision.record)


def refused(error: type[LedgerError], status: int, call) -> LedgerError:  # type: ignore[no-untyped-def]
    with pytest.raises(error) as info:
        call()
    assert getattr(info.value, "status", None) == status
    return info.value


# --------------------------------------------------------------------------
# Cosigning


def test_vector_first_cosignature_is_the_published_line() -> None:
    """Old size 0 (never cosigned) → the exact tlog-cosignature line of the derived vector."""
    witness = WitnessKey(
        V["witness_name"], SigningKey.generate(Algorithm.ED25519, bytes.fromhex(V["witness_seed_hex"]))
    )
    assert witness.vkey() == V["witness_vkey"]
    body = f"old 0\n\n{V['checkpoint_signed']}".encode()
    decision = add_checkpoint(
        WitnessState(witness.vkey(), {}),
        parse_add_checkpoint(body),
        [parse_vkey(V["log_vkey"])],
        witness,
        V["cosignature_timestamp"],
    )
    assert V["checkpoint_signed"] + decision.lines == V["checkpoint_cosigned"]
    assert decision.record.size == 8
    assert decision.record.root == base64.b64decode(V["checkpoint_body"].split("\n")[2])


def test_vector_consistency_proofs_from_every_size_to_8() -> None:
    witness = WitnessKey(
        V["witness_name"], SigningKey.generate(Algorithm.ED25519, bytes.fromhex(V["witness_seed_hex"]))
    )
    for case in V["consistency_to_8"]:
        state = WitnessState(
            witness.vkey(),
            {V["origin"]: WitnessRecord(V["origin"], case["size1"], base64.b64decode(case["root1"]), 0)},
        )
        proof = tuple(base64.b64decode(p) for p in case["proof"])
        request = AddCheckpoint(case["size1"], proof, V["checkpoint_signed"].encode())
        decision = add_checkpoint(state, request, [parse_vkey(V["log_vkey"])], witness, 1)
        assert decision.record.size == 8


def test_cosigns_honest_growth_and_the_cosignature_verifies() -> None:
    log = MemLog().grow(3)
    first = cosign(empty(), log, 0)
    state = empty().with_record(first.record)
    assert state.size_of(log.origin) == 3
    log.grow(4)
    second = cosign(state, log, 3, log.proof(3))
    assert (second.record.size, second.record.root, second.record.timestamp) == (7, log.root(), NOW)
    note = log.checkpoint() + second.lines.encode()
    opened = open_checkpoint(note, log.vkey, [witness_verifier(W)], required_cosignatures=1)
    assert [(c.name, c.timestamp) for c in opened.cosignatures] == [(W.name, NOW)]


def test_recosigns_the_same_checkpoint_with_old_equal_to_size() -> None:
    log = MemLog().grow(5)
    decision = cosign(witnessed(log), log, 5)
    assert decision.record.size == 5


def test_ignores_unknown_signature_lines_on_the_submitted_checkpoint() -> None:
    log = MemLog().grow(2)
    other = witness_key("other.example/w", "other")
    first = cosign(empty(), log, 0)
    decision = add_checkpoint(
        empty(), AddCheckpoint(0, (), log.checkpoint() + first.lines.encode()), [log.vkey], other, NOW
    )
    assert decision.record.size == 2


def test_request_round_trip() -> None:
    log = MemLog().grow(6)
    request = AddCheckpoint(4, log.proof(4), log.checkpoint())
    assert parse_add_checkpoint(request.encode()) == request
    assert request.encode().startswith(b"old 4\n")


def test_state_json_round_trip() -> None:
    log = MemLog().grow(3)
    state = witnessed(log)
    assert WitnessState.from_json(state.to_json()) == state


# --------------------------------------------------------------------------
# Refusals (one mutation each)


def test_unknown_origin_is_404() -> None:
    log = MemLog(origin="someone.else/log").grow(2)
    refused(
        UnknownLog,
        404,
        lambda: add_checkpoint(empty(), AddCheckpoint(0, (), log.checkpoint()), [MemLog().vkey], W, NOW),
    )


def test_tampered_log_signature_is_403() -> None:
    log = MemLog().grow(2)
    note = flip_signature_bit(log.checkpoint())
    refused(CheckpointSignatureRefused, 403, lambda: cosign(empty(), log, 0, note=note))


def test_checkpoint_signed_by_another_key_with_the_same_origin_is_403() -> None:
    log = MemLog().grow(2)
    impostor = MemLog(key_label="impostor").grow(2)
    refused(CheckpointSignatureRefused, 403, lambda: cosign(empty(), log, 0, note=impostor.checkpoint()))


def test_checkpoint_signed_only_by_a_witness_is_403() -> None:
    log = MemLog().grow(2)
    note = log.checkpoint()
    body = note[: note.rfind(b"\n\n") + 2]
    only_witness = body + cosign(empty(), log, 0).lines.encode()
    refused(CheckpointSignatureRefused, 403, lambda: cosign(empty(), log, 0, note=only_witness))


def test_stale_old_size_is_409_with_the_current_size() -> None:
    log = MemLog().grow(3)
    state = witnessed(log)
    log.grow(2)
    error = refused(StaleOldSize, 409, lambda: cosign(state, log, 0))
    assert error.current_size == 3  # type: ignore[attr-defined]
    error = refused(StaleOldSize, 409, lambda: cosign(state, log, 2, log.proof(2)))
    assert error.current_size == 3  # type: ignore[attr-defined]
    assert "retry with old 3" in error.message


def test_old_size_nonzero_for_a_never_cosigned_log_is_409_with_size_0() -> None:
    log = MemLog().grow(4)
    error = refused(StaleOldSize, 409, lambda: cosign(empty(), log, 2, log.proof(2)))
    assert error.current_size == 0  # type: ignore[attr-defined]


def test_rollback_to_a_smaller_checkpoint_is_refused() -> None:
    log = MemLog().grow(7)
    state = witnessed(log)
    smaller = log.checkpoint(5)
    error = refused(RollbackRefused, 409, lambda: cosign(state, log, 5, note=smaller))
    assert error.current_size == 7  # type: ignore[attr-defined]
    assert "rollback" in error.message


def test_old_size_larger_than_the_checkpoint_is_400() -> None:
    log = MemLog().grow(7)
    state = witnessed(log)
    refused(WitnessRequestMalformed, 400, lambda: cosign(state, log, 7, note=log.checkpoint(5)))


def test_same_size_different_root_is_a_fork_409() -> None:
    log = MemLog().grow(3)
    state = witnessed(log)
    forked = MemLog(tag="evil").grow(3)  # same origin and log key, other leaves
    error = refused(ForkRefused, 409, lambda: cosign(state, log, 3, note=forked.checkpoint()))
    assert error.current_size == 3  # type: ignore[attr-defined]


def test_forked_log_is_refused_with_422() -> None:
    """The log was forked after size 3: its own proof 5 → 8 cannot connect the cosigned root."""
    log = MemLog().grow(3)
    honest = log.fork("honest").grow(2)
    state = witnessed(honest)  # cosigned the honest branch at 5
    evil = log.fork("evil").grow(5)  # 8 entries, diverging after 3
    refused(ConsistencyRefused, 422, lambda: cosign(state, evil, 5, evil.proof(5)))


def test_tampered_proof_is_422() -> None:
    log = MemLog().grow(5)
    state = witnessed(log)
    log.grow(6)
    proof = list(log.proof(5))
    proof[0] = bytes([proof[0][0] ^ 1]) + proof[0][1:]
    refused(ConsistencyRefused, 422, lambda: cosign(state, log, 5, tuple(proof)))


def test_truncated_proof_is_422() -> None:
    log = MemLog().grow(5)
    state = witnessed(log)
    log.grow(6)
    refused(ConsistencyRefused, 422, lambda: cosign(state, log, 5, log.proof(5)[:-1]))


def test_empty_proof_for_growth_is_422() -> None:
    log = MemLog().grow(5)
    state = witnessed(log)
    log.grow(1)
    refused(ConsistencyRefused, 422, lambda: cosign(state, log, 5, ()))


def test_proof_with_old_size_zero_is_400() -> None:
    log = MemLog().grow(5)
    refused(WitnessRequestMalformed, 400, lambda: cosign(empty(), log, 0, log.proof(2)))


def test_nonempty_proof_for_equal_sizes_is_422() -> None:
    log = MemLog().grow(5)
    state = witnessed(log)
    refused(ConsistencyRefused, 422, lambda: cosign(state, log, 5, log.proof(2, 4)))


def test_refusal_leaves_the_state_alone() -> None:
    log = MemLog().grow(3)
    state = witnessed(log)
    before = state.to_json()
    log.grow(3)
    with pytest.raises(ConsistencyRefused):
        cosign(state, log, 3, ())
    assert state.to_json() == before


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("no_blank_line", b"old 0\nexample\n"),
        ("leading_zero", b"old 01\n\n"),
        ("negative", b"old -1\n\n"),
        ("wrong_keyword", b"new 3\n\n"),
        ("no_space", b"old3\n\n"),
        ("proof_not_base64", b"old 2\n!!!!\n\n"),
        ("proof_wrong_length", b"old 2\n" + base64.b64encode(b"x" * 31) + b"\n\n"),
        ("proof_non_canonical_base64", b"old 2\n" + base64.b64encode(b"x" * 32)[:-2] + b"x=\n\n"),
        (
            "too_many_proof_lines",
            b"old 2\n" + (base64.b64encode(b"x" * 32) + b"\n") * (MAX_PROOF_LINES + 1) + b"\n",
        ),
        ("non_ascii_head", "old 2\n\u00e9\n\n".encode()),
        ("size_too_big", b"old 18446744073709551616\n\n"),
    ],
)
def test_malformed_request_is_400(name: str, body: bytes) -> None:
    with pytest.raises(WitnessRequestMalformed) as info:
        parse_add_checkpoint(body + b"x\n")
    assert info.value.status == 400


def test_malformed_checkpoint_is_400() -> None:
    log = MemLog().grow(1)
    refused(WitnessRequestMalformed, 400, lambda: cosign(empty(), log, 0, note=b"not a checkpoint\n"))
    refused(WitnessRequestMalformed, 400, lambda: cosign(empty(), log, 0, note=b"\xff\xfe\n\n"))


def test_cosignature_time_out_of_range_is_refused() -> None:
    log = MemLog().grow(1)
    with pytest.raises(InvalidInput):
        add_checkpoint(empty(), AddCheckpoint(0, (), log.checkpoint()), [log.vkey], W, 2**63)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(v="kcl/witness-state/v0"),
        lambda d: d.update(witness=7),
        lambda d: d["logs"][next(iter(d["logs"]))].update(size=0),
        lambda d: d["logs"][next(iter(d["logs"]))].update(size=True),
        lambda d: d["logs"][next(iter(d["logs"]))].update(root="AAAA"),
        lambda d: d["logs"][next(iter(d["logs"]))].update(cosigned_at="now"),
        lambda d: d.update(logs=[]),
    ],
    ids=["version", "witness_type", "size_zero", "size_bool", "root_short", "time_type", "logs_type"],
)
def test_damaged_state_file_is_rejected(mutate) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(witnessed(MemLog().grow(2)).to_json())
    mutate(data)
    with pytest.raises(InvalidInput):
        WitnessState.from_json(json.dumps(data))
    with pytest.raises(InvalidInput):
        WitnessState.from_json("{not json")


def test_record_is_immutable() -> None:
    record = witnessed(MemLog().grow(2)).logs[MemLog().origin]
    assert replace(record, size=3).size == 3
    with pytest.raises(AttributeError):
        record.size = 9  # type: ignore[misc]
