"""Parties, their roles and keys — readable by every token holder.

Who may sign what is public within the ledger (a verifier replays it from
the log anyway), and clients need the keys to check signatures themselves.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from app.api.paging import PARTY_PATTERN, Limit, Offset, next_offset
from app.api.schemas import PartyList, PartyOut
from app.api.security import Caller, Ledger
from app.services import custody_views

router = APIRouter(prefix="/parties", tags=["parties"])
Role = Literal["admin", "manufacturer", "warehouse", "carrier", "technician", "practice", "auditor"]


@router.get("", response_model=PartyList, summary="List parties with roles and keys")
def list_parties(
    ctx: Ledger,
    caller: Caller,
    role: Annotated[Role | None, Query(description="Only parties holding this role.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> PartyList:
    """Parties in id order; each key with its algorithm, id and the log indices it was added
    (valid from) and revoked at."""
    ctx.require_initialised()
    items = custody_views.list_parties(ctx, role=role, limit=limit, offset=offset)
    return PartyList.model_validate(
        {
            "items": items,
            "limit": limit,
            "offset": offset,
            "next_offset": next_offset(offset, limit, len(items)),
        }
    )


@router.get("/{party}", response_model=PartyOut, summary="One party with roles and keys")
def party(
    ctx: Ledger,
    caller: Caller,
    party: Annotated[str, Path(max_length=70, pattern=PARTY_PATTERN, description="`party:ID` or `ID`.")],
) -> PartyOut:
    ctx.require_initialised()
    return PartyOut.model_validate(custody_views.party_detail(ctx, party))
