"""What a scan identifies: the id behind raw scanner input, its state, and what comes next.

The reading is :mod:`ledger.custody.scan`'s: seal ids are repaired only
when the check character confirms the repair; a connector id has no check
character, so of the readings a scan allows (Y/Z swapped, punctuation
garbled by a keyboard-layout mismatch) the one the ledger knows is taken.

"What comes next" is not a hand-written table: it is derived from the
state machines the kinds declare (:attr:`ledger.kinds.KindSpec.transitions`)
— every kind about this type of subject that is allowed in the current
state. Kinds that move the subject on come first, then those that keep its
state, then the side exits (loss, theft). Guard rules beyond the state
machine (custodian, seals, certificates …) still decide at append time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select

from app import queries
from app.services.context import LedgerContext
from app.tables import CONNECTORS
from ledger.custody.records import LOST, QUARANTINED, SEAL_APPLIED, SUSPECT
from ledger.custody.scan import candidates, connector_readings, read_scan
from ledger.errors import NotFound
from ledger.kinds import REGISTRY

SEAL, CONNECTOR, UNKNOWN = "seal", "connector", "unknown"
#: Target states that leave the normal flow.
SIDE_EXITS = frozenset({SUSPECT, QUARANTINED, LOST, "VOID"})


def expected_next(subject_type: str, state: str | None) -> list[str]:
    """Kinds about a ``subject_type`` allowed in ``state``, by the kinds' declared transitions."""
    if state is None:
        return []
    moves, stays, exits = [], [], []
    for spec in REGISTRY:
        if subject_type not in spec.subject_types:
            continue
        after = next((a for b, a in spec.transitions if b == state), None)
        if after is None:
            continue
        if after in SIDE_EXITS or (subject_type == SEAL and after == LOST):
            exits.append(spec.name)
        elif after != state:
            moves.append(spec.name)
        else:
            stays.append(spec.name)
    return moves + stays + exits


@dataclass(frozen=True)
class ScanResult:
    input: str
    normalised: str
    kind: str
    id: str | None
    subject: str | None
    repaired: bool
    known: bool
    state: str | None = None
    custodian: str | None = None
    connector: str | None = None
    connector_state: str | None = None
    expected_next: list[str] = field(default_factory=list)
    from_label_url: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "normalised": self.normalised,
            "kind": self.kind,
            "id": self.id,
            "subject": self.subject,
            "repaired": self.repaired,
            "known": self.known,
            "state": self.state,
            "custodian": self.custodian,
            "connector": self.connector,
            "connector_state": self.connector_state,
            "expected_next": list(self.expected_next),
            "from_label_url": self.from_label_url,
        }


def _known_connectors(ctx: LedgerContext, subjects: list[str]) -> set[str]:
    if not subjects:
        return set()
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(CONNECTORS.c.subject).where(CONNECTORS.c.subject.in_(subjects))).all()
    return {str(r[0]) for r in rows}


def _connector_state(ctx: LedgerContext, subject: str) -> tuple[str, str] | None:
    try:
        record = queries.connector(ctx.engine, subject)
    except NotFound:
        return None
    return record.state, record.custodian


def _literal_connector(text: str) -> str | None:
    """The connector id ``text`` spells as it stands (no repair), if any."""
    reading = read_scan(text)
    return reading.identifier if reading.kind == CONNECTOR and not reading.repaired else None


def lookup(ctx: LedgerContext, raw: str) -> ScanResult:
    """Read ``raw`` scanner input or a QR payload and look up what it names."""
    reading = read_scan(raw)
    if reading.kind == SEAL:
        assert reading.identifier is not None
        seal_id = reading.identifier
        unknown = ScanResult(
            raw,
            reading.reading,
            SEAL,
            seal_id,
            f"seal:{seal_id}",
            reading.repaired,
            known=False,
            from_label_url=reading.from_label_url,
        )
        try:
            record = queries.seal(ctx.engine, seal_id)
        except NotFound:
            return unknown
        connector_state = None
        following = expected_next(SEAL, record.status)
        if record.connector is not None:
            found = _connector_state(ctx, record.connector)
            connector_state = None if found is None else found[0]
            if record.status == SEAL_APPLIED and connector_state is not None:
                # An applied seal has no seal kinds of its own: it is scanned for its
                # connector, so what comes next is what comes next for the connector.
                following = expected_next(CONNECTOR, connector_state)
        return replace(
            unknown,
            known=True,
            state=record.status,
            custodian=record.holder,
            connector=record.connector,
            connector_state=connector_state,
            expected_next=following,
        )
    if reading.kind == CONNECTOR:
        readings = connector_readings(raw)
        known = _known_connectors(ctx, readings)
        chosen = next((s for s in readings if s in known), readings[0] if readings else reading.identifier)
        assert chosen is not None
        texts = candidates(raw)
        normalised = next((t for t in texts if _literal_connector(t) == chosen), reading.reading)
        repaired = not texts or _literal_connector(texts[0]) != chosen
        unknown = ScanResult(raw, normalised, CONNECTOR, chosen, chosen, repaired, known=False)
        found = _connector_state(ctx, chosen) if chosen in known else None
        if found is None:
            return unknown
        state, custodian = found
        return replace(
            unknown,
            known=True,
            state=state,
            custodian=custodian,
            connector=chosen,
            connector_state=state,
            expected_next=expected_next(CONNECTOR, state),
        )
    return ScanResult(raw, reading.reading, UNKNOWN, None, None, False, False)
