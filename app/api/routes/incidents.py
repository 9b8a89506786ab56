"""Incidents: reported, quarantined and released (custody readers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.paging import CONNECTOR_PATTERN, Limit, Offset, next_offset
from app.api.schemas import IncidentList, IncidentOut, IncidentStatus
from app.api.security import CustodyReader, Ledger
from app.services import custody_views

router = APIRouter(prefix="/incidents", tags=["incidents"])


@router.get("", response_model=IncidentList, summary="List incidents (custody readers)")
def list_incidents(
    ctx: Ledger,
    caller: CustodyReader,
    status: Annotated[IncidentStatus | None, Query(description="Only incidents with this status.")] = None,
    connector: Annotated[
        str | None, Query(max_length=130, pattern=CONNECTOR_PATTERN, description="Only this connector's.")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> IncidentList:
    """Incidents in the order they were opened."""
    ctx.require_initialised()
    items = custody_views.list_incidents(ctx, status=status, connector=connector, limit=limit, offset=offset)
    return IncidentList.model_validate(
        {
            "items": items,
            "limit": limit,
            "offset": offset,
            "next_offset": next_offset(offset, limit, len(items)),
        }
    )


@router.get("/{incident_id}", response_model=IncidentOut, summary="One incident")
def incident(
    ctx: Ledger,
    caller: CustodyReader,
    incident_id: Annotated[str, Path(pattern=r"^INC-[0-9]{1,15}$", description="`INC-<index>`.")],
) -> IncidentOut:
    ctx.require_initialised()
    return IncidentOut.model_validate(custody_views.incident_detail(ctx, incident_id))
