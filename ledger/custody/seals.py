"""Seal lifecycle kinds (subject ``seal:<id>``).

IN_STOCK → ISSUED (to a named person) → APPLIED → REMOVED → RETAINED →
DESTROYED, with VOID and LOST side exits. A seal id is single-use; applying
and removing are recorded on the connector (see :mod:`ledger.custody.connector`).
"""

from __future__ import annotations

from collections.abc import Mapping

from ledger.custody.common import (
    AUDITOR,
    CARRIER,
    LOCATION,
    MANUFACTURER,
    NOTE,
    PARTY,
    SHORT,
    TECHNICIAN,
    WAREHOUSE,
)
from ledger.custody.connector import epcis
from ledger.custody.ids import parse_seal_id, seal_id
from ledger.custody.records import (
    SEAL_DESTROYED,
    SEAL_IN_STOCK,
    SEAL_ISSUED,
    SEAL_LOST,
    SEAL_REMOVED,
    SEAL_RETAINED,
    SEAL_VOID,
    SealRecord,
    custody,
)
from ledger.errors import InvalidData, InvalidInput, RuleViolation
from ledger.kinds import REGISTRY, EpcisMapping, KindSpec
from ledger.schema import Integer, Obj, Text
from ledger.state import Context, LedgerState

MAX_BATCH = 10_000


def batch_ids(series: str, first: int, count: int) -> list[str]:
    return [seal_id(series, number) for number in range(first, first + count)]


def _subject_seal(ctx: Context) -> str:
    ident = ctx.statement.subject.partition(":")[2]
    try:
        parse_seal_id(ident)
    except InvalidInput as exc:
        raise InvalidData(str(exc)) from None
    return ident


def _check_received(state: LedgerState, ctx: Context) -> None:
    data = ctx.statement.data
    if data["first"] + data["count"] - 1 > 9_999_999:
        raise InvalidData("the batch runs past number 9999999")
    ids = batch_ids(data["series"], data["first"], data["count"])
    if ctx.statement.subject != f"seal:{ids[0]}":
        raise InvalidData(f"subject must be seal:{ids[0]}, the first seal of the batch")
    existing = [k for k, v in custody(state).seals.get_many(ids).items() if v is not None]
    if existing:
        raise RuleViolation("rule.seal_unique", f"seal ids already on the ledger: {existing[:5]}")


def _apply_received(state: LedgerState, ctx: Context) -> None:
    data = ctx.statement.data
    seals = custody(state).seals
    for ident in batch_ids(data["series"], data["first"], data["count"]):
        seals.put(ident, SealRecord(ident, SEAL_IN_STOCK, ctx.statement.by, ctx.index, last_index=ctx.index))


REGISTRY.register(
    KindSpec(
        "seal.received",
        "seal",
        frozenset({WAREHOUSE, MANUFACTURER}),
        Obj(
            required={
                "series": Text(min_length=2, max_length=2, pattern=r"[ABCDEFGHJKMNPQRSTVWX]{2}"),
                "first": Integer(0, 9_999_999),
                "count": Integer(1, MAX_BATCH),
                "supplier": SHORT,
            },
            optional={"lot": SHORT},
        ),
        _check_received,
        _apply_received,
        epcis=epcis("ObjectEvent", "ADD", "receiving", "available"),
        summary="A numbered batch of seals enters inventory (subject: the first seal of the batch).",
        transitions=(("(new)", SEAL_IN_STOCK),),
    )
)


def seal_kind(
    name: str,
    *,
    roles: set[str],
    schema: Obj,
    transitions: Mapping[str, str],
    holder_only: bool,
    epcis_mapping: EpcisMapping,
    summary: str,
) -> KindSpec:
    def check(state: LedgerState, ctx: Context) -> None:
        ident = _subject_seal(ctx)
        seal = custody(state).seals.get(ident)
        if seal is None:
            raise RuleViolation("rule.unknown_seal", f"seal {ident} is not on the ledger")
        if seal.status not in transitions:
            raise RuleViolation("rule.seal_state", f"cannot record {name} for a seal that is {seal.status}")
        if holder_only and seal.holder != ctx.statement.by:
            raise RuleViolation(
                "rule.seal_holder", f"seal {ident} is held by {seal.holder}, not {ctx.statement.by}"
            )

    def apply(state: LedgerState, ctx: Context) -> None:
        ident = _subject_seal(ctx)
        seals = custody(state).seals
        seal = seals.get(ident)
        assert seal is not None
        seal.status = transitions[seal.status]
        seal.last_index = ctx.index
        if name == "seal.issued":
            seal.issued_to = seal.holder = ctx.statement.data["to"]
        seals.put(ident, seal)

    return REGISTRY.register(
        KindSpec(
            name,
            "seal",
            frozenset(roles),
            schema,
            check,
            apply,
            epcis=epcis_mapping,
            summary=summary,
            transitions=tuple(transitions.items()),
        )
    )


seal_kind(
    "seal.issued",
    roles={WAREHOUSE, MANUFACTURER},
    schema=Obj(required={"to": PARTY}),
    transitions={SEAL_IN_STOCK: SEAL_ISSUED},
    holder_only=True,
    epcis_mapping=epcis("ObjectEvent", "OBSERVE", "picking", "reserved"),
    summary="A seal from stock is issued to a named person, who alone may apply it.",
)
seal_kind(
    "seal.retained",
    roles={WAREHOUSE, MANUFACTURER, TECHNICIAN, AUDITOR},
    schema=Obj(required={"location": LOCATION}),
    transitions={SEAL_REMOVED: SEAL_RETAINED},
    holder_only=False,
    epcis_mapping=epcis("ObjectEvent", "OBSERVE", "storing", "inactive"),
    summary="A removed seal is kept as evidence.",
)
seal_kind(
    "seal.destroyed",
    roles={WAREHOUSE, MANUFACTURER, AUDITOR},
    schema=Obj(required={"method": SHORT}),
    transitions={SEAL_REMOVED: SEAL_DESTROYED, SEAL_RETAINED: SEAL_DESTROYED, SEAL_VOID: SEAL_DESTROYED},
    holder_only=False,
    epcis_mapping=epcis("ObjectEvent", "DELETE", "destroying", "destroyed"),
    summary="A used or void seal is destroyed.",
)
seal_kind(
    "seal.voided",
    roles={WAREHOUSE, MANUFACTURER, TECHNICIAN},
    schema=Obj(required={"reason": NOTE}),
    transitions={SEAL_IN_STOCK: SEAL_VOID, SEAL_ISSUED: SEAL_VOID},
    holder_only=True,
    epcis_mapping=epcis("ObjectEvent", "OBSERVE", "other", "damaged"),
    summary="An unused seal is declared void (damaged, misprinted).",
)
seal_kind(
    "seal.lost",
    roles={WAREHOUSE, MANUFACTURER, TECHNICIAN, CARRIER, AUDITOR},
    schema=Obj(required={"circumstances": NOTE}),
    transitions={s: SEAL_LOST for s in (SEAL_IN_STOCK, SEAL_ISSUED, SEAL_REMOVED, SEAL_RETAINED)},
    holder_only=False,
    epcis_mapping=epcis("ObjectEvent", "OBSERVE", "other", "unknown"),
    summary="A seal went missing.",
)
