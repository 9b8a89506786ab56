"""Read-side queries over projections and the log (for CLI, API and pages)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from app.tables import CONNECTORS, ENTRIES, HANDOVER_OFFERS, INCIDENTS, SEALS
from ledger.custody.records import ConnectorRecord, IncidentRecord, SealRecord
from ledger.entry import Entry
from ledger.errors import NotFound


def connector(engine: Engine, subject: str) -> ConnectorRecord:
    with engine.connect() as conn:
        record = conn.execute(select(CONNECTORS.c.record).where(CONNECTORS.c.subject == subject)).scalar()
    if record is None:
        raise NotFound(f"unknown connector {subject}")
    return ConnectorRecord.from_json(json.loads(record))


def seal(engine: Engine, seal_id: str) -> SealRecord:
    with engine.connect() as conn:
        record = conn.execute(select(SEALS.c.record).where(SEALS.c.seal_id == seal_id)).scalar()
    if record is None:
        raise NotFound(f"unknown seal {seal_id}")
    return SealRecord.from_json(json.loads(record))


def incident(engine: Engine, incident_id: str) -> IncidentRecord:
    with engine.connect() as conn:
        record = conn.execute(
            select(INCIDENTS.c.record).where(INCIDENTS.c.incident_id == incident_id)
        ).scalar()
    if record is None:
        raise NotFound(f"unknown incident {incident_id}")
    return IncidentRecord.from_json(json.loads(record))


def connectors(
    engine: Engine,
    *,
    state: str | None = None,
    custodian: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[dict[str, Any]]:
    query = select(CONNECTORS).order_by(CONNECTORS.c.subject).limit(limit).offset(offset)
    if state is not None:
        query = query.where(CONNECTORS.c.state == state)
    if custodian is not None:
        query = query.where(CONNECTORS.c.custodian == custodian)
    with engine.connect() as conn:
        return [{k: v for k, v in r._mapping.items() if k != "record"} for r in conn.execute(query)]


def seals(
    engine: Engine,
    *,
    status: str | None = None,
    connector: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[dict[str, Any]]:
    query = select(SEALS).order_by(SEALS.c.seal_id).limit(limit).offset(offset)
    if status is not None:
        query = query.where(SEALS.c.status == status)
    if connector is not None:
        query = query.where(SEALS.c.connector == connector)
    with engine.connect() as conn:
        return [{k: v for k, v in r._mapping.items() if k != "record"} for r in conn.execute(query)]


def incidents(engine: Engine, *, status: str | None = None) -> list[IncidentRecord]:
    query = select(INCIDENTS.c.record).order_by(INCIDENTS.c.opened_index)
    if status is not None:
        query = query.where(INCIDENTS.c.status == status)
    with engine.connect() as conn:
        return [IncidentRecord.from_json(json.loads(r)) for (r,) in conn.execute(query)]


def counts(engine: Engine) -> dict[str, dict[str, int]]:
    with engine.connect() as conn:
        by_state: dict[str, int] = dict(
            conn.execute(select(CONNECTORS.c.state, func.count()).group_by(CONNECTORS.c.state)).all()
        )
        by_seal: dict[str, int] = dict(
            conn.execute(select(SEALS.c.status, func.count()).group_by(SEALS.c.status)).all()
        )
        by_incident: dict[str, int] = dict(
            conn.execute(select(INCIDENTS.c.status, func.count()).group_by(INCIDENTS.c.status)).all()
        )
        offers: dict[str, int] = dict(
            conn.execute(
                select(HANDOVER_OFFERS.c.status, func.count()).group_by(HANDOVER_OFFERS.c.status)
            ).all()
        )
    return {"connectors": by_state, "seals": by_seal, "incidents": by_incident, "handovers": offers}


@dataclass(frozen=True)
class HistoryEntry:
    index: int
    kind: str
    at: str
    recorded_at: str
    by: str
    place: str | None
    signers: list[str]
    data: dict[str, Any]
    leaf_hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "at": self.at,
            "recorded_at": self.recorded_at,
            "by": self.by,
            "place": self.place,
            "signers": self.signers,
            "data": self.data,
            "leaf_hash": self.leaf_hash,
        }


def history(engine: Engine, subject: str) -> list[HistoryEntry]:
    """Every entry about ``subject`` in log order, decoded from the verbatim bytes."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(ENTRIES.c.raw).where(ENTRIES.c.subject == subject).order_by(ENTRIES.c.idx)
        ).all()
    return [_history_entry(bytes(raw)) for (raw,) in rows]


def _history_entry(raw: bytes) -> HistoryEntry:
    from ledger.merkle import hash_leaf

    entry = Entry.parse(raw)
    statement = entry.statement
    return HistoryEntry(
        entry.index,
        statement.kind,
        statement.at,
        entry.recorded_at,
        statement.by,
        statement.place,
        [s.keyid for s in entry.envelope.signatures],
        dict(statement.data),
        hash_leaf(raw).hex(),
    )


SEAL_KINDS_ON_CONNECTORS = ("seal.applied", "seal.removed")


def seal_history(engine: Engine, seal_id: str) -> list[HistoryEntry]:
    """A seal's life in log order: its batch receipt, the entries about it, and the
    applying and removing entries on the connector it was put on."""
    record = seal(engine, seal_id)
    found = {h.index: h for h in history(engine, f"seal:{seal_id}")}
    if record.received_index not in found:
        with engine.connect() as conn:
            raw = conn.execute(select(ENTRIES.c.raw).where(ENTRIES.c.idx == record.received_index)).scalar()
        if raw is not None:
            found[record.received_index] = _history_entry(bytes(raw))
    if record.connector is not None:
        for item in history(engine, record.connector):
            if item.kind in SEAL_KINDS_ON_CONNECTORS and seal_id in item.data.get("seals", ()):
                found[item.index] = item
    return [found[i] for i in sorted(found)]
