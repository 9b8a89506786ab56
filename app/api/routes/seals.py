"""Seals: their lifecycle status, holder, connector, and verified history (custody readers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.paging import CONNECTOR_PATTERN, SEAL_PATTERN, Limit, Offset, next_offset
from app.api.schemas import SealDetail, SealList, SealStatus
from app.api.security import CustodyReader, Ledger
from app.services import custody_views

router = APIRouter(prefix="/seals", tags=["seals"])


@router.get("", response_model=SealList, summary="List seals (custody readers)")
def list_seals(
    ctx: Ledger,
    caller: CustodyReader,
    status: Annotated[SealStatus | None, Query(description="Only seals with this status.")] = None,
    connector: Annotated[
        str | None,
        Query(max_length=130, pattern=CONNECTOR_PATTERN, description="Only seals of this connector."),
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> SealList:
    ctx.require_initialised()
    items = custody_views.list_seals(ctx, status=status, connector=connector, limit=limit, offset=offset)
    return SealList.model_validate(
        {
            "items": items,
            "limit": limit,
            "offset": offset,
            "next_offset": next_offset(offset, limit, len(items)),
        }
    )


@router.get("/{seal_id}", response_model=SealDetail, summary="One seal with its verified history")
def seal(
    ctx: Ledger,
    caller: CustodyReader,
    seal_id: Annotated[str, Path(pattern=SEAL_PATTERN, description="Seal id with its check character.")],
) -> SealDetail:
    """Status, holder, the person it was issued to, its connector, and its life in the log (batch
    receipt, issue, application and removal), each entry verified as for connectors. A seal id
    whose check character does not match is a 400 `input.identifier`."""
    ctx.require_initialised()
    return SealDetail.model_validate(custody_views.seal_detail(ctx, seal_id))
