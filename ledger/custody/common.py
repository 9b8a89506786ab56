"""Building blocks shared by the custody kinds: fields, guards, history, time flags.

Every connector kind goes through :func:`connector_kind`, which adds the
checks common to all of them, in this order:

1. the connector exists (or, for commissioning, does not);
2. rule 3 — nothing after ``destroyed`` but a correction;
3. rule 2 — no shipping, installation or operation of a blocked unit;
4. the state machine allows the kind in the current state;
5. where the kind requires it, the author is the current custodian;
6. the kind's own guard rules.

Its apply step records the entry in the connector's history, moves the
state machine and remembers the latest event time (rule 12).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from ledger.custody.ids import parse_seal_id
from ledger.custody.records import (
    DECOMMISSIONED,
    DESTROYED,
    LOST,
    QUARANTINED,
    SUSPECT,
    ConnectorRecord,
    HistoryItem,
    custody,
)
from ledger.errors import InvalidData, InvalidInput, RuleViolation
from ledger.kinds import REGISTRY, EpcisMapping, KindSpec
from ledger.schema import Hex, ListOf, Obj, Subject, Text, Validator
from ledger.state import Context, LedgerState, register_warner
from ledger.times import parse_timestamp

#: Rule 12: event times may lag (offline sync) but not run ahead or backwards by more than this.
TIME_TOLERANCE = timedelta(minutes=5)
BLOCKED_STATES = frozenset({SUSPECT, QUARANTINED, LOST, DECOMMISSIONED, DESTROYED})

# Roles.
MANUFACTURER = "manufacturer"
WAREHOUSE = "warehouse"
CARRIER = "carrier"
TECHNICIAN = "technician"
PRACTICE = "practice"
AUDITOR = "auditor"
ADMIN = "admin"


class SealIdField(Validator):
    description = "seal id (2 letters, 7 digits, check character)"

    def __call__(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            raise InvalidData(f"{path}: expected a seal id")
        try:
            parse_seal_id(value)
        except InvalidInput as exc:
            raise InvalidData(f"{path}: {exc}") from None


SEAL_ID = SealIdField()
SEAL_LIST = ListOf(SEAL_ID, min_items=1, max_items=16)
SEAL_LIST_OR_EMPTY = ListOf(SEAL_ID, min_items=0, max_items=16)
PARTY = Subject("party")
LOCATION = Subject("location")
DIGEST = Hex(32)
NOTE = Text(max_length=1000)
SHORT = Text(max_length=80)
ICCSN = Text(min_length=10, max_length=20, pattern=r"[0-9]{10,20}")
NONCE_REF = Text(min_length=22, max_length=22, pattern=r"[A-Za-z0-9_-]{22}")
INCIDENT_ID = Text(max_length=24, pattern=r"INC-[0-9]{1,15}")


def connector(state: LedgerState, ctx: Context) -> ConnectorRecord:
    record = custody(state).connectors.get(ctx.statement.subject)
    if record is None:
        raise RuleViolation("rule.unknown_connector", f"{ctx.statement.subject} was never commissioned")
    return record


def seal_set(values: Any) -> frozenset[str]:
    return frozenset(values or ())


def at_of(ctx: Context) -> Any:
    return parse_timestamp(ctx.statement.at, "at")


Guard = Callable[[LedgerState, Context, ConnectorRecord], None]
Effect = Callable[[LedgerState, Context, ConnectorRecord], None]


def _no_guard(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    return None


def connector_kind(
    name: str,
    *,
    roles: set[str],
    schema: Obj,
    transitions: Mapping[str, str | None],
    refuse: Mapping[str, tuple[str, str]] | None = None,
    guard: Guard = _no_guard,
    effect: Effect = _no_guard,
    custodian_only: bool = False,
    blocked_action: bool = False,
    epcis: EpcisMapping | None = None,
    summary: str = "",
    counterparty_field: str | None = None,
    counterparty_roles: set[str] | None = None,
    counterparty_rule: str | None = None,
) -> KindSpec:
    """Register a connector kind.

    ``transitions`` maps each state the kind is allowed in to the next state
    (None = unchanged). ``refuse`` names states where a specific guard rule,
    rather than the generic ``rule.state_transition``, explains the refusal:
    ``{state: (rule id, reason)}``.
    """
    refusals = dict(refuse or {})

    def check(state: LedgerState, ctx: Context) -> None:
        record = connector(state, ctx)
        if record.state == DESTROYED:
            raise RuleViolation(
                "rule.nothing_after_destroyed", f"{record.subject} is destroyed; only a correction may follow"
            )
        if blocked_action and record.state in BLOCKED_STATES:
            raise RuleViolation(
                "rule.blocked_state", f"cannot record {name} while {record.subject} is {record.state}"
            )
        if record.state in refusals:
            rule, reason = refusals[record.state]
            raise RuleViolation(rule, f"{record.subject} is {record.state}: {reason}")
        if record.state not in transitions:
            raise RuleViolation(
                "rule.state_transition", f"cannot record {name} while {record.subject} is {record.state}"
            )
        if custodian_only and ctx.statement.by != record.custodian:
            raise RuleViolation(
                "rule.custodian_only",
                f"{name} must be recorded by the custodian {record.custodian}, not {ctx.statement.by}",
            )
        guard(state, ctx, record)

    def apply(state: LedgerState, ctx: Context) -> None:
        record = connector(state, ctx)
        before = record.state
        after = transitions[before] or before
        record.state = after
        effect(state, ctx, record)
        note_history(record, ctx, before, record.state)
        custody(state).connectors.put(record.subject, record)

    return REGISTRY.register(
        KindSpec(
            name,
            "connector",
            frozenset(roles),
            schema,
            check,
            apply,
            counterparty_field=counterparty_field,
            counterparty_roles=frozenset(counterparty_roles or ()),
            counterparty_rule=counterparty_rule,
            epcis=epcis,
            summary=summary,
            transitions=tuple((before, after or before) for before, after in transitions.items()),
        )
    )


def note_history(record: ConnectorRecord, ctx: Context, before: str | None, after: str | None) -> None:
    record.history.append(
        HistoryItem(ctx.index, ctx.leaf_hash.hex(), ctx.statement.kind, ctx.statement.by, before, after)
    )
    if record.last_at is None or at_of(ctx) > parse_timestamp(record.last_at, "last_at"):
        record.last_at = ctx.statement.at
    if ctx.statement.place is not None:
        record.location = ctx.statement.place


def time_flags(state: LedgerState, ctx: Context) -> list[str]:
    """Rule 12: flag (never reject) event times in the future or out of order."""
    flags = []
    at = at_of(ctx)
    recorded = parse_timestamp(ctx.recorded_at, "recorded_at")
    if at > recorded + TIME_TOLERANCE:
        flags.append(
            f"rule.event_time: event time {ctx.statement.at} is ahead of the log time {ctx.recorded_at}"
        )
    # A two-party statement carries the time its first party signed; the
    # second may countersign after later events, which is not disorder.
    if ctx.statement.subject_type == "connector" and ctx.spec.counterparty_field is None:
        record = custody(state).connectors.get(ctx.statement.subject)
        last = None if record is None else record.last_at
        if last is not None and at + TIME_TOLERANCE < parse_timestamp(last, "last_at"):
            flags.append(
                f"rule.event_time: event time {ctx.statement.at} is before the previous event "
                f"about {ctx.statement.subject} ({last})"
            )
    return flags


register_warner(time_flags)
