"""Read models of custody state for the API and pages: connectors, seals, incidents, parties.

Everything here is read from the projections (current state) and the log
(histories, verified by :mod:`app.services.history`); nothing is decided
here that the ledger decides. Pagination is by ``limit``/``offset`` in a
stable order (the natural key).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app import queries
from app.services.context import LedgerContext
from app.services.custody import connector_subject, party_ref
from app.services.history import connector_history, seal_history
from app.tables import INCIDENTS, PARTIES, PARTY_KEYS
from ledger.custody.ids import parse_seal_id
from ledger.custody.records import ConnectorRecord, IncidentRecord
from ledger.errors import NotFound
from ledger.ids import check_subject
from ledger.times import format_timestamp, parse_timestamp

#: A certificate expiring within this window is "due" (exchange or runtime extension).
DUE_WINDOW = timedelta(days=180)
EXPIRED, DUE, OK = "expired", "due", "ok"


def expiry_status(not_after: str, now: datetime) -> tuple[int, str]:
    """Whole days left (negative once expired) and ``expired`` / ``due`` (≤ 180 days) / ``ok``."""
    moment = parse_timestamp(not_after)
    days = (moment - now) // timedelta(days=1)
    if moment <= now:
        return days, EXPIRED
    if moment <= now + DUE_WINDOW:
        return days, DUE
    return days, OK


def parse_connector(identifier: str) -> str:
    """``connector:VENDOR:SERIAL`` or ``VENDOR:SERIAL`` → the subject; refuse anything else."""
    return check_subject(connector_subject(identifier.strip()), "connector", "connector")


def connector_record(ctx: LedgerContext, identifier: str) -> ConnectorRecord:
    return queries.connector(ctx.engine, parse_connector(identifier))


def connector_fields(record: ConnectorRecord) -> dict[str, Any]:
    """What a connector is and where it stands: the fields every connector view starts with."""
    return {
        "connector": record.subject,
        "vendor": record.vendor,
        "serial": record.serial,
        "product_code": record.product_code,
        "state": record.state,
        "custodian": record.custodian,
        "location": record.location,
        "bin": record.bin,
        "practice": record.practice,
        "firmware": record.firmware,
        "smck_bound": record.smck_bound,
        "seals": sorted(record.seals),
        "seal_status": record.seal_status,
    }


def inspection_view(record: ConnectorRecord) -> dict[str, Any] | None:
    """The connector's last seal inspection, or None."""
    inspection = record.last_inspection
    if inspection is None:
        return None
    return {
        "index": inspection.index,
        "by": inspection.by,
        "place": inspection.place,
        "at": inspection.at,
        "expected": list(inspection.expected),
        "observed": list(inspection.observed),
        "results": dict(inspection.results),
        "conformant": inspection.conformant,
    }


def connector_detail(ctx: LedgerContext, identifier: str, now: datetime | None = None) -> dict[str, Any]:
    """State, custody, seals, certificates with expiry status, incident, inspection, verified history."""
    record = connector_record(ctx, identifier)
    moment = now or ctx.clock()
    certificates = []
    for card in record.certificates:
        days, status = expiry_status(card.not_after, moment)
        certificates.append(
            {"iccsn": card.iccsn, "not_after": card.not_after, "days_remaining": days, "status": status}
        )
    expiry = None
    if record.cert_not_after is not None:
        days, status = expiry_status(record.cert_not_after, moment)
        expiry = {"not_after": record.cert_not_after, "days_remaining": days, "status": status}
    incident = None
    if record.open_incident:
        incident = incident_view(queries.incident(ctx.engine, record.open_incident))
    history = connector_history(ctx, record)
    return {
        **connector_fields(record),
        "certificates": certificates,
        "expiry": expiry,
        "as_of": format_timestamp(moment),
        "open_incident": incident,
        "last_inspection": inspection_view(record),
        "last_at": record.last_at,
        "verified_against": history.checkpoint.as_dict(),
        "all_verified": history.all_verified,
        "history": [e.as_dict() for e in history.entries],
    }


def list_connectors(
    ctx: LedgerContext,
    *,
    state: str | None = None,
    custodian: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    holder = None if custodian is None else party_ref(custodian.strip())
    rows = queries.connectors(ctx.engine, state=state, custodian=holder, limit=limit, offset=offset)
    return [
        {
            "connector": r["subject"],
            "vendor": r["vendor"],
            "serial": r["serial"],
            "state": r["state"],
            "seal_status": r["seal_status"],
            "custodian": r["custodian"],
            "location": r["location"],
            "cert_not_after": r["cert_not_after"],
            "open_incident": r["open_incident"],
            "last_index": r["last_index"],
        }
        for r in rows
    ]


# --------------------------------------------------------------------------
# Seals


def seal_row_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "seal_id": row["seal_id"],
        "status": row["status"],
        "holder": row["holder"],
        "issued_to": row["issued_to"],
        "connector": row["connector"],
        "last_index": row["last_index"],
    }


def list_seals(
    ctx: LedgerContext,
    *,
    status: str | None = None,
    connector: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    subject = None if connector is None else parse_connector(connector)
    rows = queries.seals(ctx.engine, status=status, connector=subject, limit=limit, offset=offset)
    return [seal_row_view(r) for r in rows]


def seal_detail(ctx: LedgerContext, seal_id: str) -> dict[str, Any]:
    parse_seal_id(seal_id)
    record = queries.seal(ctx.engine, seal_id)
    connector = None
    if record.connector is not None:
        try:
            connector = queries.connector(ctx.engine, record.connector)
        except NotFound:
            connector = None
    history = seal_history(ctx, record, connector)
    return {
        "seal_id": record.seal_id,
        "status": record.status,
        "holder": record.holder,
        "issued_to": record.issued_to,
        "connector": record.connector,
        "received_index": record.received_index,
        "last_index": record.last_index,
        "connector_state": None if connector is None else connector.state,
        "verified_against": history.checkpoint.as_dict(),
        "all_verified": history.all_verified,
        "history": [e.as_dict() for e in history.entries],
    }


# --------------------------------------------------------------------------
# Incidents


def incident_view(record: IncidentRecord) -> dict[str, Any]:
    return {
        "incident_id": record.incident_id,
        "connector": record.connector,
        "category": record.category,
        "status": record.status,
        "reported_by": record.reported_by,
        "opened_index": record.opened_index,
        "description": record.description,
        "quarantined_by": record.quarantined_by,
        "released_by": record.released_by,
        "investigation": record.investigation,
        "closed_index": record.closed_index,
    }


def list_incidents(
    ctx: LedgerContext,
    *,
    status: str | None = None,
    connector: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    query = select(INCIDENTS.c.record).order_by(INCIDENTS.c.opened_index).limit(limit).offset(offset)
    if status is not None:
        query = query.where(INCIDENTS.c.status == status)
    if connector is not None:
        query = query.where(INCIDENTS.c.connector == parse_connector(connector))
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [incident_view(IncidentRecord.from_json(json.loads(r))) for (r,) in rows]


def incident_detail(ctx: LedgerContext, incident_id: str) -> dict[str, Any]:
    return incident_view(queries.incident(ctx.engine, incident_id))


# --------------------------------------------------------------------------
# Parties and keys


def _keys_of(ctx: LedgerContext, parties: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {p: [] for p in parties}
    if not parties:
        return out
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(PARTY_KEYS).where(PARTY_KEYS.c.party.in_(parties)).order_by(PARTY_KEYS.c.added_at)
        ).all()
    for row in rows:
        m = row._mapping
        out[m["party"]].append(
            {
                "keyid": m["keyid"],
                "algorithm": m["algorithm"],
                "spki": m["spki"],
                "added_at": m["added_at"],
                "revoked_at": m["revoked_at"],
                "active": m["revoked_at"] is None,
            }
        )
    return out


def _party_view(row: Any, keys: list[dict[str, Any]]) -> dict[str, Any]:
    m = row._mapping
    return {
        "party": m["subject"],
        "name": m["name"],
        "roles": sorted(json.loads(m["roles"])),
        "registered_at": m["registered_at"],
        "keys": keys,
    }


def list_parties(
    ctx: LedgerContext, *, role: str | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    query = select(PARTIES).order_by(PARTIES.c.subject)
    with ctx.engine.connect() as conn:
        if role is None:
            rows = conn.execute(query.limit(limit).offset(offset)).all()
        else:
            # Roles are a JSON list per party: filter in Python (parties are few).
            matching = [r for r in conn.execute(query).all() if role in json.loads(r._mapping["roles"])]
            rows = matching[offset : offset + limit]
    keys = _keys_of(ctx, [r._mapping["subject"] for r in rows])
    return [_party_view(r, keys[r._mapping["subject"]]) for r in rows]


def party_detail(ctx: LedgerContext, party: str) -> dict[str, Any]:
    subject = check_subject(party_ref(party.strip()), "party", "party")
    with ctx.engine.connect() as conn:
        row = conn.execute(select(PARTIES).where(PARTIES.c.subject == subject)).first()
    if row is None:
        raise NotFound(f"unknown party {subject}")
    return _party_view(row, _keys_of(ctx, [subject])[subject])
