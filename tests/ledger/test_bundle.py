"""ledger.bundle: member names, lines, inclusion proofs, partial logs, and the worker path.

The logs are the ones of tests/ledger/test_verify.py (built with real keys);
partial logs take some of their entries with inclusion proofs from a
:class:`~ledger.merkle.MemoryTree` over the whole log.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence

import pytest

from ledger import bundle
from ledger.bundle import BundleError, Line
from ledger.checkpoint import Checkpoint
from ledger.custody.ids import seal_id
from ledger.errors import Finding, VerificationFailed
from ledger.merkle import MemoryTree, hash_leaf
from ledger.statement import Statement
from ledger.verify import KeyCache, LogVerifier, PreparedEntry, prepare_entry
from tests.ledger.test_verify import (
    ADMIN,
    ADMIN_KEY,
    BASE,
    FULL_CHECKPOINT,
    LOG_VKEY,
    ORIGIN,
    TAMPERS,
    WH_KEY,
    LogBuilder,
    _extended,
)

SEAL = seal_id("KB", 1)

# --------------------------------------------------------------------------
# Members and lines


@pytest.mark.parametrize(
    "name",
    [
        "/checkpoint",
        "\\checkpoint",
        "C:checkpoint",
        "../entries.jsonl",
        "a/../entries.jsonl",
        "sub/entries.jsonl",
        "sub\\entries.jsonl",
        "",
        "entries.jsonl\x00",
        "line\nbreak",
    ],
    ids=[
        "absolute",
        "backslash-absolute",
        "drive",
        "parent",
        "inner-parent",
        "subdir",
        "backslash-dir",
        "empty",
        "nul",
        "control",
    ],
)
def test_hostile_member_names_are_named(name: str) -> None:
    assert bundle.member_problem(name) is not None
    with pytest.raises(BundleError) as caught:
        bundle.check_members(["log.vkey", "checkpoint", "entries.jsonl", name])
    assert caught.value.code == "input.bundle"


def test_members_decide_full_or_partial_and_nothing_else_is_allowed() -> None:
    assert bundle.member_problem("entries.jsonl") is None
    assert not bundle.check_members(["entries.jsonl", "checkpoint", "log.vkey"]).partial
    assert bundle.check_members(["log.vkey", "checkpoint", "entries.jsonl", "proofs.jsonl"]).partial
    for names, words in [
        (["log.vkey", "checkpoint", "entries.jsonl", "README"], "unexpected bundle member 'README'"),
        (["log.vkey", "checkpoint", "entries.jsonl", "checkpoint"], "appears twice"),
        (["log.vkey", "entries.jsonl"], "lacks checkpoint"),
        (["log.vkey", "checkpoint", "proofs.jsonl"], "lacks entries.jsonl"),
    ]:
        with pytest.raises(BundleError, match=words):
            bundle.check_members(names)


def test_log_vkey_is_one_line() -> None:
    assert bundle.read_vkey(LOG_VKEY.encode() + b"\n") == LOG_VKEY
    for bad in [
        LOG_VKEY.encode(),
        LOG_VKEY.encode() + b"\r\n",
        b"\n",
        LOG_VKEY.encode() + b"\n\n",
        b"\xff\n",
    ]:
        with pytest.raises(BundleError):
            bundle.read_vkey(bad)


def _lines(blocks: Sequence[bytes], limit: int = 8) -> list[tuple[int, bytes, str | None]]:
    return [(line.number, line.data, line.problem) for line in bundle.split_lines(blocks, limit)]


def test_lines_do_not_depend_on_how_the_bytes_arrive() -> None:
    data = b"alpha\nbeta\n\ngamma-is-too-long\nomega"
    expected = [
        (1, b"alpha", None),
        (2, b"beta", None),
        (3, b"", "line 3 is empty"),
        (4, b"", "line 4 is longer than 8 bytes"),
        (5, b"omega", "line 5 does not end in LF (truncated?)"),
    ]
    assert _lines([data]) == expected
    for cut in range(1, len(data)):
        assert _lines([data[:cut], data[cut:]]) == expected, cut
    assert _lines([bytes([b]) for b in data]) == expected
    assert _lines([b"a\n", b"", b"b\n"]) == [(1, b"a", None), (2, b"b", None)]
    assert _lines([b"0123456789"]) == [(1, b"", "line 1 is longer than 8 bytes")]
    assert _lines([]) == []
    assert isinstance(next(iter(bundle.split_lines([b"x\n"], 8))), Line)


# --------------------------------------------------------------------------
# Inclusion proofs


TREE = MemoryTree(hash_leaf(raw) for raw in BASE.entries)


def _proof(index: int, tree: MemoryTree = TREE, size: int | None = None) -> dict[str, object]:
    size = tree.size if size is None else size
    return {
        "index": index,
        "size": size,
        "leaf_hash": tree.fetch([(0, index)])[(0, index)].hex(),
        "root": tree.root(size).hex(),
        "proof": [p.hex() for p in tree.inclusion_proof(index, size)],
    }


def _line(proof: dict[str, object]) -> bytes:
    return bundle.proof_line_bytes(proof)[:-1]


def _codes(findings: list[Finding]) -> list[tuple[int | None, str]]:
    return [(f.index, f.code) for f in findings]


def test_a_good_proof_has_no_findings_and_names_its_index() -> None:
    leaf = hash_leaf(BASE.entries[5])
    assert bundle.check_proof(_line(_proof(5)), 5, leaf, FULL_CHECKPOINT) == (5, [])
    # One line per proof, canonical JSON, ends in LF.
    assert bundle.proof_line_bytes(_proof(5)).count(b"\n") == 1
    assert bundle.parse_proof_line(_line(_proof(5))).path == tuple(TREE.inclusion_proof(5))


@pytest.mark.parametrize(
    ("change", "codes"),
    [
        ({"index": 4}, ["proof.index", "proof.leaf_hash", "proof.inclusion"]),
        ({"leaf_hash": "00" * 32}, ["proof.leaf_hash"]),
        ({"size": 7}, ["proof.size"]),
        ({"root": "11" * 32}, ["proof.root"]),
        ({"proof": []}, ["proof.inclusion"]),
        ({"proof": ["22" * 32] * 3}, ["proof.inclusion"]),
    ],
    ids=["other-index", "other-leaf", "other-size", "other-root", "short-path", "wrong-path"],
)
def test_a_wrong_proof_is_reported_at_the_entry(change: dict[str, object], codes: list[str]) -> None:
    proof = {**_proof(5), **change}
    if change.get("index") == 4:
        proof = {**_proof(4)}
    _, findings = bundle.check_proof(_line(proof), 5, hash_leaf(BASE.entries[5]), FULL_CHECKPOINT)
    assert sorted(f.code for f in findings) == sorted(codes)
    assert {f.index for f in findings} == {5}


@pytest.mark.parametrize(
    "line",
    [
        b"{",
        b"[]",
        b'{"index":1}',
        b'{"index":-1,"size":8,"leaf_hash":"00","root":"00","proof":[]}',
        b'{"index":1.0,"size":8,"leaf_hash":"00","root":"00","proof":[]}',
    ],
    ids=["json", "array", "fields", "negative", "float"],
)
def test_an_unreadable_proof_is_a_finding_not_a_crash(line: bytes) -> None:
    index, findings = bundle.check_proof(line, 5, hash_leaf(BASE.entries[5]), FULL_CHECKPOINT)
    assert index is None
    assert _codes(findings) == [(5, "proof.malformed")]


def test_an_entry_without_a_proof_is_reported() -> None:
    assert _codes(bundle.check_proof(None, 3, b"\0" * 32, FULL_CHECKPOINT)[1]) == [(3, "proof.missing")]


# --------------------------------------------------------------------------
# Partial logs

#: The base log plus a warehouse's seal receipt (signed with WH-01's key from entry 2).
WITH_RECEIPT = _extended(
    (
        "seal.received",
        f"seal:{SEAL}",
        "party:WH-01",
        {"series": "KB", "first": 1, "count": 3, "supplier": "Siegel GmbH"},
        [WH_KEY],
    )
)
RECEIPT_TREE = MemoryTree(hash_leaf(raw) for raw in WITH_RECEIPT.entries)
RECEIPT_CHECKPOINT = WITH_RECEIPT.checkpoint()
#: Genesis, WH-01's chain (registered, key added, auditor role), the receipt.
PARTIAL = [0, 1, 2, 5, 8]


def _partial(
    log: LogBuilder,
    indices: Sequence[int],
    *,
    tree: MemoryTree | None = None,
    checkpoint: Checkpoint | None = None,
    proofs: dict[int, bytes | None] | None = None,
    workers: bool = False,
) -> list[Finding]:
    """Verify ``indices`` of ``log`` as a partial bundle; return the findings (empty if valid)."""
    tree = tree or MemoryTree(hash_leaf(raw) for raw in log.entries)
    checkpoint = checkpoint or log.checkpoint()
    verifier = LogVerifier(checkpoint=checkpoint, log_vkey=LOG_VKEY, partial=True)
    keys: KeyCache | None = {} if workers else None
    for index in indices:
        line = (proofs or {}).get(index, _line(_proof(index, tree)))
        prepared = bundle.prepare_bundle_entry(log.entries[index], line, checkpoint, partial=True, keys=keys)
        if workers:
            prepared = bundle.from_wire(pickle.loads(pickle.dumps(bundle.to_wire(prepared))))
        verifier.feed_prepared(prepared)
    try:
        summary = verifier.finish()
    except VerificationFailed as failed:
        return failed.findings
    assert summary.size == len(indices)
    assert summary.root == checkpoint.root
    return []


@pytest.mark.parametrize("workers", [False, True], ids=["inline", "wire"])
def test_a_partial_log_with_everything_it_needs_verifies(workers: bool) -> None:
    assert _partial(WITH_RECEIPT, PARTIAL, workers=workers) == []
    assert _partial(BASE, [0, 3, 4, 7]) == []  # CARRIER-01's chain


def test_a_partial_log_without_the_signers_key_is_reported_not_crashed() -> None:
    findings = _partial(WITH_RECEIPT, [0, 1, 5, 8])
    assert _codes(findings) == [(5, "chain.prev"), (8, "auth.key_unknown")]
    chain, key = findings
    assert (chain.expected, chain.found) == (
        hash_leaf(WITH_RECEIPT.entries[1]).hex(),
        RECEIPT_TREE.fetch([(0, 2)])[(0, 2)].hex(),
    )
    assert "an entry it depends on is missing" in key.message


def test_a_partial_log_without_genesis_says_so() -> None:
    findings = _partial(WITH_RECEIPT, [1, 2, 5, 8])
    assert (1, "bundle.incomplete") in _codes(findings)
    assert (1, "rule.genesis_first") in _codes(findings)


def test_partial_indices_must_ascend_and_every_entry_needs_its_proof() -> None:
    assert _codes(_partial(WITH_RECEIPT, [0, 1, 2, 2, 5, 8])) == [
        (2, "entry.index"),
        (2, "chain.prev"),
        (2, "statement.replayed"),
        (2, "rule.key_unique"),
    ]
    findings = _partial(WITH_RECEIPT, PARTIAL, proofs={5: None})
    assert _codes(findings) == [(5, "proof.missing")]


def test_a_partial_log_entry_changed_after_export_fails_its_proof() -> None:
    log = LogBuilder(list(WITH_RECEIPT.entries), WITH_RECEIPT.heads, WITH_RECEIPT.subjects)
    log.entries[5] = log.entries[5].replace(b'.000Z"', b'.001Z"')
    assert log.entries[5] != WITH_RECEIPT.entries[5]
    findings = _partial(log, PARTIAL, tree=RECEIPT_TREE, checkpoint=RECEIPT_CHECKPOINT)
    assert _codes(findings) == [(5, "proof.leaf_hash"), (5, "proof.inclusion")]


def test_earlier_checkpoints_need_the_whole_log() -> None:
    with pytest.raises(ValueError, match="whole log"):
        LogVerifier(partial=True, earlier_checkpoints=[FULL_CHECKPOINT])


# --------------------------------------------------------------------------
# The worker path gives exactly the findings of the plain one


def _findings_plain(entries: list[bytes], checkpoint: Checkpoint) -> list[dict[str, object]]:
    verifier = LogVerifier(checkpoint=checkpoint, log_vkey=LOG_VKEY)
    verifier.feed_all(entries)
    with pytest.raises(VerificationFailed) as caught:
        verifier.finish()
    return [f.as_dict() for f in caught.value.findings]


def _findings_prepared(entries: list[bytes], checkpoint: Checkpoint) -> list[dict[str, object]]:
    verifier = LogVerifier(checkpoint=checkpoint, log_vkey=LOG_VKEY)
    keys: KeyCache = {}
    for raw in entries:
        prepared = bundle.prepare_bundle_entry(raw, None, checkpoint, partial=False, keys=keys)
        verifier.feed_prepared(bundle.from_wire(pickle.loads(pickle.dumps(bundle.to_wire(prepared)))))
    with pytest.raises(VerificationFailed) as caught:
        verifier.finish()
    return [f.as_dict() for f in caught.value.findings]


@pytest.mark.parametrize("tamper", TAMPERS.keys())
def test_reading_in_workers_reports_what_the_plain_verifier_reports(tamper: str) -> None:
    make, checkpoint, _ = TAMPERS[tamper]
    entries = make()

    def key(finding: dict[str, object]) -> tuple[str, ...]:
        return tuple(str(finding[k]) for k in ("index", "code", "message", "expected", "found"))

    assert sorted(_findings_prepared(entries, checkpoint), key=key) == sorted(
        _findings_plain(entries, checkpoint), key=key
    )


def test_prepare_checks_schema_and_signatures_by_known_keys() -> None:
    keys: KeyCache = {}
    genesis = prepare_entry(BASE.entries[0], validate=True, keys=keys)
    assert genesis.validated
    assert genesis.rejected is None
    # Genesis declares the admin key, which signed genesis itself.
    assert genesis.signatures == {ADMIN_KEY.keyid: True}
    key_added = prepare_entry(BASE.entries[2], validate=True, keys=keys)
    assert WH_KEY.keyid in keys
    assert key_added.signatures == {ADMIN_KEY.keyid: True}
    unknown = prepare_entry(WITH_RECEIPT.entries[8], validate=True, keys={})
    assert unknown.signatures == {}
    plain = prepare_entry(BASE.entries[1])
    assert plain.signatures is None
    assert not plain.validated
    broken = prepare_entry(BASE.entries[1][:-1])
    assert broken.statement is None
    assert broken.error is not None
    assert broken.error[0] == "input.json.malformed"


def test_a_prepared_entry_travels_as_plain_tuples() -> None:
    prepared = bundle.prepare_bundle_entry(
        WITH_RECEIPT.entries[8], _line(_proof(8, RECEIPT_TREE)), RECEIPT_CHECKPOINT, partial=True, keys={}
    )
    back = bundle.from_wire(pickle.loads(pickle.dumps(bundle.to_wire(prepared))))
    assert isinstance(back, PreparedEntry)
    for name in PreparedEntry.__slots__:
        assert getattr(back, name) == getattr(prepared, name), name
    assert back.envelope is not None
    assert prepared.envelope is not None
    assert back.envelope.signed_bytes == prepared.envelope.signed_bytes
    unreadable = bundle.prepare_bundle_entry(b"{", None, RECEIPT_CHECKPOINT, partial=True)
    assert bundle.from_wire(bundle.to_wire(unreadable)) == unreadable


# --------------------------------------------------------------------------
# What a partial export must carry


def _statement(kind: str, subject: str, by: str, data: dict[str, object]) -> Statement:
    return Statement(kind, subject, "2026-11-28T10:00:00Z", by, data, "A" * 22)


def test_the_parties_a_statement_needs() -> None:
    transfer = _statement(
        "custody.transferred",
        "connector:SECUNET:1",
        "party:WH-01",
        {"to": "party:CARRIER-01", "seals": [SEAL]},
    )
    assert bundle.needed_parties(transfer) == {"party:WH-01", "party:CARRIER-01"}
    installed = _statement(
        "installed",
        "connector:SECUNET:1",
        "party:TECH-01",
        {"override": {"reason": "x", "auditor": "party:AUDIT-01"}, "practice": "ab" * 32},
    )
    assert bundle.needed_parties(installed) == {"party:TECH-01", "party:AUDIT-01"}
    odd = _statement("x", "party:A", ADMIN, {"list": ["party:B", "party:not valid", 3], "note": "party"})
    assert bundle.needed_parties(odd) == {ADMIN, "party:B"}


def test_the_seals_a_connector_entry_carries() -> None:
    applied = _statement("seal.applied", "connector:SECUNET:1", "party:MFR-01", {"seals": [SEAL, 3]})
    assert bundle.carried_seals(applied) == {SEAL}
    inspected = _statement("seal.inspected", "connector:SECUNET:1", "party:WH-01", {"expected": [SEAL]})
    assert bundle.carried_seals(inspected) == set()
    assert (
        bundle.carried_seals(_statement("seal.applied", f"seal:{SEAL}", "party:X", {"seals": [SEAL]}))
        == set()
    )


def test_origin_of_the_example_log() -> None:
    # The partial-log tests above rely on these being the logs of test_verify.
    assert BASE.checkpoint().origin == ORIGIN
    assert RECEIPT_CHECKPOINT.size == len(WITH_RECEIPT.entries) == 9
