"""Random valid and invalid custody actions against a real SQLite ledger (hypothesis stateful).

Each run starts a fresh ledger with the parties of :mod:`tests.app.custody_scenarios`
and performs random actions through the services: lifecycle steps in their
natural order (mostly accepted) and random actions by random parties with
random data (mostly rejected). Every call of ``LogStore.append`` is recorded
with its batch and outcome (:class:`~tests.app.custody_scenarios.RecordingLogStore`).

After every step:

* the projections equal a replay of the log;
* domain invariants hold (a connector's seals are APPLIED to it, a suspect or
  quarantined unit has its open incident, installed units have a practice, …).

At the end of every run:

(a) the projections equal a replay (``compare_projections``);
(b) ``verify_ledger`` finds nothing;
(c) the verifier's replay agrees with every append-time decision: each
    accepted statement is in the log at its acknowledged index with the
    same bytes, no rejected one is, and admitting each rejected batch on the
    state rebuilt from the log prefix it was tried on rejects it at the same
    statement with the same error code and rule.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from app import queries
from app.projections import compare_projections, replay
from app.services import custody, handover
from app.services.signing import signed_statement
from app.services.verification import verify_ledger
from ledger.custody.ids import seal_id
from ledger.custody.records import (
    IN_OPERATION,
    INCIDENT_OPEN,
    INCIDENT_QUARANTINED,
    INSTALLED,
    QUARANTINED,
    SEAL_APPLIED,
    SUSPECT,
)
from ledger.entry import Entry
from ledger.errors import AuthorizationError, InvalidInput, LedgerError, RuleViolation
from ledger.kinds import REGISTRY
from ledger.merkle import hash_leaf
from ledger.state import LedgerState, admit, apply
from ledger.statement import Statement
from tests.app.custody_scenarios import (
    AUD,
    CAR,
    FACTORY,
    FAR_FUTURE,
    LIFECYCLE,
    MFR,
    PRACTICE,
    PRACTICE2,
    ROLES,
    TECH,
    TECH2,
    WAREHOUSE,
    WH,
    AppendAttempt,
    Unit,
    World,
    readmit,
)
from tests.helpers import new_ledger_fixture

PARTIES = (MFR, WH, CAR, TECH, TECH2, AUD)
PLACES = (PRACTICE, PRACTICE2, WAREHOUSE)
EXPIRIES = (FAR_FUTURE, FAR_FUTURE, "2029-06-30T00:00:00Z", "2026-06-30T00:00:00Z")
MAX_UNITS = 3
#: What an append may answer with when it refuses: nothing else is acceptable.
REJECTIONS = (RuleViolation, AuthorizationError, InvalidInput)
#: Random connector actions and the statement kind each records.
CONNECTOR_ACTIONS = {
    "bind": "smck.bound",
    "apply_seals": "seal.applied",
    "remove_seals": "seal.removed",
    "inspect": "seal.inspected",
    "store": "stored",
    "ship": "shipped",
    "transfer": "custody.transferred",
    "receive": "received",
    "install": "installed",
    "register": "ti.registered",
    "deregister": "deregistered",
    "remove": "removed",
    "return_ship": "returned.shipped",
    "decommission": "decommissioned",
    "destroy": "destroyed",
    "lost": "lost",
    "incident": "incident.reported",
    "quarantine": "quarantined",
    "release": "quarantine.released",
    "correction": "correction",
    "firmware": "firmware.updated",
    "lzv": "lzv.applied",
    "service_visit": "service.visit",
}
SEAL_ACTIONS = ("receive_batch", "issue", "seal.voided", "seal.lost", "seal.retained", "seal.destroyed")
SEAL_DATA = {
    "seal.voided": {"reason": "misprinted"},
    "seal.lost": {"circumstances": "fell behind the shelf"},
    "seal.retained": {"location": "location:EVIDENCE-01"},
    "seal.destroyed": {"method": "shredded"},
}
MADE_UP_NONCE = "AAAAAAAAAAAAAAAAAAAAAA"


def party(party_id: str) -> str:
    return f"party:{party_id}"


class CustodyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="kcl-custody-sm-"))
        self.lf = new_ledger_fixture(f"sqlite:///{self.tmp}/ledger.db", self.tmp)
        #: Log size when recording began: every later entry must come from a recorded append.
        self.first_recorded = self.lf.ctx.store.size()
        self.world = World(self.lf)
        self.ctx = self.world.ctx
        self.recorder = self.world.recorder
        self.units: list[Unit] = []
        self.seal_pool: list[str] = []
        self.offers: list[str] = []

    # ------------------------------------------------------------------
    # Helpers

    def key(self, party_id: str) -> Any:
        return self.world.key(party_id)

    def attempt(self, label: str, action: Callable[[], object]) -> bool:
        """Run one use case; a refusal must be one of the three documented kinds."""
        try:
            action()
        except REJECTIONS as exc:
            code = exc.rule if isinstance(exc, RuleViolation) else exc.code
            event(f"rejected {label}: {code}")
            return False
        event(f"accepted {label}")
        return True

    def unit_at(self, index: int) -> Unit | None:
        if not self.units:
            return None
        unit = self.units[index % len(self.units)]
        with contextlib.suppress(LedgerError):
            unit.seals = sorted(unit.record.seals)
        return unit

    def new_seals(self, count: int, holder: str, to: str | None) -> list[str]:
        """A fresh batch received by ``holder`` (and issued to ``to``); the appends are recorded."""
        ids = self.world.next_seal_ids(count)
        self.seal_pool.extend(ids)

        def receive() -> None:
            custody.receive_seals(
                self.ctx,
                holder,
                self.key(holder),
                series=ids[0][:2],
                first=int(ids[0][2:9]),
                count=count,
                supplier="Plombenwerk GmbH",
            )

        if self.attempt("seal.received", receive) and to is not None:
            self.attempt(
                "seal.issued", lambda: custody.issue_seals(self.ctx, holder, self.key(holder), ids, to)
            )
        return ids

    def pick_seals(self, data: st.DataObject, unit: Unit | None, label: str) -> list[str]:
        """Seals for an action: the ledger's own, a part of them, strangers, or never-received ids."""
        choice = data.draw(st.sampled_from(("own", "part", "stranger", "unknown", "none")), label=label)
        own = list(unit.seals) if unit is not None else []
        if choice == "own" or (choice == "part" and not own):
            return own
        if choice == "part":
            return own[: max(1, len(own) - 1)]
        if choice == "stranger" and self.seal_pool:
            return sorted({*own[:1], data.draw(st.sampled_from(self.seal_pool), label=f"{label} stranger")})
        if choice == "unknown":
            return sorted({*own[:1], *self.world.next_seal_ids(1)})
        return []

    # ------------------------------------------------------------------
    # Natural lifecycle progress: mostly accepted.

    def _progress(self, index: int, steps: int, expiry: str) -> None:
        if len(self.units) < MAX_UNITS and index >= len(self.units):
            new = self.world.new_unit(not_after=expiry)
            if self.attempt("connector.commissioned", lambda: self.world.commission(new)):
                new.milestone = "PRODUCED"
                self.units.append(new)
            return
        unit = self.unit_at(index)
        assert unit is not None
        for _ in range(steps):
            step = unit.next_milestone
            if step is None:
                return
            if not self.attempt(f"step {step}", partial(unit.advance, step)):
                return
            event(f"reached {step}")

    @rule(index=st.integers(0, MAX_UNITS), steps=st.integers(1, 6), expiry=st.sampled_from(EXPIRIES))
    def progress(self, index: int, steps: int, expiry: str) -> None:
        self._progress(index, steps, expiry)

    @rule(index=st.integers(0, MAX_UNITS - 1), steps=st.integers(1, 6))
    def progress_more(self, index: int, steps: int) -> None:
        self._progress(index, steps, FAR_FUTURE)

    @rule(index=st.integers(0, MAX_UNITS - 1))
    def commission_again(self, index: int) -> None:
        unit = self.unit_at(index)
        if unit is not None:
            self.attempt("connector.commissioned (again)", lambda: self.world.commission(unit))

    # ------------------------------------------------------------------
    # Random connector actions by random parties: mostly rejected.

    def pick_actor(self, data: st.DataObject, kind: str, unit: Unit) -> str:
        """Anyone, someone whose role fits the kind, or the unit's custodian."""
        who = data.draw(st.sampled_from(("anyone", "fitting", "custodian")), label="who")
        if who == "custodian":
            custodian = unit.record.custodian.partition(":")[2]
            if custodian in PARTIES:
                return custodian
        if who == "fitting":
            roles = REGISTRY.get(kind).roles
            fitting = [p for p in PARTIES if set(ROLES[p]) & roles]
            if fitting:
                return data.draw(st.sampled_from(fitting), label="fitting actor")
        return data.draw(st.sampled_from(PARTIES), label="actor")

    @precondition(lambda self: bool(self.units))
    @rule(
        index=st.integers(0, MAX_UNITS - 1), action=st.sampled_from(sorted(CONNECTOR_ACTIONS)), data=st.data()
    )
    def act(self, index: int, action: str, data: st.DataObject) -> None:
        unit = self.unit_at(index)
        assert unit is not None
        actor = self.pick_actor(data, CONNECTOR_ACTIONS[action], unit)
        w, ctx, key, subject = self.world, self.ctx, self.key(actor), unit.subject
        place = data.draw(st.sampled_from(PLACES), label="place")
        other = data.draw(st.sampled_from(PARTIES), label="other party")

        def statement(
            kind: str, body: dict[str, Any], cosigners: tuple[str, ...] = ()
        ) -> Callable[[], object]:
            return lambda: w.connector_statement(actor, kind, unit, body, cosigners=cosigners)

        run: Callable[[], object]
        if action == "bind":
            run = partial(custody.bind_smck, ctx, actor, key, subject, FACTORY)
        elif action == "apply_seals":
            if data.draw(st.booleans(), label="fresh seals"):
                seals = self.new_seals(2, holder=data.draw(st.sampled_from((MFR, WH))), to=actor)
            else:
                seals = self.pick_seals(data, unit, "seals") or self.world.next_seal_ids(1)
            run = partial(custody.apply_seals, ctx, actor, key, subject, seals)
        elif action == "remove_seals":
            seals = self.pick_seals(data, unit, "seals") or self.world.next_seal_ids(1)
            run = partial(custody.remove_seals, ctx, actor, key, subject, seals, "seal check")
        elif action == "inspect":
            observed = self.pick_seals(data, unit, "observed")
            torn = data.draw(st.booleans(), label="torn") and bool(observed)
            results = {observed[0]: "torn"} if torn else None
            run = partial(
                custody.inspect_seals, ctx, actor, key, subject, observed, place=place, results=results
            )
        elif action == "store":
            run = partial(custody.store, ctx, actor, key, subject, place)
        elif action == "ship":
            subjects = sorted({subject, *(u.subject for u in self.units[: data.draw(st.integers(0, 2))])})
            run = partial(
                custody.ship, ctx, actor, key, subjects, destination=place, to=other, delivery_note="LS-9"
            )
        elif action == "transfer":
            seals = self.pick_seals(data, unit, "declared seals")
            cosign = (other,) if data.draw(st.booleans(), label="countersigned") and other != actor else ()
            run = statement("custody.transferred", {"to": party(other), "seals": seals}, cosign)
        elif action == "receive":
            observed = self.pick_seals(data, unit, "observed")
            run = partial(custody.receive, ctx, actor, key, subject, observed, place=place)
        elif action == "install":
            run = self._install(unit, actor, place, data)
        elif action == "register":
            if data.draw(st.booleans(), label="own practice"):
                run = partial(custody.register_ti, ctx, actor, key, subject)
            else:
                run = statement("ti.registered", {"practice": w.practice2})
        elif action == "deregister":
            run = statement("deregistered", {"reason": "exchange"})
        elif action == "remove":
            run = statement("removed", {"reason": "exchange"})
        elif action == "return_ship":
            run = partial(
                custody.ship,
                ctx,
                actor,
                key,
                [subject],
                destination=WAREHOUSE,
                to=other,
                delivery_note="RS-1",
                kind="returned.shipped",
            )
        elif action == "decommission":
            run = statement("decommissioned", {"reason": "end of life"})
        elif action == "destroy":
            cosign = (other,) if data.draw(st.booleans(), label="witnessed") and other != actor else ()
            run = statement("destroyed", {"method": "shredded", "witness": party(other)}, cosign)
        elif action == "lost":
            run = statement("lost", {"circumstances": "not found at inventory"})
        elif action == "incident":
            run = partial(unit.report_incident, by=actor)
        elif action in ("quarantine", "release"):
            incident = self._incident_for(unit, data)
            if action == "quarantine":
                run = statement("quarantined", {"incident": incident})
            else:
                body = {
                    "incident": incident,
                    "investigation": "checked by a second person",
                    "outcome": "cleared",
                }
                run = statement("quarantine.released", body)
        elif action == "correction":
            run = self._correction(unit, actor, data)
        elif action == "firmware":
            if data.draw(st.booleans(), label="from the ledger's version"):
                run = partial(custody.update_firmware, ctx, actor, key, subject, "5.3.0")
            else:
                run = statement("firmware.updated", {"from": "0.0.1", "to": "5.3.0"})
        elif action == "lzv":
            iccsn = data.draw(st.sampled_from([*unit.iccsns, "80276883119999999999"]), label="iccsn")
            year = data.draw(st.integers(2026, 2042), label="new expiry year")
            run = partial(
                custody.apply_lzv, ctx, actor, key, subject, iccsn, datetime(year, 1, 1, tzinfo=UTC)
            )
        else:
            run = statement("service.visit", {"reason": "printer driver"})
        self.attempt(action, run)

    def _install(self, unit: Unit, actor: str, place: str, data: st.DataObject) -> Callable[[], object]:
        w, ctx = self.world, self.ctx
        variant = data.draw(
            st.sampled_from(("check_first", "latest", "made_up", "override")), label="install"
        )
        kwargs: dict[str, Any] = {}
        if variant == "check_first":
            self.attempt(
                "inspect",
                lambda: custody.inspect_seals(
                    ctx, actor, self.key(actor), unit.subject, unit.seals, place=place
                ),
            )
        elif variant == "made_up":
            kwargs["seal_check"] = MADE_UP_NONCE
        elif variant == "override":
            auditor = data.draw(st.sampled_from((AUD, TECH2)), label="override auditor")
            kwargs.update(override_reason="urgent", auditor=auditor, auditor_key=self.key(auditor))
        digest = w.practice if place == PRACTICE else w.practice2
        return lambda: custody.install(
            ctx, actor, self.key(actor), unit.subject, practice_digest=digest, place=place, **kwargs
        )

    def _incident_for(self, unit: Unit, data: st.DataObject) -> str:
        known = [i.incident_id for i in queries.incidents(self.ctx.engine)]
        options = [unit.record.open_incident or "INC-999999", *known, "INC-999999"]
        return data.draw(st.sampled_from(options), label="incident")

    def _correction(self, unit: Unit, actor: str, data: st.DataObject) -> Callable[[], object]:
        history = unit.record.history
        item = data.draw(st.sampled_from(history), label="corrected entry")
        leaf = item.leaf_hash if data.draw(st.booleans(), label="right leaf hash") else "00" * 32
        body = {
            "corrects": item.index,
            "leaf_hash": leaf,
            "reason": data.draw(st.sampled_from(("did_not_occur", "incorrect_data"))),
            "explanation": "recorded in error",
        }
        return lambda: self.world.connector_statement(actor, "correction", unit, body)

    # ------------------------------------------------------------------
    # Seals.

    @rule(action=st.sampled_from(SEAL_ACTIONS), actor=st.sampled_from(PARTIES), data=st.data())
    def seal_act(self, action: str, actor: str, data: st.DataObject) -> None:
        if action == "receive_batch":
            if bool(self.seal_pool) and data.draw(st.booleans(), label="overlapping"):
                first = data.draw(st.sampled_from(self.seal_pool), label="first")
                number = int(first[2:9])
            else:
                number = int(self.world.next_seal_ids(1)[0][2:9])
            count = data.draw(st.integers(1, 3), label="count")
            for n in range(number, number + count):
                self.seal_pool.append(seal_id("KC", n))
            self.attempt(
                "seal.received",
                lambda: custody.receive_seals(
                    self.ctx, actor, self.key(actor), series="KC", first=number, count=count, supplier="S"
                ),
            )
            return
        if not self.seal_pool:
            return
        seal = data.draw(st.sampled_from(self.seal_pool), label="seal")
        if action == "issue":
            to = data.draw(st.sampled_from(PARTIES), label="to")
            self.attempt(
                "seal.issued", lambda: custody.issue_seals(self.ctx, actor, self.key(actor), [seal], to)
            )
        else:
            self.attempt(
                action,
                lambda: custody.seal_statement(
                    self.ctx, actor, self.key(actor), action, seal, SEAL_DATA[action]
                ),
            )

    # ------------------------------------------------------------------
    # Two-party handovers.

    @precondition(lambda self: bool(self.units))
    @rule(
        indices=st.lists(st.integers(0, MAX_UNITS - 1), min_size=1, max_size=3, unique=True),
        releaser=st.sampled_from(PARTIES),
        receiver=st.sampled_from(PARTIES),
        from_custodian=st.booleans(),
    )
    def offer(self, indices: list[int], releaser: str, receiver: str, from_custodian: bool) -> None:
        units = {u.subject: u for u in (self.unit_at(i) for i in indices) if u is not None}
        if from_custodian:
            releaser = next(iter(units.values())).record.custodian.partition(":")[2]

        def create() -> None:
            offer = handover.create_offer(self.ctx, releaser, self.key(releaser), sorted(units), receiver)
            self.offers.append(offer.offer_id)

        self.attempt("handover.offer", create)

    def _pending(self) -> list[str]:
        return [o.offer_id for o in handover.offers(self.ctx) if o.offer_id in self.offers]

    @precondition(lambda self: bool(self.offers))
    @rule(data=st.data(), addressee=st.booleans())
    def accept(self, data: st.DataObject, addressee: bool) -> None:
        pending = self._pending()
        if not pending:
            return
        offer = handover.get_offer(self.ctx, data.draw(st.sampled_from(pending), label="offer"))
        acceptor = offer.to_party.partition(":")[2] if addressee else data.draw(st.sampled_from(PARTIES))
        self.attempt(
            "handover.accept",
            lambda: handover.accept_offer(self.ctx, acceptor, self.key(acceptor), offer.offer_id),
        )

    @precondition(lambda self: bool(self.offers))
    @rule(data=st.data(), mismatch=st.booleans())
    def reject(self, data: st.DataObject, mismatch: bool) -> None:
        pending = self._pending()
        if not pending:
            return
        offer = handover.get_offer(self.ctx, data.draw(st.sampled_from(pending), label="offer"))
        receiver = offer.to_party.partition(":")[2]
        observed = {c["connector"]: (c["seals"][1:] if mismatch else c["seals"]) for c in offer.connectors}
        self.attempt(
            "handover.reject",
            lambda: handover.reject_offer(
                self.ctx, receiver, self.key(receiver), offer.offer_id, "not as declared", observed
            ),
        )

    # ------------------------------------------------------------------
    # Rule 12: statements with event times off the log's clock (flagged, never refused for it).

    @precondition(lambda self: bool(self.units))
    @rule(index=st.integers(0, MAX_UNITS - 1), minutes=st.sampled_from((-120, -10, -4, 4, 10, 120)))
    def skewed_inspection(self, index: int, minutes: int) -> None:
        unit = self.unit_at(index)
        assert unit is not None
        custodian = unit.record.custodian.partition(":")[2]
        if custodian not in PARTIES:
            return

        def append() -> object:
            envelope = signed_statement(
                self.ctx,
                at=self.world.now() + timedelta(minutes=minutes),
                kind="seal.inspected",
                subject=unit.subject,
                by=party(custodian),
                data=custody.inspection_data(unit.seals, unit.seals),
                keys=[self.key(custodian)],
                place=f"location:{WAREHOUSE}",
            )
            return self.ctx.writer().append([envelope])

        self.attempt("seal.inspected (skewed time)", append)

    # ------------------------------------------------------------------
    # After every step.

    @invariant()
    def projections_equal_replay(self) -> None:
        assert compare_projections(self.ctx.engine, replay(self.ctx.store.entries())) == []

    @invariant()
    def rejected_appends_left_the_log_alone(self) -> None:
        for attempt in self.recorder.attempts:
            if attempt.error is not None:
                assert attempt.size_after == attempt.size, attempt.error
            else:
                assert attempt.result is not None
                assert attempt.size_after == attempt.size + len(attempt.envelopes) == attempt.result.size

    @invariant()
    def domain_invariants(self) -> None:
        engine = self.ctx.engine
        applied: dict[str, str] = {}
        for row in queries.connectors(engine):
            record = queries.connector(engine, row["subject"])
            for seal in record.seals:
                found = queries.seal(engine, seal)
                assert found.status == SEAL_APPLIED, (record.subject, found)
                assert found.connector == record.subject, (record.subject, found)
                assert applied.setdefault(seal, record.subject) == record.subject
            if record.state in (SUSPECT, QUARANTINED):
                assert record.open_incident is not None, record.subject
            if record.open_incident is not None:
                incident = queries.incident(engine, record.open_incident)
                assert incident.connector == record.subject
                assert incident.status in (INCIDENT_OPEN, INCIDENT_QUARANTINED)
            if record.state in (INSTALLED, IN_OPERATION):
                assert record.practice is not None, record.subject
            assert record.custodian.startswith("party:")

    # ------------------------------------------------------------------
    # At the end of every run.

    def teardown(self) -> None:
        try:
            self.check_run()
        finally:
            self.ctx.engine.dispose()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def check_run(self) -> None:
        store = self.ctx.store
        entries = list(store.entries())
        # (a) projections equal a replay of the log.
        assert compare_projections(self.ctx.engine, replay(entries)) == []
        # (b) the verifier finds nothing.
        report = verify_ledger(self.ctx, workers=1)
        assert report.valid, report.findings
        assert report.size == len(entries)
        # (c) the verifier's replay agrees with every append-time decision.
        nonces = {Entry.parse(raw).statement.nonce: i for i, raw in enumerate(entries)}
        covered: list[int] = []
        for attempt in self.recorder.attempts:
            if attempt.result is None:
                continue
            for envelope, appended in zip(attempt.envelopes, attempt.result.entries, strict=True):
                stored = Entry.parse(entries[appended.index])
                assert entries[appended.index] == appended.raw
                assert stored.envelope == envelope
                covered.append(appended.index)
        assert sorted(covered) == list(range(self.first_recorded, len(entries))), "entries nobody appended"
        rejected = [(n, a) for n, a in enumerate(self.recorder.attempts) if a.error is not None]
        accepted_after = {
            Statement.from_bytes(e.payload).nonce: n
            for n, a in enumerate(self.recorder.attempts)
            if a.result is not None
            for e in a.envelopes
        }
        for n, attempt in rejected:
            for envelope in attempt.envelopes:
                nonce = Statement.from_bytes(envelope.payload).nonce
                if nonce in nonces:
                    # Only a later, accepted retry of the same statement (an offer accepted later).
                    assert accepted_after.get(nonce, -1) > n, f"rejected statement at index {nonces[nonce]}"
                    assert nonces[nonce] >= attempt.size
        self.check_rejections_replay(entries, [a for _, a in rejected])

    def check_rejections_replay(self, entries: list[bytes], rejected: list[AppendAttempt]) -> None:
        by_size: dict[int, list[AppendAttempt]] = {}
        for attempt in rejected:
            by_size.setdefault(attempt.size, []).append(attempt)
        state = LedgerState()
        recorded_at = ""
        for size in range(len(entries) + 1):
            for attempt in by_size.get(size, []):
                assert attempt.error is not None
                verdict = readmit(copy.deepcopy(state), size, attempt.envelopes, recorded_at)
                assert verdict is not None, f"replay admits the batch refused with {attempt.error}"
                position, error = verdict
                assert position == getattr(attempt.error, "batch_position", 0), (verdict, attempt.error)
                assert error.code == attempt.error.code, (error, attempt.error)
                assert getattr(error, "rule", None) == getattr(attempt.error, "rule", None), (
                    error,
                    attempt.error,
                )
                event(f"replayed rejection {error.code}")
            if size < len(entries):
                entry = Entry.parse(entries[size])
                ctx = admit(
                    state, size, entry.envelope, entry.statement, entry.recorded_at, check_crypto=False
                )
                apply(state, ctx, hash_leaf(entries[size]))
                recorded_at = entry.recorded_at


CustodyMachine.TestCase.settings = settings(
    # A longer hunt: CUSTODY_STATE_MACHINE_EXAMPLES=500 pytest tests/app/test_custody_state_machine.py
    max_examples=int(os.environ.get("CUSTODY_STATE_MACHINE_EXAMPLES", "25")),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
TestCustodyStateMachine = CustodyMachine.TestCase


def test_the_machine_reaches_the_whole_lifecycle(tmp_path: Path) -> None:
    """The natural steps alone drive a unit from factory to shredder (so `progress` is meaningful)."""
    lf = new_ledger_fixture(f"sqlite:///{tmp_path}/ledger.db", tmp_path)
    world = World(lf)
    unit = world.new_unit()
    while unit.next_milestone is not None:
        unit.advance(unit.next_milestone)
    assert unit.state == "DESTROYED"
    assert LIFECYCLE[-1] == unit.milestone
    lf.ctx.engine.dispose()
