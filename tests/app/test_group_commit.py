"""Group commit: several independent units in one append transaction.

The HTTP service gathers concurrent single-statement requests into one
transaction. Each unit must succeed or fail on its own, and a refused unit
must leave no trace in the state the later units are decided against.
"""

from __future__ import annotations

from app import queries
from app.logstore import AppendResult
from app.projections import compare_projections, replay
from app.services import custody
from app.services.custody import envelope_for
from app.services.verification import verify_ledger
from ledger.custody.ids import seal_id
from ledger.errors import MissingRole, ReplayedStatement, RuleViolation
from tests.helpers import LedgerFixture


def _seal_setup(ledger: LedgerFixture) -> tuple[str, str]:
    mfr = ledger.party("MFR-01", ["manufacturer"])
    custody.receive_seals(ledger.ctx, "MFR-01", mfr, series="KC", first=1, count=5, supplier="Seals GmbH")
    return seal_id("KC", 1), seal_id("KC", 2)


def test_units_are_decided_independently_and_refused_ones_leave_no_trace(ledger: LedgerFixture) -> None:
    s1, s2 = _seal_setup(ledger)
    ctx, mfr = ledger.ctx, ledger.keys["MFR-01"]
    ledger.party("WH-01", ["warehouse"])

    def issue(seal: str, to: str):  # type: ignore[no-untyped-def]
        return envelope_for(
            ctx,
            actor="MFR-01",
            keys=[mfr],
            kind="seal.issued",
            subject=f"seal:{seal}",
            data={"to": f"party:{to}"},
        )

    good = [issue(s1, "WH-01")]
    # Issues s2, then a statement that fails: the whole unit goes, s2 stays IN_STOCK.
    failing = [issue(s2, "WH-01"), issue(s1, "MFR-01")]
    depends_on_rollback = [issue(s2, "MFR-01")]
    replayed = good
    wrong_role = [
        envelope_for(
            ctx,
            actor="WH-01",
            keys=[ledger.keys["WH-01"]],
            kind="party.registered",
            subject="party:X-1",
            data={"name": "x"},
        )
    ]
    size_before = ctx.store.size()
    outcomes = ctx.writer().append_units([good, failing, depends_on_rollback, replayed, wrong_role])
    assert [type(o).__name__ for o in outcomes] == [
        "AppendResult",
        "RuleViolation",
        "AppendResult",
        "ReplayedStatement",
        "MissingRole",
    ]
    assert isinstance(outcomes[1], RuleViolation)
    assert outcomes[1].rule == "rule.seal_state"
    assert "statement 2 of 2" in outcomes[1].message
    assert isinstance(outcomes[3], ReplayedStatement)
    assert isinstance(outcomes[4], MissingRole)
    # Two entries, one checkpoint shared by both accepted units.
    assert ctx.store.size() == size_before + 2
    first, third = outcomes[0], outcomes[2]
    assert isinstance(first, AppendResult)
    assert isinstance(third, AppendResult)
    assert first.checkpoint == third.checkpoint
    assert first.size == size_before + 2
    assert [e.index for e in first.entries] == [size_before]
    assert [e.index for e in third.entries] == [size_before + 1]
    assert queries.seal(ctx.engine, s2).issued_to == "party:MFR-01"
    assert queries.seal(ctx.engine, s1).issued_to == "party:WH-01"
    assert compare_projections(ctx.engine, replay(ctx.store.entries())) == []
    assert verify_ledger(ctx, workers=1).valid


def test_a_group_where_every_unit_fails_writes_nothing(ledger: LedgerFixture) -> None:
    s1, _ = _seal_setup(ledger)
    ctx = ledger.ctx
    checkpoint = ctx.store.checkpoint()
    bad = envelope_for(
        ctx,
        actor="MFR-01",
        keys=[ledger.keys["MFR-01"]],
        kind="seal.retained",
        subject=f"seal:{s1}",
        data={"location": "location:X"},
    )
    outcomes = ctx.writer().append_units([[bad], [bad]])
    assert all(isinstance(o, RuleViolation) for o in outcomes)
    assert ctx.store.checkpoint() == checkpoint


def test_a_refused_trust_unit_does_not_leak_into_the_next(ledger: LedgerFixture) -> None:
    ctx = ledger.ctx
    register = ledger.register_envelope("P-1")
    # A unit that registers P-1 and then fails: P-1 must not count as registered afterwards.
    failing = [register, ledger.register_envelope("P-1")]
    again = [ledger.register_envelope("P-1")]
    outcomes = ctx.writer().append_units([failing, again])
    assert isinstance(outcomes[0], RuleViolation)
    assert outcomes[0].rule == "rule.party_unique"
    assert not isinstance(outcomes[1], Exception)
    assert "party:P-1" in ctx.store.trust_state().parties
    assert verify_ledger(ctx, workers=1).valid
