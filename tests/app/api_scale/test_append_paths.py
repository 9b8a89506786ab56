"""Receipts are built from the nodes an append kept in memory: they must equal the stored tree's.

The HTTP service answers every POST with an inclusion proof. It computes the
proof from the right edge of the tree before the batch and the nodes the
batch completed (``AppendResult.nodes``), with no database round trip; here
every such proof, over many tree sizes and group-commit shapes (including a
refused unit in the middle of a group), is compared with the proof the store
computes from its tables, and verified against the signed checkpoint.
"""

from __future__ import annotations

from app.services.receipts import receipts_for
from ledger.custody.ids import seal_id
from ledger.note import parse_vkey
from ledger.receipt import verify_receipt
from tests.helpers import LedgerFixture


def _seal(ledger: LedgerFixture, number: int):  # type: ignore[no-untyped-def]
    return ledger.statement(
        "seal.received",
        f"seal:{seal_id('KB', number)}",
        "WH-01",
        {"series": "KB", "first": number, "count": 1, "supplier": "Test seals"},
    )


def test_in_memory_proofs_match_the_store(ledger: LedgerFixture) -> None:
    ledger.party("WH-01", ["warehouse"])
    store = ledger.ctx.writer()
    state = store.trust_state()
    assert state.log_vkey is not None
    log_key = parse_vkey(state.log_vkey)
    number = 0
    checked = refused = 0
    # Unit shapes: single statements, small groups, a group with a refused unit.
    for shape in [[1], [1, 1], [3], [1, 2, 1], [5, 1, 1, 1], [1] * 9, [2, 0, 2], [13], [1, 1, 1, 1, 4], [31]]:
        units = []
        for count in shape:
            if count == 0:  # a replayed statement: refused, rolled back alone
                units.append([_seal(ledger, 0)])
                continue
            units.append([_seal(ledger, number + k) for k in range(count)])
            number += count
        outcomes = store.append_units(units)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                refused += 1
                continue
            assert outcome.nodes, "the append kept no nodes for receipts"
            for receipt in receipts_for(ledger.ctx, outcome):
                stored = store.inclusion_proof(receipt["index"], outcome.size)
                assert receipt["inclusion_proof"] == stored
                verify_receipt(receipt, log_key)
                checked += 1
    assert checked == number
    assert refused == 1


def test_units_taken_once_the_lock_is_held_join_the_transaction(ledger: LedgerFixture) -> None:
    """``append_units(more=…)``: late units share the commit; each is still decided on its own."""
    ledger.party("WH-01", ["warehouse"])
    store = ledger.ctx.writer()
    size = store.size()
    checkpoints = len(store.checkpoint_sizes())
    first = [[_seal(ledger, 1)], [_seal(ledger, 2), _seal(ledger, 3)]]
    replay = _seal(ledger, 1)  # the same seal again: refused by a guard rule
    late = [[_seal(ledger, 4)], [replay], [_seal(ledger, 5)]]
    calls = []

    def more():  # type: ignore[no-untyped-def]
        calls.append(store.size())  # called inside the transaction, before anything is written
        return late

    outcomes = store.append_units(first, more=more)
    assert calls == [size]
    assert len(outcomes) == 5
    assert isinstance(outcomes[3], Exception)
    results = [o for o in outcomes if not isinstance(o, Exception)]
    indices = [e.index for r in results for e in r.entries]
    assert indices == list(range(size, size + 5))
    # One transaction: one new checkpoint, shared by every admitted unit.
    assert len(store.checkpoint_sizes()) == checkpoints + 1
    assert {r.size for r in results} == {size + 5}
    assert len({r.checkpoint for r in results}) == 1
