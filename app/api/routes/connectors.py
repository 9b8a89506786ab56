"""Connectors: current custody state, certificates, and the verified history.

Roles: every custody reader (admin, manufacturer, warehouse, carrier,
technician, auditor). Practice tokens are refused (403) — a practice sees
its connector through the technician and its own master data, not the
custody state of the fleet; we chose not to open "its own installations"
to practice tokens because the ledger links a practice only by a salted
digest, which the token's party cannot be matched against reliably.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.paging import CONNECTOR_PATTERN, PARTY_PATTERN, Limit, Offset, next_offset
from app.api.schemas import ConnectorDetail, ConnectorList, ConnectorState
from app.api.security import CustodyReader, Ledger
from app.services import custody_views

router = APIRouter(prefix="/connectors", tags=["connectors"])

ConnectorId = Annotated[
    str,
    Path(
        min_length=3,
        max_length=130,
        pattern=CONNECTOR_PATTERN,
        description="`connector:VENDOR:SERIAL` or `VENDOR:SERIAL` (URL-encode the colons if you like).",
    ),
]


@router.get("", response_model=ConnectorList, summary="List connectors (custody readers)")
def list_connectors(
    ctx: Ledger,
    caller: CustodyReader,
    state: Annotated[ConnectorState | None, Query(description="Only connectors in this state.")] = None,
    custodian: Annotated[
        str | None, Query(max_length=80, pattern=PARTY_PATTERN, description="Only those held by this party.")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ConnectorList:
    """Connectors in subject order with state, seal status, custodian and earliest certificate expiry."""
    ctx.require_initialised()
    items = custody_views.list_connectors(ctx, state=state, custodian=custodian, limit=limit, offset=offset)
    return ConnectorList.model_validate(
        {
            "items": items,
            "limit": limit,
            "offset": offset,
            "next_offset": next_offset(offset, limit, len(items)),
        }
    )


@router.get("/{subject}", response_model=ConnectorDetail, summary="One connector with its verified history")
def connector(ctx: Ledger, caller: CustodyReader, subject: ConnectorId) -> ConnectorDetail:
    """State, custodian, location and bin, seals and seal status, gSMC-K certificates with days
    remaining and expiry status (`expired`, `due` within 180 days, `ok`), open incident, last seal
    inspection, and every entry about the connector. Each entry's verification status is computed
    here from its stored bytes: every signature verifies under a key valid for its party at that
    index, and its inclusion proof leads to the root of the latest signed checkpoint."""
    ctx.require_initialised()
    return ConnectorDetail.model_validate(custody_views.connector_detail(ctx, subject))
