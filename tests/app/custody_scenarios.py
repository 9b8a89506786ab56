"""A reusable custody world for rule tests: parties, seals and connectors at any lifecycle point.

:class:`World` registers a manufacturer, a warehouse, a carrier, two field
technicians and an auditor on a test ledger and hands out connectors
(:class:`Unit`) driven through the lifecycle with the real use cases of
:mod:`app.services.custody` and :mod:`app.services.handover`, stopping at any
named milestone::

    world = World(sqlite_ledger)
    unit = world.unit("INSPECTED")          # received at the practice, seal check done on site
    custody.install(world.ctx, TECH, world.key(TECH), unit.subject, ...)

Milestones are connector states where the state names the point uniquely,
plus a few in-between points (who holds the unit, whether the on-site seal
check is done). ``world.unit("SUSPECT" | "QUARANTINED" | "LOST", base=...)``
first drives the unit to ``base`` and then raises the incident / quarantine /
loss there.

:func:`expect_violation` asserts a rejection with exactly one rule id and that
nothing was appended: log size, latest checkpoint, every projection row and
the handover offers are unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app import queries
from app.logstore import AppendResult, LogStore
from app.projections import CustodyProjection
from app.services import custody, handover
from app.services.context import LedgerContext
from app.services.practices import add_practice
from app.tables import CONNECTORS, HANDOVER_OFFERS, INCIDENTS, PARTIES, PARTY_KEYS, PROJECTION_META, SEALS
from ledger.custody.ids import seal_id
from ledger.custody.records import ConnectorRecord, SealRecord
from ledger.entry import Entry
from ledger.envelope import Envelope
from ledger.errors import LedgerError, RuleViolation
from ledger.keys import SigningKey
from ledger.merkle import hash_leaf
from ledger.state import LedgerState, admit, apply
from ledger.statement import Statement
from ledger.times import format_timestamp
from tests.helpers import LedgerFixture, SteppingClock

# Parties (ids without the ``party:`` prefix, as the services take them).
MFR = "MFR-SECUNET"
WH = "WH-ESSEN-01"
CAR = "CARRIER-01"
TECH = "TECH-01"
TECH2 = "TECH-02"
AUD = "AUDIT-01"
ROLES: dict[str, list[str]] = {
    MFR: ["manufacturer"],
    WH: ["warehouse"],
    CAR: ["carrier"],
    TECH: ["technician"],
    TECH2: ["technician"],
    AUD: ["auditor"],
}

# Places.
FACTORY = "FACTORY-BERLIN"
WAREHOUSE = "WH-ESSEN-01"
PRACTICE = "PRAXIS-ESSEN-0001"
PRACTICE2 = "PRAXIS-BOCHUM-0002"

VENDOR = "SECUNET"
#: Default gSMC-K expiry: far beyond the four years rule 4 asks for (the test clock starts 2026-11-28).
FAR_FUTURE = "2036-06-30T00:00:00Z"

LIFECYCLE = (
    "PRODUCED",  # commissioned by the manufacturer
    "PERSONALISED",  # gSMC-K bound
    "SEALED",  # seals issued to and applied by the manufacturer
    "AT_WAREHOUSE",  # handover manufacturer → warehouse (still SEALED)
    "IN_STOCK",  # stored at the warehouse
    "IN_TRANSIT",  # shipped by the warehouse (custodian still the warehouse)
    "WITH_CARRIER",  # handover warehouse → carrier
    "AT_TECHNICIAN",  # handover carrier → technician (still IN_TRANSIT)
    "RECEIVED",  # received at the practice, seals as shipped
    "INSPECTED",  # conformant on-site seal check by the technician (still RECEIVED)
    "INSTALLED",
    "IN_OPERATION",  # TI registration
    "DEREGISTERED",
    "REMOVED",
    "RETURN_TRANSIT",  # returned.shipped by the technician
    "RETURN_AT_WAREHOUSE",  # handover technician → warehouse
    "RETURNED",  # received back at the warehouse
    "DECOMMISSIONED",
    "DESTROYED",  # witnessed by the auditor
)
SIDE_STATES = ("SUSPECT", "QUARANTINED", "LOST")


@dataclass
class Unit:
    """A connector of the world and how far it has come."""

    world: World
    subject: str
    iccsns: list[str]
    not_after: str = FAR_FUTURE
    seals: list[str] = field(default_factory=list)
    milestone: str | None = None
    incident: str | None = None

    @property
    def serial(self) -> str:
        return self.subject.rsplit(":", 1)[1]

    @property
    def record(self) -> ConnectorRecord:
        return queries.connector(self.world.ctx.engine, self.subject)

    @property
    def state(self) -> str:
        return self.record.state

    @property
    def next_milestone(self) -> str | None:
        position = -1 if self.milestone is None else LIFECYCLE.index(self.milestone)
        return LIFECYCLE[position + 1] if position + 1 < len(LIFECYCLE) else None

    def advance(self, until: str) -> Unit:
        """Drive the unit along :data:`LIFECYCLE` up to and including ``until``."""
        target = LIFECYCLE.index(until)
        position = -1 if self.milestone is None else LIFECYCLE.index(self.milestone)
        if position > target:
            raise ValueError(f"{self.subject} is already past {until} (at {self.milestone})")
        for step in LIFECYCLE[position + 1 : target + 1]:
            getattr(self.world, f"_step_{step.lower()}")(self)
            self.milestone = step
        return self

    # Side exits -------------------------------------------------------------

    def report_incident(self, by: str = TECH, category: str = "tamper_suspected") -> AppendResult:
        """An incident (its id, INC-<index>, is kept in :attr:`incident`)."""
        result = self.world.connector_statement(
            by, "incident.reported", self, {"category": category, "description": "housing looks tampered"}
        )
        self.incident = f"INC-{result.entries[0].index}"
        return result

    def quarantine(self, by: str = WH) -> AppendResult:
        assert self.incident is not None
        return self.world.connector_statement(by, "quarantined", self, {"incident": self.incident})

    def release(self, by: str = AUD) -> AppendResult:
        assert self.incident is not None
        return self.world.connector_statement(
            by,
            "quarantine.released",
            self,
            {
                "incident": self.incident,
                "investigation": "housing inspected, seals intact, no tampering",
                "outcome": "cleared",
            },
        )

    def lose(self, by: str = CAR) -> AppendResult:
        return self.world.connector_statement(by, "lost", self, {"circumstances": "parcel never arrived"})


# --------------------------------------------------------------------------
# Remembering what was asked of the log, to re-decide it on replay.


@dataclass(frozen=True)
class AppendAttempt:
    """One call of ``LogStore.append``: the batch, the log size then, and what came of it."""

    size: int
    envelopes: tuple[Envelope, ...]
    result: AppendResult | None
    error: LedgerError | None
    #: The log size right after the call (equal to ``size`` after a rejection).
    size_after: int


class RecordingLogStore(LogStore):
    """The real log store; it also remembers every batch it was asked to append and the outcome."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attempts: list[AppendAttempt] = []

    def append(self, envelopes: Sequence[Envelope], now: datetime | None = None) -> AppendResult:
        size = self.size()
        try:
            result = super().append(envelopes, now)
        except LedgerError as exc:
            self.attempts.append(AppendAttempt(size, tuple(envelopes), None, exc, self.size()))
            raise
        self.attempts.append(AppendAttempt(size, tuple(envelopes), result, None, self.size()))
        return result


def install_recorder(ctx: LedgerContext) -> RecordingLogStore:
    """Make ``ctx`` append through a :class:`RecordingLogStore` on the same database."""
    if isinstance(ctx._store, RecordingLogStore):
        return ctx._store
    store = RecordingLogStore(ctx.engine, projections=[CustodyProjection()], clock=ctx.clock)
    ctx._store = store
    ctx._signer_loaded = False
    return store


def state_after(entries: Iterable[bytes]) -> LedgerState:
    """The verifier's state after replaying stored entries (each must still be admitted)."""
    state = LedgerState()
    for raw in entries:
        entry = Entry.parse(raw)
        ctx = admit(
            state, entry.index, entry.envelope, entry.statement, entry.recorded_at, check_crypto=False
        )
        apply(state, ctx, hash_leaf(raw))
    return state


def readmit(
    state: LedgerState, size: int, envelopes: Sequence[Envelope], recorded_at: str
) -> tuple[int, LedgerError] | None:
    """Admit a batch at log size ``size`` as the store does; return (position, error) of its rejection.

    ``state`` is moved past the statements admitted before the rejected one.
    """
    for position, envelope in enumerate(envelopes):
        try:
            statement = Statement.from_bytes(envelope.payload)
            ctx = admit(state, size + position, envelope, statement, recorded_at)
        except LedgerError as exc:
            return position, exc
        # Stand-in leaf hash: the batch never became entries.
        apply(state, ctx, hash_leaf(envelope.payload))
    return None


def recheck_rejection(ctx: LedgerContext, attempt: AppendAttempt) -> None:
    """The verifier's replay rejects a batch the store rejected: same statement, same code and rule."""
    assert attempt.error is not None
    entries = list(ctx.store.entries(0, attempt.size))
    recorded_at = Entry.parse(entries[-1]).recorded_at
    verdict = readmit(state_after(entries), attempt.size, attempt.envelopes, recorded_at)
    assert verdict is not None, f"replay admits the batch the store rejected with {attempt.error}"
    position, error = verdict
    assert position == getattr(attempt.error, "batch_position", 0)
    assert error.code == attempt.error.code, (error, attempt.error)
    assert getattr(error, "rule", None) == getattr(attempt.error, "rule", None), (error, attempt.error)


class World:
    """Parties with keys, a practice, a seal supply and a connector factory on one ledger."""

    def __init__(self, lf: LedgerFixture) -> None:
        self.lf = lf
        self.ctx: LedgerContext = lf.ctx
        self.recorder = install_recorder(self.ctx)
        for party, roles in ROLES.items():
            if party not in lf.keys:
                lf.party(party, roles)
        self.practice = add_practice(
            self.ctx, PRACTICE, name="Praxis Dr. Beispiel", bsnr="123456789", telematik_id="1-2.58.00000001"
        )
        self.practice2 = add_practice(
            self.ctx, PRACTICE2, name="Praxis Dr. Muster", bsnr="987654321", telematik_id="1-2.58.00000002"
        )
        self._serials = itertools.count(1)
        self._seal_numbers = itertools.count(1)
        self._iccsns = itertools.count(1)

    # Basics -------------------------------------------------------------------

    def key(self, party: str) -> SigningKey:
        return self.lf.keys[party]

    @property
    def clock(self) -> SteppingClock:
        clock = self.ctx.clock
        assert isinstance(clock, SteppingClock)
        return clock

    def now(self) -> datetime:
        """The next reading of the test clock, without consuming it."""
        return self.clock.now

    def size(self) -> int:
        return self.ctx.store.size()

    def seal(self, seal: str) -> SealRecord:
        return queries.seal(self.ctx.engine, seal)

    def connector_statement(
        self,
        actor: str,
        kind: str,
        unit: Unit | str,
        data: dict[str, Any],
        *,
        place: str | None = None,
        cosigners: Sequence[str] = (),
    ) -> AppendResult:
        """Any connector statement through :func:`app.services.custody.connector_statement`."""
        subject = unit.subject if isinstance(unit, Unit) else unit
        return custody.connector_statement(
            self.ctx,
            actor,
            self.key(actor),
            kind,
            subject,
            data,
            place=place,
            cosigners=[self.key(c) for c in cosigners],
        )

    # Seals ----------------------------------------------------------------------

    def next_seal_ids(self, count: int, series: str = "KC") -> list[str]:
        """Ids of a batch that is not on the ledger yet (without receiving it)."""
        first = next(self._seal_numbers)
        for _ in range(count - 1):
            next(self._seal_numbers)
        return [seal_id(series, n) for n in range(first, first + count)]

    def stock_seals(self, count: int, holder: str = MFR) -> list[str]:
        """Receive a fresh batch of seals into ``holder``'s stock (status IN_STOCK)."""
        ids = self.next_seal_ids(count)
        custody.receive_seals(
            self.ctx,
            holder,
            self.key(holder),
            series=ids[0][:2],
            first=int(ids[0][2:9]),
            count=count,
            supplier="Plombenwerk GmbH",
            lot="L-2026-11",
        )
        return ids

    def issued_seals(self, count: int, to: str, holder: str = MFR) -> list[str]:
        """Fresh seals received by ``holder`` and issued to the named person ``to``."""
        ids = self.stock_seals(count, holder)
        custody.issue_seals(self.ctx, holder, self.key(holder), ids, to)
        return ids

    # Connectors -----------------------------------------------------------------

    def new_unit(self, *, not_after: str = FAR_FUTURE, cards: int = 2) -> Unit:
        """A connector that is not on the ledger yet (no statement recorded)."""
        serial = f"SN{next(self._serials):08d}"
        iccsns = [f"80276883110000{next(self._iccsns):06d}" for _ in range(cards)]
        return Unit(self, f"connector:{VENDOR}:{serial}", iccsns, not_after)

    def smck_for(self, unit: Unit) -> list[tuple[str, str]]:
        """Card expiries: the first card at ``not_after``, every further card a year later."""
        year = int(unit.not_after[:4])
        return [(iccsn, f"{year + i:04d}{unit.not_after[4:]}") for i, iccsn in enumerate(unit.iccsns)]

    def unit(
        self,
        until: str = "IN_OPERATION",
        *,
        base: str | None = None,
        not_after: str = FAR_FUTURE,
        cards: int = 2,
    ) -> Unit:
        """A new connector driven to ``until`` (a :data:`LIFECYCLE` milestone or a side state)."""
        unit = self.new_unit(not_after=not_after, cards=cards)
        if until in SIDE_STATES:
            unit.advance(base or "IN_STOCK")
            if until == "LOST":
                unit.lose(by=unit.record.custodian.partition(":")[2])
            else:
                unit.report_incident(by=WH if base in (None, "IN_STOCK") else TECH)
                if until == "QUARANTINED":
                    unit.quarantine()
            assert unit.state == until, (unit.state, until)
            return unit
        unit.advance(until)
        return unit

    def hand_over(self, unit: Unit | Sequence[Unit], releaser: str, receiver: str) -> AppendResult:
        """Two-party handover through an offer the receiver accepts."""
        units = [unit] if isinstance(unit, Unit) else list(unit)
        offer = handover.create_offer(
            self.ctx, releaser, self.key(releaser), [u.subject for u in units], receiver, delivery_note="LS-1"
        )
        return handover.accept_offer(self.ctx, receiver, self.key(receiver), offer.offer_id)

    def inspect(
        self,
        unit: Unit,
        by: str = TECH,
        place: str = PRACTICE,
        observed: Sequence[str] | None = None,
        results: dict[str, str] | None = None,
    ) -> str:
        """A seal check; returns its nonce (what ``installed.seal_check`` references)."""
        result, _ = custody.inspect_seals(
            self.ctx,
            by,
            self.key(by),
            unit.subject,
            list(unit.seals if observed is None else observed),
            place=place,
            results=results,
        )
        return result.entries[0].statement.nonce

    def install(self, unit: Unit, by: str = TECH, place: str = PRACTICE, **kwargs: Any) -> AppendResult:
        digest = self.practice if place == PRACTICE else self.practice2
        return custody.install(
            self.ctx, by, self.key(by), unit.subject, practice_digest=digest, place=place, **kwargs
        )

    # The lifecycle steps (one per milestone) --------------------------------------

    def commission(self, unit: Unit) -> AppendResult:
        return custody.commission(
            self.ctx,
            MFR,
            self.key(MFR),
            vendor=VENDOR,
            serial=unit.serial,
            product_code="KOCOC-3.0",
            hw_version="3.0.1",
            fw_version="5.1.2",
            production_date="2026-10-01",
            smck=self.smck_for(unit),
            certification_id="BSI-K-TR-0999-2026",
            place=FACTORY,
        )

    def _step_produced(self, unit: Unit) -> None:
        self.commission(unit)

    def _step_personalised(self, unit: Unit) -> None:
        custody.bind_smck(self.ctx, MFR, self.key(MFR), unit.subject, FACTORY)

    def _step_sealed(self, unit: Unit) -> None:
        seals = self.issued_seals(2, to=MFR)
        custody.apply_seals(self.ctx, MFR, self.key(MFR), unit.subject, seals)
        unit.seals = sorted(seals)

    def _step_at_warehouse(self, unit: Unit) -> None:
        self.hand_over(unit, MFR, WH)

    def _step_in_stock(self, unit: Unit) -> None:
        custody.store(self.ctx, WH, self.key(WH), unit.subject, WAREHOUSE, "A-01-03")

    def _step_in_transit(self, unit: Unit) -> None:
        custody.ship(
            self.ctx, WH, self.key(WH), [unit.subject], destination=PRACTICE, to=CAR, delivery_note="LS-4711"
        )

    def _step_with_carrier(self, unit: Unit) -> None:
        self.hand_over(unit, WH, CAR)

    def _step_at_technician(self, unit: Unit) -> None:
        self.hand_over(unit, CAR, TECH)

    def _step_received(self, unit: Unit) -> None:
        custody.receive(self.ctx, TECH, self.key(TECH), unit.subject, unit.seals, place=PRACTICE)

    def _step_inspected(self, unit: Unit) -> None:
        self.inspect(unit)

    def _step_installed(self, unit: Unit) -> None:
        self.install(unit)

    def _step_in_operation(self, unit: Unit) -> None:
        custody.register_ti(self.ctx, TECH, self.key(TECH), unit.subject)

    def _step_deregistered(self, unit: Unit) -> None:
        self.connector_statement(TECH, "deregistered", unit, {"reason": "exchange for a newer model"})

    def _step_removed(self, unit: Unit) -> None:
        self.connector_statement(TECH, "removed", unit, {"reason": "exchange for a newer model"})

    def _step_return_transit(self, unit: Unit) -> None:
        custody.ship(
            self.ctx,
            TECH,
            self.key(TECH),
            [unit.subject],
            destination=WAREHOUSE,
            to=WH,
            delivery_note="RS-0815",
            kind="returned.shipped",
        )

    def _step_return_at_warehouse(self, unit: Unit) -> None:
        self.hand_over(unit, TECH, WH)

    def _step_returned(self, unit: Unit) -> None:
        custody.receive(self.ctx, WH, self.key(WH), unit.subject, unit.seals, place=WAREHOUSE)

    def _step_decommissioned(self, unit: Unit) -> None:
        self.connector_statement(WH, "decommissioned", unit, {"reason": "end of life"})

    def _step_destroyed(self, unit: Unit) -> None:
        custody.destroy(
            self.ctx,
            WH,
            self.key(WH),
            unit.subject,
            method="shredded",
            witness=AUD,
            witness_key=self.key(AUD),
        )


# --------------------------------------------------------------------------
# "Nothing was appended".

_SNAPSHOT_TABLES = (
    (CONNECTORS, CONNECTORS.c.subject),
    (SEALS, SEALS.c.seal_id),
    (INCIDENTS, INCIDENTS.c.incident_id),
    (PARTIES, PARTIES.c.subject),
    (PARTY_KEYS, PARTY_KEYS.c.keyid),
    (PROJECTION_META, PROJECTION_META.c.name),
    (HANDOVER_OFFERS, HANDOVER_OFFERS.c.offer_id),
)


def snapshot(ctx: LedgerContext) -> dict[str, Any]:
    """Log size, latest checkpoint and every projection (and offer) row."""
    state: dict[str, Any] = {"size": ctx.store.size(), "checkpoint": ctx.store.latest_checkpoint()}
    with ctx.engine.connect() as conn:
        for table, key in _SNAPSHOT_TABLES:
            state[table.name] = [dict(r._mapping) for r in conn.execute(select(table).order_by(key))]
    return state


def expect_violation(ctx: LedgerContext, rule: str, action: Callable[[], object]) -> RuleViolation:
    """``action`` raises RuleViolation with exactly ``rule`` and leaves the ledger untouched.

    If the rejection came from the log (not from a service's early check),
    replaying the log and admitting the same batch must reject it the same way.
    """
    store = ctx.store
    attempts = len(store.attempts) if isinstance(store, RecordingLogStore) else 0
    before = snapshot(ctx)
    with pytest.raises(RuleViolation) as info:
        action()
    assert info.value.rule == rule, f"expected {rule}, got {info.value.rule}: {info.value}"
    assert snapshot(ctx) == before, "a rejected statement changed the ledger"
    if isinstance(store, RecordingLogStore) and len(store.attempts) > attempts:
        attempt = store.attempts[-1]
        assert attempt.error is info.value
        recheck_rejection(ctx, attempt)
    return info.value


def expect_appended(ctx: LedgerContext, action: Callable[[], object]) -> Any:
    """``action`` appends: the log grows by exactly the entries it reports."""
    size = ctx.store.size()
    result = action()
    appended = result[-1] if isinstance(result, tuple) else result
    assert isinstance(appended, AppendResult), result
    assert [e.index for e in appended.entries] == list(range(size, size + len(appended.entries)))
    assert ctx.store.size() == size + len(appended.entries) == appended.size
    return result


def timestamp(moment: datetime, delta: timedelta = timedelta()) -> str:
    return format_timestamp(moment + delta)
