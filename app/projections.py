"""Projections: current-state tables kept in step with the log.

* At append time :class:`CustodyProjection` feeds the rules exactly the
  records they ask for (loaded from the tables inside the append
  transaction) and writes back the ones that changed — in the same
  transaction, so the tables never disagree with a committed log.
* :func:`rebuild_projections` throws the tables away and replays the log.
* :func:`compare_projections` reports every row that differs from a replay
  (used by ``custody verify``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, delete, select, text

from app.db import is_sqlite, write_transaction
from app.errors import IntegrityFailure
from app.logstore import ADVISORY_LOCK_KEY, TRUST_KIND_NAMES
from app.tables import CONNECTORS, ENTRIES, INCIDENTS, PARTIES, PARTY_KEYS, PROJECTION_META, SEALS
from ledger.custody.records import (
    ConnectorRecord,
    CustodyState,
    IncidentRecord,
    Records,
    SealRecord,
    custody,
)
from ledger.custody.refs import references
from ledger.entry import Entry
from ledger.errors import Finding, LedgerError
from ledger.merkle import hash_leaf
from ledger.state import Context, LedgerState, admit, apply
from ledger.statement import Statement
from ledger.trust import key_description

PROJECTION_NAME = "custody"
_CHUNK = 900  # stays under SQLite's bound-parameter limit with room to spare
R = TypeVar("R")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def connector_row(record: ConnectorRecord) -> dict[str, Any]:
    return {
        "subject": record.subject,
        "vendor": record.vendor,
        "serial": record.serial,
        "state": record.state,
        "seal_status": record.seal_status,
        "custodian": record.custodian,
        "location": record.location,
        "practice": record.practice,
        "cert_not_after": record.cert_not_after,
        "open_incident": record.open_incident,
        "last_index": record.history[-1].index if record.history else 0,
        "record": _dumps(record.to_json()),
    }


def seal_row(record: SealRecord) -> dict[str, Any]:
    return {
        "seal_id": record.seal_id,
        "status": record.status,
        "holder": record.holder,
        "issued_to": record.issued_to,
        "connector": record.connector,
        "last_index": record.last_index,
        "record": _dumps(record.to_json()),
    }


def incident_row(record: IncidentRecord) -> dict[str, Any]:
    return {
        "incident_id": record.incident_id,
        "connector": record.connector,
        "category": record.category,
        "status": record.status,
        "reported_by": record.reported_by,
        "opened_index": record.opened_index,
        "record": _dumps(record.to_json()),
    }


def party_rows(
    state: LedgerState, parties: Iterable[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    wanted = set(parties)
    rows = [
        {
            "subject": p.subject,
            "name": p.name,
            "roles": _dumps(sorted(p.roles)),
            "registered_at": p.registered_at,
        }
        for p in state.parties.values()
        if p.subject in wanted
    ]
    keys = []
    for key in state.keys.values():
        if key.party in wanted:
            described = key_description(key.public_key)
            keys.append(
                {
                    "keyid": key.keyid,
                    "party": key.party,
                    "algorithm": described["algorithm"],
                    "spki": described["spki"],
                    "added_at": key.added_at,
                    "revoked_at": key.revoked_at,
                }
            )
    return rows, keys


def upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], key: str) -> None:
    if not rows:
        return
    if is_sqlite(conn):
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[key], set_={c.name: statement.excluded[c.name] for c in table.c if c.name != key}
    )
    for begin in range(0, len(rows), 5000):
        conn.execute(statement, list(rows[begin : begin + 5000]))


def _loader(
    conn: Connection, table: Table, key: str, decode: Callable[[dict[str, Any]], R]
) -> Callable[[Iterable[str]], dict[str, R]]:
    def load(keys: Iterable[str]) -> dict[str, R]:
        wanted = list(keys)
        found: dict[str, R] = {}
        for begin in range(0, len(wanted), _CHUNK):
            rows = conn.execute(
                select(table.c[key], table.c.record).where(table.c[key].in_(wanted[begin : begin + _CHUNK]))
            )
            for ident, record in rows:
                found[str(ident)] = decode(json.loads(record))
        return found

    return load


class CustodyProjection:
    """The projection hook of :class:`app.logstore.LogStore`."""

    def hydrate(self, conn: Connection, state: LedgerState, statements: Sequence[Statement]) -> None:
        records = CustodyState(
            connectors=Records(_loader(conn, CONNECTORS, "subject", ConnectorRecord.from_json)),
            seals=Records(_loader(conn, SEALS, "seal_id", SealRecord.from_json)),
            incidents=Records(_loader(conn, INCIDENTS, "incident_id", IncidentRecord.from_json)),
        )
        # One query per table for the whole batch instead of one per record.
        refs = references(list(statements))
        records.connectors.get_many(sorted(refs.connectors))
        records.seals.get_many(sorted(refs.seals))
        records.incidents.get_many(sorted(refs.incidents))
        state.extra["custody"] = records

    def persist(self, conn: Connection, state: LedgerState, admitted: Sequence[Context]) -> None:
        store = custody(state)
        upsert(conn, CONNECTORS, [connector_row(r) for _, r in store.connectors.changed_records()], "subject")
        upsert(conn, SEALS, [seal_row(r) for _, r in store.seals.changed_records()], "seal_id")
        upsert(
            conn, INCIDENTS, [incident_row(r) for _, r in store.incidents.changed_records()], "incident_id"
        )
        touched = set()
        for ctx in admitted:
            if ctx.statement.kind in TRUST_KIND_NAMES:
                touched.add(
                    ctx.statement.data["admin"]
                    if ctx.statement.kind == "ledger.genesis"
                    else ctx.statement.subject
                )
        if touched:
            parties, keys = party_rows(state, touched)
            upsert(conn, PARTIES, parties, "subject")
            upsert(conn, PARTY_KEYS, keys, "keyid")
        upsert(conn, PROJECTION_META, [{"name": PROJECTION_NAME, "log_size": admitted[-1].index + 1}], "name")


# --------------------------------------------------------------------------
# Replay, rebuild, compare.


def replay(entries: Iterable[bytes]) -> LedgerState:
    """State after replaying stored entries (signatures are the verifier's job)."""
    state = LedgerState()
    for raw in entries:
        entry = Entry.parse(raw)
        try:
            ctx = admit(
                state, entry.index, entry.envelope, entry.statement, entry.recorded_at, check_crypto=False
            )
        except LedgerError as exc:
            raise IntegrityFailure(
                f"entry {entry.index} no longer replays ({exc.code}: {exc.message}); run `custody verify`"
            ) from exc
        apply(state, ctx, hash_leaf(raw))
    return state


def expected_rows(state: LedgerState) -> dict[str, dict[str, dict[str, Any]]]:
    store = custody(state)
    parties, keys = party_rows(state, state.parties)
    return {
        "connectors": {r.subject: connector_row(r) for _, r in store.connectors},
        "seals": {r.seal_id: seal_row(r) for _, r in store.seals},
        "incidents": {r.incident_id: incident_row(r) for _, r in store.incidents},
        "parties": {r["subject"]: r for r in parties},
        "party_keys": {r["keyid"]: r for r in keys},
    }


_TABLES: dict[str, tuple[Table, str]] = {
    "connectors": (CONNECTORS, "subject"),
    "seals": (SEALS, "seal_id"),
    "incidents": (INCIDENTS, "incident_id"),
    "parties": (PARTIES, "subject"),
    "party_keys": (PARTY_KEYS, "keyid"),
}


def _stored_rows(engine: Engine, table: Table, key: str) -> Iterator[dict[str, Any]]:
    position: str | None = None
    while True:
        with engine.connect() as conn:
            query = select(table).order_by(table.c[key]).limit(5000)
            if position is not None:
                query = query.where(table.c[key] > position)
            rows = [dict(r._mapping) for r in conn.execute(query)]
        if not rows:
            return
        yield from rows
        position = rows[-1][key]


def compare_projections(engine: Engine, state: LedgerState) -> list[Finding]:
    """Every projection row that differs from the replayed state."""
    findings: list[Finding] = []
    expected = expected_rows(state)
    for name, (table, key) in _TABLES.items():
        wanted = expected[name]
        for row in _stored_rows(engine, table, key):
            ident = str(row[key])
            should = wanted.pop(ident, None)
            if should is None:
                findings.append(
                    Finding(None, "projection.extra", f"{name} row {ident} has no counterpart in the log")
                )
                continue
            differing = sorted(c for c in should if should[c] != row.get(c))
            if differing:
                findings.append(
                    Finding(
                        None,
                        "projection.mismatch",
                        f"{name} row {ident} differs from the replay in {', '.join(differing)}",
                        _dumps({c: should[c] for c in differing if c != "record"}),
                        _dumps({c: row.get(c) for c in differing if c != "record"}),
                    )
                )
        for ident in sorted(wanted):
            findings.append(Finding(None, "projection.missing", f"{name} row {ident} is missing"))
    return findings


def rebuild_projections(engine: Engine) -> int:
    """Replace every projection row with a replay of the log; return the log size."""
    with write_transaction(engine) as conn:
        if not is_sqlite(conn):
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})

        def entries() -> Iterator[bytes]:
            position = 0
            while True:
                rows = conn.execute(
                    select(ENTRIES.c.idx, ENTRIES.c.raw)
                    .where(ENTRIES.c.idx >= position)
                    .order_by(ENTRIES.c.idx)
                    .limit(5000)
                ).all()
                if not rows:
                    return
                for idx, raw in rows:
                    if idx != position:
                        raise IntegrityFailure(f"entry {position} is missing; run `custody verify`")
                    yield bytes(raw)
                    position += 1

        state = replay(entries())
        for table, _ in _TABLES.values():
            conn.execute(delete(table))
        rows = expected_rows(state)
        for name, (table, key) in _TABLES.items():
            upsert(conn, table, list(rows[name].values()), key)
        upsert(conn, PROJECTION_META, [{"name": PROJECTION_NAME, "log_size": state.size}], "name")
        return state.size
